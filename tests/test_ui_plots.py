"""The app's pure parts: plots from frames, the step frame, speedup intervals, escaping, argument checks.

No server and no browser: plots are functions of data frames, the render helpers of events,
the services of a store recorded in memory.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from spectool_app.ui import plots


def _steps(**overrides) -> pd.DataFrame:
    base = {"label": ["1:0.0", "1:0.1", "1:0.2", "1:0.3"], "t_draft": [0.1, 0.1, 0.1, 0.1],
            "t_verify": [0.01, 0.01, 0.01, 0.01], "t_fallback": [0.0, 0.5, 0.0, 0.5], "t_tool": [0.02] * 4,
            "t_overhead": [0.001] * 4, "p_accept": [0.9, 0.2, 0.7, None],
            "decision": ["correct", "false reject", "false accept", "no reference"]}
    base.update(overrides)
    return pd.DataFrame(base)


def test_latency_stack_has_one_bar_trace_per_stage():
    fig = plots.latency_stack(_steps())
    # stacked bars: draft, verify, fallback, tool, overhead, bottom up
    assert [t.name for t in fig.data] == ["draft", "verify", "fallback", "tool", "overhead"]
    assert fig.layout.barmode == "stack"
    assert list(fig.data[2].y) == [0.0, 0.5, 0.0, 0.5]
    assert list(fig.data[0].x) == ["1:0.0", "1:0.1", "1:0.2", "1:0.3"]


def test_decision_plot_colours_by_correctness_and_draws_the_threshold():
    fig = plots.decision_plot(_steps(), 0.5)
    # the step without p_accept is left out; one trace per decision class present
    assert [t.name for t in fig.data] == ["correct", "false accept", "false reject"]
    assert [t.marker.color for t in fig.data] == ["#54a24b", "#e45756", "#f58518"]
    assert list(fig.data[1].x) == ["1:0.2"] and list(fig.data[1].y) == [0.7]
    assert [shape.y0 for shape in fig.layout.shapes] == [0.5]
    # no threshold: no line
    assert plots.decision_plot(_steps(), None).layout.shapes == ()


def test_empty_frames_give_titled_empty_figures():
    empty = pd.DataFrame()
    # every plot says there is nothing to show instead of failing
    assert plots.latency_stack(empty).layout.title.text == "Per-step latency by stage (nothing to show)"
    assert plots.decision_plot(_steps(p_accept=[None] * 4), 0.5).data == ()
    no_tasks = pd.DataFrame(columns=["task_id", "wall_a", "wall_b"])
    assert "nothing to show" in plots.task_scatter(no_tasks).layout.title.text
    assert "nothing to show" in plots.whatif_bars(pd.DataFrame(columns=["metric", "value"])).layout.title.text
    assert "nothing to show" in plots.bench_scatter(pd.DataFrame({"task_set": ["x"]})).layout.title.text


def test_task_scatter_and_bench_scatter():
    tasks = pd.DataFrame({"task_id": ["a", "b", "c"], "wall_a": [1.0, 2.0, None], "wall_b": [2.0, 3.0, 4.0]})
    fig = plots.task_scatter(tasks, "run 5", "run 6")
    # the task without a time in run A is skipped; the diagonal spans the largest time
    assert list(fig.data[0].x) == [2.0, 3.0] and list(fig.data[0].text) == ["a", "b"]
    assert list(fig.data[1].x) == [0, pytest.approx(3.15)]
    assert fig.layout.xaxis.title.text == "run 6 seconds"
    rows = pd.DataFrame({"task_set": ["synthetic", "synthetic", "safety"], "config": ["a/x", "b/y", "a/x"],
                         "speedup": [2.0, 1.0, 1.5], "pass_rate": [0.9, 0.95, 1.0]})
    bench = plots.bench_scatter(rows)
    assert [t.name for t in bench.data] == ["safety", "synthetic"]
    assert list(bench.data[1].x) == [2.0, 1.0]


def test_whatif_bars_label_each_value():
    frame = pd.DataFrame({"metric": ["acceptance_rate", "speedup_estimate", "false_reject_rate"],
                          "value": [0.25, 1.5, None]})
    fig = plots.whatif_bars(frame)
    assert list(fig.data[0].x) == ["acceptance_rate", "speedup_estimate"]
    assert list(fig.data[0].text) == ["0.250", "1.500"]


# -- render -------------------------------------------------------------------------------------
def test_action_text_forms():
    from spectool_app.actions import Answer, Blocked, ToolCall
    from spectool_app.ui.render import action_text, short_action

    # tool call, answer, blocked, stored JSON, text that is not an action
    assert action_text(ToolCall("mv", {"source": "a", "n": 2})) == 'mv(source="a", n=2)'
    assert action_text(Answer("hi")) == "ANSWER: hi"
    assert action_text(Blocked("no")) == "BLOCKED: no"
    assert action_text('{"kind": "tool_call", "name": "ls", "arguments": {}}') == "ls()"
    assert action_text("not json") == "not json" and action_text(None) == ""
    assert short_action(Answer("x" * 200), 10) == "ANSWER: xx… [+198 chars]"


def test_live_log_escapes_model_and_tool_text():
    from spectool_app.actions import Answer, ToolCall
    from spectool_app.events import EpisodeDone, EpisodeStarted, Proposed, StepDone, ToolExecuted, VerdictGiven
    from spectool_app.ui.render import LiveLog

    log = LiveLog("speculative", run_id=7)
    call = ToolCall("cat", {"file": "<b>x</b>"})
    for event in (EpisodeStarted("t-1", "synthetic", "test", "speculative", 1),
                  Proposed(0, 0, "drafter", "raw", call, None, 0.01, 10, 5),
                  VerdictGiven(0, 0, "confidence", 0.8, 0.5, True, 0.001),
                  ToolExecuted(0, 0, call, True, '<script>alert(1)</script><img src=x onerror="alert(2)">', None, 0.0),
                  StepDone(0, 0, call, "draft", {"draft": 0.01, "verify": 0.001}),
                  StepDone(0, 1, Answer("<i>done</i>"), "draft", {"draft": 0.02}),
                  EpisodeDone("t-1", False, "<b>state differs</b>", 0.5, 2)):
        log.observe(event)
    page = log.to_html()
    # no markup from the model or the tool survives; the text is there, escaped
    assert "<script>" not in page and "<img" not in page and "<b>x" not in page and "<i>" not in page
    assert "<b>state" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    assert "confidence: p=0.800 &gt;= 0.50 accept" in page
    assert "FAIL: &lt;b&gt;state differs&lt;/b&gt;" in page and "run 7" in page
    assert [(s.turn, s.step) for s in log.steps] == [(0, 0), (0, 1)]


# -- services -----------------------------------------------------------------------------------
def test_parse_id_and_threshold_errors():
    from spectool_app.ui.services import UIError, parse_id, parse_threshold

    assert parse_id(3.0, "run id") == 3 and parse_id("12", "run id") == 12
    assert parse_id(None, "run B", required=False) is None
    for bad, message in ((None, "run id is empty"), (-1, "positive whole number, got -1"),
                         (2.5, "positive whole number, got 2.5"), ("abc", "positive whole number, got 'abc'")):
        with pytest.raises(UIError, match=message):
            parse_id(bad, "run id")
    assert parse_threshold("0.25") == 0.25
    for bad in (1.5, -0.1, "x", None, float("nan")):
        with pytest.raises(UIError, match="threshold must be"):
            parse_threshold(bad)


def test_speedup_interval():
    from spectool_app.ui.services import speedup_interval

    # geometric mean of 2.0 and 1.8, interval inside the range of the ratios
    two = speedup_interval([2.0, 1.8])
    assert two["speedup"] == pytest.approx(1.8974, abs=1e-4) and two["tasks"] == 2
    assert 1.8 <= two["low"] <= two["speedup"] <= two["high"] <= 2.0
    # one task: no interval; no usable ratio: nothing
    assert speedup_interval([3.0]) == {"speedup": pytest.approx(3.0), "low": None, "high": None, "tasks": 1}
    assert speedup_interval([0.0, float("inf")])["speedup"] is None


@pytest.fixture()
def engine():
    from db.engine import open_store
    from db.recorder import Recorder, synthetic_episode

    store = open_store("sqlite://")
    recorder = Recorder(store)
    recorder.start_run(mode="speculative", verifier="always", threshold=0.5, task_set="synthetic:test")
    for event in synthetic_episode("synthetic:test-0", 3):
        recorder.consume(event)
    recorder.finish_run()
    yield store
    store.dispose()


def test_trace_view_frames_and_step_view(engine):
    from db.engine import StoreError
    from spectool_app.ui.services import STEP_COLUMNS, trace_view

    view = trace_view(engine, 1)
    frame = view["steps"]
    # three steps, labelled episode:turn.step, drafts right and accepted -> correct decisions
    assert list(frame.columns) == STEP_COLUMNS
    assert list(frame["label"]) == ["1:0.0", "1:0.1", "1:0.2"]
    assert list(frame["decision"]) == ["correct"] * 3
    assert list(frame["executed"]) == ["ls(a=0)", "ls(a=1)", "ANSWER: done"]
    assert view["summary"]["steps"] == 3 and len(view["latency"].data) == 5
    with pytest.raises(StoreError, match="unknown run 5"):
        trace_view(engine, 5)


def test_saving_in_the_unlabeled_queue_moves_to_the_next_unlabeled(engine):
    from spectool_app.ui.annotate import QueueFilter, queue_view, save_label
    from spectool_app.ui.services import UIError

    flt = QueueFilter.from_widgets(1, "uncertainty", "unlabeled", "any", "dora")
    first = queue_view(engine, flt)
    assert (first["position"], first["progress"]) == (0, "0 of 3 verdicts labeled; 0 by dora")
    saved = save_label(engine, flt, first["verdict_id"], "correct", "", "fine", 0)
    # the saved verdict left the unlabeled queue: the item now at position 0 is the next one
    assert saved["verdict_id"] != first["verdict_id"] and saved["position"] == 0
    assert saved["progress"] == "1 of 3 verdicts labeled; 1 by dora"
    assert len(saved["table"]) == 2
    # the labeled filter shows the saved label, note and all
    mine = queue_view(engine, QueueFilter.from_widgets(1, "uncertainty", "labeled", "any", "dora"))
    assert (mine["verdict_id"], mine["label"], mine["note"]) == (first["verdict_id"], "correct", "fine")
    with pytest.raises(UIError, match="unknown label filter 'some'"):
        QueueFilter.from_widgets(1, "uncertainty", "some", "any", "dora")


def test_step_frame_decisions_from_shadow_actions():
    from spectool_app.ui.services import steps_frame

    base = {"episode_id": 1, "turn": 0, "task_id": "t", "source": "draft", "action": None,
            "draft_parse_error": None, "labels": 0, "verdict_id": 1, "t_total": 0.1, "t_draft": 0.0,
            "t_verify": 0.0, "t_fallback": 0.0, "t_tool": 0.0, "t_overhead": 0.0, "t_policy": 0.0,
            "target_purpose": "shadow", "draft_correct": None}
    ls, answer = '{"kind": "tool_call", "name": "ls", "arguments": {}}', '{"kind": "answer", "text": "ok"}'
    rows = [{**base, "step_id": 1, "index": 0, "p_accept": 0.9, "accepted": True, "draft_action": ls,
             "target_action": ls},
            {**base, "step_id": 2, "index": 1, "p_accept": 0.9, "accepted": True, "draft_action": ls,
             "target_action": answer},
            {**base, "step_id": 3, "index": 2, "p_accept": 0.1, "accepted": False, "draft_action": ls,
             "target_action": ls},
            {**base, "step_id": 4, "index": 3, "p_accept": None, "accepted": False, "draft_action": None,
             "target_action": ls, "draft_parse_error": "not JSON"}]
    frame = steps_frame(rows)
    # agreement with the shadow target decides: correct, false accept, false reject, no verdict
    assert list(frame["decision"]) == ["correct", "false accept", "false reject", "no reference"]
    assert list(frame["draft"]) == ["ls()", "ls()", "ls()", "not JSON"]


def test_bench_view_with_and_without_results(tmp_path):
    from spectool_app.ui.services import BENCH_HINT, bench_view

    # no results folder: how to produce them
    assert bench_view(tmp_path / "results")["text"] == BENCH_HINT
    older, newer = tmp_path / "results" / "2026-11-01", tmp_path / "results" / "2026-11-20"
    for folder, speed in ((older, 1.0), (newer, 2.5)):
        folder.mkdir(parents=True)
        data = {"synthetic:test": {"speculative/trained": {"speedup": speed, "pass_rate": 0.9, "ci": [1, 2]},
                                   "target_only/-": {"speedup": 1.0, "pass_rate": 0.91}},
                "config": {"seed": 0}, "machine": {"cpus": 2}}
        (folder / "results.json").write_text(json.dumps(data))
    (newer / "report.md").write_text("# report")
    view = bench_view(tmp_path / "results")
    # the newest date wins; configuration and machine are not task-set tables; lists are dropped
    assert view["text"].startswith("Benchmark results of **2026-11-20** (2 rows).")
    assert "report.md" in view["text"]
    assert list(view["table"]["config"]) == ["speculative/trained", "target_only/-"]
    assert list(view["table"]["speedup"]) == [2.5, 1.0] and "ci" not in view["table"].columns
    assert len(view["figure"].data) == 1
    # an unfinished bench (bench --report) says how far each short set got
    data["config"]["unfinished"] = {"safety": {"tasks_scored": 67, "tasks_planned": 296}}
    (newer / "results.json").write_text(json.dumps(data))
    assert "An unfinished bench: scored on the tasks every configuration finished (safety 67 of 296 tasks)." in \
        bench_view(tmp_path / "results")["text"]
    # a bench whose plan recorded other weights than those in place now says its numbers are stale
    from spectool_app.bench import BenchConfig, BenchPlan, save_plan

    assert "Stale" not in bench_view(tmp_path / "results")["text"]  # no plan beside it: nothing to compare
    save_plan(newer, BenchPlan({"seed": 0}, {"synthetic": ["a"]}, "w", [BenchConfig("target_only", "none")],
                               fingerprints={"target": "sha256:0000000000000000"}))
    text = bench_view(tmp_path / "results")["text"]
    assert "**Stale:** these numbers were measured on other weights than those in place now (" in text
    assert "target sha256:0000000000000000 -> sha256:" in text


# -- app wiring ---------------------------------------------------------------------------------
def test_missing_checkpoints_give_a_clear_run_tab_message(tmp_path, monkeypatch):
    import models.presets as presets
    from spectool_app.ui.live import models_message

    # the embedded preset pointing at a folder without checkpoints
    monkeypatch.delenv("SPECTOOL_DRAFTER", raising=False)
    monkeypatch.delenv("SPECTOOL_TARGET", raising=False)
    monkeypatch.setattr(presets, "EMBEDDED_DIR", tmp_path / "embedded")
    monkeypatch.setitem(presets.PRESETS, "embedded", {"drafter": str(tmp_path / "embedded" / "drafter"),
                                                      "target": str(tmp_path / "embedded" / "target"),
                                                      "verifier_base": None})
    text = models_message("embedded")
    assert text.startswith("**Models not ready.** the embedded drafter checkpoint is missing")
    assert "`python -m spectool_app train-defaults`" in text
    assert models_message("nope").startswith("**Models not ready.** unknown model preset 'nope'")


def test_gpu_guard_is_a_no_op_without_spaces_and_launch_settings(monkeypatch, tmp_path):
    import importlib.util

    from spectool_app.ui import callbacks
    from spectool_app.ui.app import check_password, launch_kwargs
    from spectool_app.config import load_config

    # off ZeroGPU (no `spaces` package) the guard returns the function itself
    assert importlib.util.find_spec("spaces") is None
    assert callbacks._gpu_guard()(len) is len
    # login only with SPECTOOL_ANNOTATOR_PASSWORD; the host falls back to GRADIO_SERVER_NAME on a Space
    monkeypatch.delenv("SPECTOOL_ANNOTATOR_PASSWORD", raising=False)
    monkeypatch.delenv("SPECTOOL_HOST", raising=False)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    kwargs = launch_kwargs(load_config(data_dir=str(tmp_path)))
    assert "auth" not in kwargs and kwargs["server_name"] == "0.0.0.0"
    assert kwargs["allowed_paths"] == [str(tmp_path / "exports")] and "<script>" in kwargs["head"]
    monkeypatch.setenv("SPECTOOL_ANNOTATOR_PASSWORD", "pw")
    auth = launch_kwargs(load_config(data_dir=str(tmp_path)))["auth"]
    assert (auth("ann", "pw"), auth("ann", "wrong"), auth(" ", "pw")) == (True, False, False)
    assert check_password("a")("x", "a") is True


def test_every_event_has_an_api_name():
    from spectool_app.ui.app import API_NAMES, build_app

    app = build_app()
    names = [fn.api_name for fn in app.fns.values()]
    # no event without a name; the documented ones are exactly API_NAMES
    assert all(isinstance(name, str) and name for name in names)
    documented = sorted(fn.api_name for fn in app.fns.values() if fn.api_visibility == "public")
    assert documented == sorted(API_NAMES)
