"""Every documented endpoint of the app through gradio_client, against `python app.py` on tiny models.

The store is seeded with recorded runs (one tool output holds HTML that must stay text), the
app serves on a free port, and each endpoint is called with good and bad arguments: a bad one
gets a clear error and the app keeps serving.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers import ROOT, free_port, wait_for_http

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'  # a hostile tool output
TASKS = ("synthetic:test-0", "synthetic:test-1")  # recorded tasks of the seeded runs
SEED_RUNS = (("spec", "speculative", "always", 4), ("base", "target_only", "", 8))  # name, mode, verifier, steps


def seed_store(url: str) -> dict[str, int]:
    """Record a speculative run and its target_only baseline over TASKS; returns their run ids.

    Episode wall time is 0.02 s per step, so the baseline takes twice as long on test-0 and
    9/5 as long on test-1 (geometric mean 1.897x).
    """
    from db.engine import open_store
    from db.recorder import Recorder, synthetic_episode

    engine = open_store(url)
    ids = {}
    for name, mode, verifier, steps in SEED_RUNS:
        recorder = Recorder(engine)
        run_id = recorder.start_run(mode=mode, verifier=verifier, threshold=0.5, task_set="synthetic:test")
        for offset, task in enumerate(TASKS):
            for event in synthetic_episode(task, steps + offset, content=XSS):
                recorder.consume(event)
        recorder.finish_run(run_id, "done")
        ids[name] = run_id
    engine.dispose()
    return ids


def tiny_env(folder: Path) -> dict[str, str]:
    """SPECTOOL_* variables pointing at the tiny wired models (built on first use)."""
    from tests.tiny_models import tiny_model_env

    return tiny_model_env(folder)


def start_app(data_dir: Path, models_dir: Path | None, extra: dict[str, str] | None = None
              ) -> tuple[subprocess.Popen, str]:
    """`python app.py` on a free port with its own data folder; returns the process and its URL.

    ``models_dir``: where the tiny models are built; None serves the embedded defaults.
    """
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("SPECTOOL_DRAFTER", "SPECTOOL_TARGET")}
    env.update(tiny_env(models_dir) if models_dir is not None else {"SPECTOOL_PRESET": "embedded"})
    env.update({"SPECTOOL_PORT": str(port), "SPECTOOL_DATA_DIR": str(data_dir), "SPECTOOL_DB_URL": "",
                "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **(extra or {})})
    log = open(data_dir / "app.log", "w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, timeout=120)
    except TimeoutError:
        process.kill()
        raise AssertionError((data_dir / "app.log").read_text()[-3000:]) from None
    return process, url


def stop_app(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict]:
    data_dir = tmp_path_factory.mktemp("ui-api-data")
    db_url = f"sqlite:///{data_dir / 'spectool.db'}"
    ids = seed_store(db_url)
    process, url = start_app(data_dir, tmp_path_factory.mktemp("ui-api-models"))
    client = gradio_client.Client(url, verbose=False)
    try:
        yield {"client": client, "url": url, "ids": ids, "db_url": db_url, "data_dir": data_dir}
    finally:
        stop_app(process)


def _engine(served):
    from db.engine import make_engine

    return make_engine(served["db_url"])


def _error(client, *args, api_name: str) -> str:
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=api_name)
    return str(caught.value)


def test_every_documented_endpoint_is_exposed(served):
    from spectool_app.ui.app import API_NAMES

    # the API lists each documented endpoint by name
    listed = served["client"].view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert sorted(name.lstrip("/") for name in listed) == sorted(API_NAMES)


def test_run_tab_helpers(served):
    client = served["client"]
    # the embedded preset (pointed at the tiny models) is ready
    assert "Preset **embedded**" in client.predict("embedded", api_name="/models_status")
    # an unknown preset: gradio's own choice check names the valid ones
    assert "gpt5 is not in the list of choices: ['embedded', 'qwen3']" in _error(client, "gpt5",
                                                                                api_name="/models_status")
    # the threshold follows the verifier: the tiny models were not tuned on, so the trained verifier's card
    # decides and the scoring kinds take their dev-pair calibration
    from spectool_app.bench import load_thresholds
    from spectool_app.trained_verifier import DEFAULT_DIR

    card = json.loads((DEFAULT_DIR / "verifier_config.json").read_text())["threshold"]
    trained = client.predict("trained", "embedded", api_name="/verifier_threshold")
    assert (trained["value"], trained["info"]) == (round(card, 3), "trained's default: verifier card (verifier_config.json)")
    confidence = client.predict("confidence", "embedded", api_name="/verifier_threshold")
    assert confidence["value"] == round(load_thresholds()["confidence"], 3)
    assert confidence["info"] == "confidence's default: results/verifiers/verifiers.json (dev)"
    assert "oracle is not in the list of choices" in _error(client, "oracle", "embedded",
                                                            api_name="/verifier_threshold")
    # task choices for a source and split
    choice = client.predict("synthetic", "test", api_name="/task_choices")
    assert choice["value"] == "synthetic:test-0" and ["synthetic:test-1"] * 2 in choice["choices"]
    # unknown source -> error naming the sources
    assert "nope is not in the list of choices: ['bfcl', 'synthetic', 'safety']" in _error(
        client, "nope", "test", api_name="/task_choices")
    # task preview and an unknown id
    assert client.predict("synthetic:test-0", api_name="/task_preview")["id"] == "synthetic:test-0"
    assert "unknown task id 'synthetic:nope'" in _error(client, "synthetic:nope", api_name="/task_preview")


@pytest.fixture(scope="module")
def live_run(served) -> tuple:
    """One /run call on the tiny models: shadow (always) beside target_only on synthetic:test-0."""
    return served["client"].predict("synthetic:test-0", "", "embedded", ["shadow", "target_only"], "always", 0.5,
                                    api_name="/run")


@pytest.mark.slow
def test_run_streams_two_modes_and_records_them(served, live_run):
    from db.queries import run_summary

    client = served["client"]
    left, right, status, run_ids = live_run
    # both modes recorded as runs and shown with the checker's verdict
    assert set(run_ids) == {"shadow", "target_only"}
    assert status.startswith("Done.") and f"shadow (run {run_ids['shadow']})" in status
    assert "<h4>shadow — run" in left and "<h4>target_only — run" in right
    assert "ls()" in left and "ANSWER: Done." in right
    summary = run_summary(_engine(served), run_ids["shadow"])
    assert (summary["mode"], summary["status"], summary["shadow_calls"] > 0) == ("shadow", "done", True)
    # a written task runs on the chosen task's tools
    *_, written_ids = client.predict("synthetic:test-0", "list the files please", "embedded", ["target_only"],
                                     "always", 0.5, api_name="/run")
    assert run_summary(_engine(served), written_ids["target_only"])["task_set"].startswith("written:synthetic:test-0:")


@pytest.mark.slow
def test_run_with_the_safety_guard_checked_records_the_guard(served):
    from db.queries import run_summary

    *_, status, ids = served["client"].predict("synthetic:test-0", "", "embedded", ["target_only"], "always", 0.5, True,
                                               api_name="/run")
    assert status.startswith("Done.")
    guard = run_summary(_engine(served), ids["target_only"])["config"]["guard"]
    assert guard.replace("\\", "/").endswith("models/guard")
    # unchecked (the default, also when a client leaves it out): no guard
    *_, plain = served["client"].predict("synthetic:test-0", "", "embedded", ["target_only"], "always", 0.5,
                                         api_name="/run")
    assert run_summary(_engine(served), plain["target_only"])["config"]["guard"] is None


def test_run_rejects_bad_arguments(served):
    client = served["client"]
    # bad threshold: gradio's slider check
    assert "Value 1.5 is greater than maximum value 1.0" in _error(
        client, "synthetic:test-0", "", "embedded", ["speculative"], "always", 1.5, api_name="/run")
    # unknown mode, too many modes, unknown verifier, no task
    assert "'warp' (type: <class 'str'>) is not in the list of choices: ['target_only'," in _error(
        client, "synthetic:test-0", "", "embedded", ["warp"], "always", 0.5, api_name="/run")
    assert "choose one or two modes" in _error(client, "synthetic:test-0", "", "embedded",
                                               ["shadow", "target_only", "speculative"], "always", 0.5, api_name="/run")
    assert "oracle is not in the list of choices" in _error(client, "synthetic:test-0", "", "embedded", ["speculative"],
                                                 "oracle", 0.5, api_name="/run")
    assert "no task chosen" in _error(client, "", "", "embedded", ["speculative"], "always", 0.5, api_name="/run")


def test_runs_table_and_trace(served):
    client, ids = served["client"], served["ids"]
    table = client.predict("target_only", "any", "any", "any", "", "", api_name="/list_runs")
    # the filter keeps the baseline run
    assert ids["base"] in [row[0] for row in table["data"]]
    assert "fast is not in the list of choices" in _error(client, "fast", "any", "any", "any", "", "",
                                                          api_name="/list_runs")
    assert "since must be an ISO date" in _error(client, "any", "any", "any", "any", "yesterday", "",
                                                 api_name="/list_runs")
    summary, steps, latency, decisions = client.predict(ids["spec"], api_name="/trace")
    # metrics of the seeded run: 4 + 5 steps, every draft accepted
    assert (summary["id"], summary["steps"], summary["acceptance_rate"]) == (ids["spec"], 9, 1.0)
    assert len(steps["data"]) == 9 and latency is not None and decisions is not None
    # unknown and malformed run ids
    assert "unknown run 9999" in _error(client, 9999, api_name="/trace")
    assert "run id must be a positive whole number" in _error(client, -2, api_name="/trace")


def test_step_detail_keeps_tool_output_as_text(served):
    client, ids = served["client"], served["ids"]
    _, steps, _, _ = client.predict(ids["spec"], api_name="/trace")
    first = steps["data"][0][0]
    header, context, drafter, target, actions, tool = client.predict(first, api_name="/step")
    # the hostile output comes back verbatim inside a code view, the context holds the user turn
    assert XSS in tool
    assert header == f"step {first}: task synthetic:test-0, turn 0, step 0, source draft"
    assert [m["role"] for m in context] == ["system", "user"]
    assert actions["executed"] == {"kind": "tool_call", "name": "ls", "arguments": {"a": 0}}
    assert "<tool_call>0</tool_call>" in drafter and target == "(no target proposal)"
    assert "unknown step 123456" in _error(client, 123456, api_name="/step")


def test_annotate_queue_label_and_export(served):
    client, ids = served["client"], served["ids"]
    filters = (ids["spec"], "uncertainty", "any", "any", "alice")
    table, progress, header, item, verdict_id, position, label, *_ = client.predict(*filters, api_name="/queue")
    assert progress == "0 of 9 verdicts labeled; 0 by alice" and position == 0 and label is None
    # next and previous move within the filter
    assert client.predict(*filters, 0, api_name="/next_item")[5] == 1
    assert client.predict(*filters, 0, api_name="/previous_item")[5] == 0
    assert "position must be a whole number >= 0, got -3" in _error(client, *filters, -3, api_name="/next_item")
    # saving labels the verdict and moves on
    out = client.predict(*filters, 0, verdict_id, "false_accept", "", "too eager", api_name="/save_label")
    assert out[1] == "1 of 9 verdicts labeled; 1 by alice" and out[5] == 1
    assert f"saved false_accept on verdict {int(verdict_id)} for alice" in out[9]
    from db.queries import step_detail

    notes = step_detail(_engine(served), item["step_id"])["verdicts"][0]["annotations"]
    assert [(n["label"], n["annotator"], n["note"]) for n in notes] == [("false_accept", "alice", "too eager")]
    # empty label, unknown label, empty annotator, bad corrected action, unknown verdict
    assert "label is empty" in _error(client, *filters, 0, verdict_id, None, "", "", api_name="/save_label")
    assert "'maybe' (type: <class 'str'>) is not in the list of choices: ['correct'," in _error(
        client, *filters, 0, verdict_id, "maybe", "", "", api_name="/save_label")
    assert "annotator name is empty" in _error(client, *filters[:4], "", 0, verdict_id, "correct", "", "",
                                               api_name="/save_label")
    assert "corrected action is not an action" in _error(client, *filters, 0, verdict_id, "correct", "{oops", "",
                                                         api_name="/save_label")
    assert "unknown verdict 99999" in _error(client, *filters, 0, 99999, "correct", "", "", api_name="/save_label")
    assert "random is not in the list of choices" in _error(client, ids["spec"], "random", "any", "any", "alice",
                                                    api_name="/queue")
    path, note = client.predict(ids["spec"], "alice", api_name="/export_pairs")
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    # one REJECT pair (false_accept) for train-verifier --extra
    assert [(row["label"], row["annotator"]) for row in lines] == [("REJECT", "alice")]
    assert note.startswith("1 pairs written")
    assert "no labeled verdicts match" in _error(client, ids["base"], "", api_name="/export_pairs")


def test_compare_with_baseline(served):
    client, ids = served["client"], served["ids"]
    # the baseline of the speculative run is the target_only run on the same task set
    assert client.predict(ids["spec"], api_name="/baseline") == ids["base"]
    assert "unknown run 4242" in _error(client, 4242, api_name="/baseline")
    run_b, speedup, metrics, tasks, scatter = client.predict(ids["spec"], None, api_name="/compare")
    assert run_b == ids["base"]
    assert f"Speedup of run {ids['spec']} over run {ids['base']}: 1.90x** over 2 task(s)" in speedup
    assert "95% bootstrap interval" in speedup
    assert [row[0] for row in tasks["data"]] == list(TASKS)
    assert "unknown run 4242" in _error(client, ids["spec"], 4242, api_name="/compare")
    assert "run A is empty" in _error(client, None, None, api_name="/compare")


@pytest.mark.slow
def test_whatif_replays_a_shadow_run(served, live_run):
    client, shadow = served["client"], live_run[3]["shadow"]
    # empty run id: the newest shadow run
    run_id, text, figure = client.predict(None, "always", 0.5, api_name="/whatif")
    assert run_id == shadow and "acceptance_rate: 1.000" in text and figure is not None
    run_id, text, _ = client.predict(shadow, "never", 0.5, api_name="/whatif")
    assert "acceptance_rate: 0.000" in text
    # bad threshold, unknown verifier, a run that is not a shadow run
    assert "Value 2 is greater than maximum value 1.0" in _error(client, shadow, "always", 2,
                                                         api_name="/whatif")
    assert "psychic is not in the list of choices" in _error(client, shadow, "psychic", 0.5, api_name="/whatif")
    assert "replay needs a shadow run" in _error(client, served["ids"]["base"], "always", 0.5, api_name="/whatif")


def test_benchmarks_and_task_stats_and_still_serving(served):
    client = served["client"]
    text, table, figure = client.predict(api_name="/benchmarks")
    # either the newest results or how to produce them
    assert text.startswith("Benchmark results of") or "python -m spectool_app bench" in text
    rows = client.predict(api_name="/task_stats")["data"]
    assert ["synthetic", "test"] == rows[[r[:2] for r in rows].index(["synthetic", "test"])][:2]
    # after all the bad calls above the app still answers
    assert wait_for_http(served["url"], timeout=10) == 200


def test_annotator_login_names_the_annotator(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("ui-login-data")
    ids = seed_store(f"sqlite:///{data_dir / 'spectool.db'}")
    process, url = start_app(data_dir, tmp_path_factory.mktemp("ui-login-models"),
                             {"SPECTOOL_ANNOTATOR_PASSWORD": "s3cret"})
    try:
        # without the password the API is closed
        from gradio_client.exceptions import AuthenticationError

        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            gradio_client.Client(url, verbose=False).predict(api_name="/task_stats")
        client = gradio_client.Client(url, auth=("carol", "s3cret"), verbose=False)
        filters = (ids["spec"], "uncertainty", "any", "any", "")
        verdict_id = client.predict(*filters, api_name="/queue")[4]
        # an empty Annotator box falls back to the logged-in user name
        out = client.predict(*filters, 0, verdict_id, "correct", "", "", api_name="/save_label")
        assert f"saved correct on verdict {int(verdict_id)} for carol" in out[9]
    finally:
        stop_app(process)
