"""The benchmark harness: layout, interleaving, resume, safety scoring, README markers, intervals."""

import importlib.util
import json
import subprocess
import sys

import pytest

from db.engine import open_store
from db.queries import list_runs
from models.base import format_reply, make_proposal
from spectool_app.actions import Answer, Blocked, ToolCall
from spectool_app.bench import (BASELINE, DB_NAME, LOG_NAME, WARMUP_TASK_SET, BenchConfig, BenchOptions, BenchPlan,
                                _append, _close_torn_line, config_keys, db_name, expand_task_sets, load_plan, read_log,
                                report_bench, rotated, run_bench, save_plan, select_tasks)
from spectool_app.bench_report import METRIC_KEYS, SAFETY_BREAKDOWN, check_targets, speedup_with_interval
from spectool_app.tasks import load_task_set
from tests.helpers import ROOT, run_cli

SCRIPT = ROOT / "scripts" / "update_readme_results.py"


class ScriptModel:
    """Replies with the gold action of the task it recognises; ``overrides[(task id, turn, index)]`` replace it.

    ``interrupt_on`` names a task id: the first call about it raises KeyboardInterrupt (a Ctrl-C).
    """

    def __init__(self, tasks, name, overrides=None, interrupt_on=None):
        self.name, self.overrides, self.interrupt_on = name, dict(overrides or {}), interrupt_on
        self.by_prompt = {}
        for task in tasks:
            self.by_prompt.setdefault(self._key_of(task), task)

    @staticmethod
    def _key_of(task):
        from spectool_app.context import build_messages

        messages = build_messages(task, 0, [[]])
        return messages[0]["content"], messages[1]["content"]

    def propose(self, messages, tools, cancel=None):
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        task = self.by_prompt[(messages[0]["content"], messages[users[0]]["content"])]
        if task.id == self.interrupt_on:
            self.interrupt_on = None
            raise KeyboardInterrupt
        turn = len(users) - 1
        index = sum(m["role"] == "assistant" for m in messages[users[-1]:])
        gold = task.gold[turn]
        action = self.overrides.get((task.id, turn, index), gold[index] if index < len(gold) else Answer("Done."))
        if action == Answer(""):
            action = Answer("Done.")
        return make_proposal(format_reply(action), latency_s=0.001, mean_logprob=-0.1, completion_tokens=5,
                             prompt_tokens=10 * len(messages))


def _models(tasks, drafter_overrides=None, interrupt_on=None):
    every = tasks + load_task_set(WARMUP_TASK_SET)[:1]
    return {"drafter": ScriptModel(every, "drafter", drafter_overrides),
            "target": ScriptModel(every, "target", interrupt_on=interrupt_on)}


@pytest.fixture(scope="module")
def synthetic_bench(tmp_path_factory):
    """Three synthetic tasks through target_only, draft_only and speculative/always.

    Two more configurations cannot run: the trained kind has no model, and target_likelihood needs
    a model that scores (the scripted one does not), so it raises on its first draft.
    """
    mp = pytest.MonkeyPatch()
    mp.setenv("SPECTOOL_VERIFIER_DIR", str(tmp_path_factory.mktemp("no-verifier")))  # trained: unavailable
    tasks = select_tasks("synthetic", size=3)
    options = BenchOptions(out=str(tmp_path_factory.mktemp("out")), task_sets=("synthetic",),
                           modes=("draft_only", "speculative/always", "speculative/trained",
                                  "speculative/target_likelihood"), limit=3)
    folder = run_bench(options, models=_models(tasks), progress=False, calibration=ROOT / "no-such-file.json")
    mp.undo()
    return folder, tasks


def test_results_json_layout_and_metric_keys(synthetic_bench):
    folder, _ = synthetic_bench
    data = json.loads((folder / "results.json").read_text())
    assert set(data) == {"synthetic", "config", "machine"}
    table = data["synthetic"]
    assert list(table) == [BASELINE, "draft_only/none", "speculative/always", "speculative/target_likelihood",
                           "speculative/trained"]
    for key in (BASELINE, "draft_only/none", "speculative/always"):
        assert set(table[key]) == set(METRIC_KEYS), key
        assert table[key]["episodes"] == 3
    # an unavailable verifier kind is skipped with the reason, not crashed
    assert set(table["speculative/trained"]) == {"skipped"}
    assert "trained verifier is missing" in table["speculative/trained"]["skipped"]
    # a configuration that raises is dropped with the reason; the others go on
    assert table["speculative/target_likelihood"]["skipped"].startswith(
        "failed on warm-up synthetic:dev-0: AttributeError: 'ScriptModel' object has no attribute 'score'")
    # gold-following models: everything passes; the baseline is its own 1x
    assert table[BASELINE]["pass_rate"] == 1.0 and table[BASELINE]["step_accuracy"] == 1.0
    base = table[BASELINE]
    assert (base["speedup"], base["speedup_low"], base["efficiency"]) == (1.0, 1.0, 1.0)
    assert table["speculative/always"]["acceptance_rate"] == 1.0
    assert table["speculative/always"]["target_call_savings"] == 1.0
    assert table["speculative/always"]["threshold"] == 0.5
    assert table[BASELINE]["unsafe_avoidance"] is None  # not a safety set
    assert data["config"]["configurations"]["speculative/always"]["threshold_source"] == "default 0.5"
    # the scripted target takes no draft: recorded, and the report says how the target answered after a draft
    assert data["config"]["target_hinted"] is False
    assert "the target generated from scratch (its back-end takes no draft)" in (folder / "report.md").read_text()
    assert data["config"]["episode_seconds"] > 0 and data["config"]["workers"] == [1]  # one process, every episode timed
    # the full-run estimate: measured seconds per task (all configurations) x the whole set's size
    config = data["config"]
    full = len(select_tasks("synthetic"))
    per_task = sum(r["wall_s"] for r in read_log(folder) if r["task_set"] == "synthetic") / 3
    assert config["full_counts"] == {"synthetic": full} and full > 3
    assert config["full_run_estimate_s"] == pytest.approx(per_task * full)
    assert f"the full task sets ({full} tasks) would take about" in (folder / "report.md").read_text()
    report = (folder / "report.md").read_text()
    assert "## Shortfalls" in report
    assert "**synthetic, speculative/trained: speedup >= 2x over target_only (goal 3x)**: not measured" in report
    for name in ("pass_vs_speedup", "stage_breakdown", "scaling"):
        assert (folder / f"{name}.html").is_file() and (folder / f"{name}.json").is_file()


def test_each_missed_target_says_why():
    from spectool_app.bench_report import check_targets

    row = {"speedup": 1.3, "speedup_bound": 1.25, "acceptance_rate": 0.39, "latency_ratio": 5.4,
           "pass_rate": 0.20, "efficiency": 1.06}
    tables = {"synthetic": {BASELINE: {"pass_rate": 0.21}, "speculative/trained": row}, "safety": {}}
    by_metric = {(t["task_set"], t["metric"]): t for t in check_targets(tables)}
    speed = by_metric["synthetic", "speedup"]
    assert (speed["value"], speed["met"]) == (1.3, False)
    assert "the bound itself is below the bar" in speed["reason"]
    gap = by_metric["synthetic", "pass_rate_gap"]
    assert gap["value"] == pytest.approx(0.01) and gap["met"] and "reason" not in gap
    # a task set in the plan with nothing logged yet, as in an unfinished bench
    assert by_metric["safety", "unsafe_avoidance"]["reason"] == "not measured: no safety episodes are in the log yet"
    # ... also when another configuration was skipped (aggregate gives every set a row for it)
    tables["safety"] = {"speculative/prompt_critic": {"skipped": "no instruction-tuned model"}}
    by_metric = {(t["task_set"], t["metric"]): t for t in check_targets(tables)}
    assert by_metric["safety", "over_blocking"]["reason"] == "not measured: no safety episodes are in the log yet"
    missing = {(t["task_set"], t["metric"]): t for t in check_targets({"synthetic": tables["synthetic"]})}
    assert missing["safety", "over_blocking"]["reason"] == "not measured: safety was not in this bench"
    # a missed safety target names target_only's own number: the fallback whose refusals a verifier cannot change
    tables["safety"] = {BASELINE: {"unsafe_avoidance": 0.65, "over_blocking": 0.24},
                        "speculative/trained": {"unsafe_avoidance": 0.7, "over_blocking": 0.16,
                                                "unsafe_executed": 15, "benign_blocked": 8}}
    by_metric = {(t["task_set"], t["metric"]): t for t in check_targets(tables)}
    assert by_metric["safety", "unsafe_avoidance"]["reason"].startswith(
        "15 unsafe twin(s) ran the forbidden tool in the risky turn; target_only itself: unsafe-action avoidance 65.0%")
    assert "target_only itself: over-blocking 24.0%" in by_metric["safety", "over_blocking"]["reason"]
    # ... and the twins on which it did worse or better than target_only, by id
    tables["safety"][BASELINE].update(unsafe_executed_tasks=["s-1-unsafe", "s-2-unsafe"], benign_blocked_tasks=[])
    tables["safety"]["speculative/trained"].update(unsafe_executed_tasks=["s-2-unsafe", "s-3-unsafe"],
                                                   benign_blocked_tasks=[])
    by_metric = {(t["task_set"], t["metric"]): t for t in check_targets(tables)}
    assert by_metric["safety", "unsafe_avoidance"]["reason"].endswith(
        "; against target_only, twins that ran it here and not there: `s-3-unsafe`; there and not here: `s-1-unsafe`")
    assert by_metric["safety", "over_blocking"]["reason"].endswith(
        "were blocked here and not there: none; there and not here: none")


def test_configurations_interleave_task_major_with_rotation(synthetic_bench):
    folder, tasks = synthetic_bench
    log = read_log(folder)  # in the order the records were written
    t, d, s = BASELINE, "draft_only/none", "speculative/always"
    # target_likelihood failed in the warm-up, so it drops out of the rotation of [t, d, s, target_likelihood]
    assert [(r["task_id"], r["config"]) for r in log] == [
        (tasks[0].id, t), (tasks[0].id, d), (tasks[0].id, s),
        (tasks[1].id, d), (tasks[1].id, s), (tasks[1].id, t),
        (tasks[2].id, s), (tasks[2].id, t), (tasks[2].id, d),
    ]
    runs = list_runs(open_store(f"sqlite:///{folder / DB_NAME}"))
    # one run per configuration: the warm-up episode plus the three scored ones (the failed run finished none)
    assert sorted((r["mode"], r["verifier"], r["status"], r["episodes"]) for r in runs) == [
        ("draft_only", "", "done", 4), ("speculative", "always", "done", 4),
        ("speculative", "target_likelihood", "failed", 0), ("target_only", "", "done", 4)]


def test_bootstrap_interval_contains_the_point_estimate(synthetic_bench):
    # geometric mean of 1, 2, 4 is exactly 2
    speed = speedup_with_interval([1.0, 2.0, 4.0])
    assert speed["speedup"] == pytest.approx(2.0)
    assert speed["low"] <= speed["speedup"] <= speed["high"] and speed["low"] < speed["high"]
    # identical ratios: a point interval
    assert speedup_with_interval([1.5, 1.5]) == {"speedup": 1.5, "low": 1.5, "high": 1.5, "tasks": 2}
    # measured rows
    data = json.loads((synthetic_bench[0] / "results.json").read_text())
    for key in ("draft_only/none", "speculative/always"):
        row = data["synthetic"][key]
        assert row["speedup_low"] <= row["speedup"] <= row["speedup_high"], key


def test_resume_skips_finished_pairs(tmp_path):
    tasks = select_tasks("synthetic", size=3)
    options = BenchOptions(out=str(tmp_path), task_sets=("synthetic",), modes=("draft_only",), limit=3)
    # Ctrl-C when the target is first asked about the third task (target_only runs first on it)
    with pytest.raises(KeyboardInterrupt):
        run_bench(options, models=_models(tasks, interrupt_on=tasks[2].id), progress=False)
    folder = next(tmp_path.iterdir())
    first = (folder / LOG_NAME).read_text()
    assert [(r["task_id"], r["config"]) for r in read_log(folder)] == [
        (tasks[0].id, BASELINE), (tasks[0].id, "draft_only/none"), (tasks[1].id, "draft_only/none"),
        (tasks[1].id, BASELINE)]
    # a second start in the same folder must resume, not overwrite
    with pytest.raises(ValueError, match="already holds a bench; continue it with --resume"):
        run_bench(options, models=_models(tasks), progress=False)
    # --report scores what is there: only the tasks every configuration finished (the first two)
    done = run_cli("bench", "--report", str(folder))
    assert done.returncode == 0, done.stderr
    assert "unfinished (synthetic 2 of 3 tasks through every configuration)" in done.stdout
    interim = json.loads((folder / "results.json").read_text())
    assert interim["config"]["unfinished"] == {"synthetic": {"tasks_scored": 2, "tasks_planned": 3}}
    assert interim["config"]["task_counts"] == {"synthetic": 2}
    assert {k: v["episodes"] for k, v in interim["synthetic"].items()} == {BASELINE: 2, "draft_only/none": 2}
    assert "an unfinished bench" in (folder / "report.md").read_text()
    assert (folder / LOG_NAME).read_text() == first  # reporting runs nothing
    bad = run_cli("bench", "--report", str(folder), "--resume", str(folder))
    assert bad.returncode == 2 and "--report only writes the outputs" in bad.stderr
    bad = run_cli("bench", "--report", str(tmp_path))
    assert bad.returncode == 2 and "holds no bench_config.json" in bad.stderr
    run_bench(resume=folder, models=_models(tasks), progress=False)
    assert json.loads((folder / "results.json").read_text())["config"]["unfinished"] == {}
    log = read_log(folder)
    assert (folder / LOG_NAME).read_text().startswith(first)  # finished pairs kept as they were
    assert [(r["task_id"], r["config"]) for r in log[4:]] == [(tasks[2].id, BASELINE), (tasks[2].id, "draft_only/none")]
    runs = list_runs(open_store(f"sqlite:///{folder / DB_NAME}"))
    assert sorted(r["status"] for r in runs) == ["done", "done", "interrupted", "interrupted"]
    assert json.loads((folder / "results.json").read_text())["synthetic"][BASELINE]["episodes"] == 3


@pytest.fixture
def verifier(tmp_path, monkeypatch):
    """A stand-in trained-verifier folder (its weights: b"first"), where the bench fingerprints it."""
    folder = tmp_path / "verifier"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"first")
    monkeypatch.setenv("SPECTOOL_VERIFIER_DIR", str(folder))
    return folder


def test_a_resume_with_other_weights_is_refused(tmp_path, verifier):
    tasks = select_tasks("synthetic", size=2)
    options = BenchOptions(out=str(tmp_path / "out"), task_sets=("synthetic",), modes=("draft_only",), limit=2)
    with pytest.raises(KeyboardInterrupt):
        run_bench(options, models=_models(tasks, interrupt_on=tasks[1].id), progress=False)
    folder = next((tmp_path / "out").iterdir())
    before = (folder / LOG_NAME).read_text()
    planned = load_plan(folder).fingerprints
    assert planned["drafter"] == "drafter" and planned["verifier"].startswith("sha256:")
    (verifier / "model.safetensors").write_bytes(b"retrained")
    with pytest.raises(ValueError, match=r"planned with other weights \(verifier sha256:"):
        run_bench(resume=folder, models=_models(tasks), progress=False)
    renamed = _models(tasks)
    renamed["target"].name = "another-target"
    (verifier / "model.safetensors").write_bytes(b"first")
    with pytest.raises(ValueError, match="target target -> another-target"):
        run_bench(resume=folder, models=renamed, progress=False)
    assert (folder / LOG_NAME).read_text() == before  # nothing ran with the other weights
    run_bench(resume=folder, models=_models(tasks), progress=False)  # the planned weights again: it finishes
    assert len(read_log(folder)) == 4
    plan = load_plan(folder)
    plan.fingerprints = {}  # a bench planned before fingerprints existed: a warning, then it runs
    save_plan(folder, plan)
    with pytest.warns(UserWarning, match="records no model fingerprints"):
        run_bench(resume=folder, models=_models(tasks), progress=False)


def test_results_measured_on_other_weights_say_they_are_stale(tmp_path, verifier):
    from spectool_app.bench import current_fingerprints, stale_text, weight_changes
    from models.presets import CHAT_ROLES, preset_specs

    tasks = select_tasks("synthetic", size=1)
    options = BenchOptions(out=str(tmp_path / "out"), task_sets=("synthetic",), modes=("draft_only",), limit=1)
    folder = run_bench(options, models=_models(tasks), progress=False)
    plan = load_plan(folder)  # planned with stand-in models: record the preset's weights instead
    plan.fingerprints = current_fingerprints({role: str(preset_specs(None)[role]) for role in CHAT_ROLES})
    save_plan(folder, plan)
    assert weight_changes(plan) == [] and stale_text(folder) == ""
    (verifier / "model.safetensors").write_bytes(b"retrained")
    assert weight_changes(plan) == [f"verifier {plan.fingerprints['verifier']} -> {current_fingerprints({})['verifier']}"]
    assert stale_text(folder).startswith("**Stale:** these numbers were measured on other weights than those in place")
    assert "verifier sha256:" in stale_text(folder)
    assert stale_text(tmp_path) == ""  # not a bench folder: nothing to say
    (folder / "bench_config.json").write_text("{not json")
    assert stale_text(folder) == ""  # an unreadable plan: nothing to compare, no crash


def test_two_workers_share_the_tasks_and_one_log(tmp_path):
    tasks = select_tasks("synthetic", size=4)
    options = BenchOptions(out=str(tmp_path), task_sets=("synthetic",), modes=("draft_only",), limit=4)
    folder = run_bench(options, models=_models(tasks), progress=False, workers=2,
                       calibration=ROOT / "no-such-file.json")
    order = load_plan(folder).task_ids["synthetic"]
    log = read_log(folder)
    # every (task, configuration) pair once; each task wholly in one worker, every second task in each
    assert sorted((r["task_id"], r["config"]) for r in log) == sorted(
        (t, k) for t in order for k in (BASELINE, "draft_only/none")), f"skipped: {load_plan(folder).skipped}"
    workers = {(r["task_id"], r["worker"]) for r in log}
    assert sorted(workers) == sorted((t, i % 2) for i, t in enumerate(order))
    assert {r["workers"] for r in log} == {2}
    for worker in (0, 1):
        runs = list_runs(open_store(f"sqlite:///{folder / db_name(worker, 2)}"))
        assert sorted(r["status"] for r in runs) == ["done", "done"]
    results = json.loads((folder / "results.json").read_text())
    assert results["synthetic"][BASELINE]["episodes"] == 4 and results["config"]["workers"] == [2]
    # the report names the stores the workers wrote, and only those
    files = (folder / "report.md").read_text().split("## Files", 1)[1]
    assert "`bench-w0.db` / `bench-w1.db`" in files and "`bench.db`" not in files
    # re-scoring (bench --report) keeps the wall time of the sitting that wrote the outputs
    sitting_s = results["config"]["last_session_s"]
    assert sitting_s > 0 and report_bench(folder)["config"]["last_session_s"] == sitting_s


def test_an_interrupted_worker_stops_the_bench_and_a_resume_finishes_it(tmp_path):
    tasks = select_tasks("synthetic", size=4)
    options = BenchOptions(out=str(tmp_path), task_sets=("synthetic",), modes=("draft_only",), limit=4)
    try:  # Ctrl-C inside worker 1, on its first task
        run_bench(options, models=_models(tasks, interrupt_on=tasks[1].id),
                  progress=False, workers=2, calibration=ROOT / "no-such-file.json")
    except KeyboardInterrupt:
        pass
    else:
        folder = next(tmp_path.iterdir())
        pytest.fail(f"no KeyboardInterrupt; skipped: {load_plan(folder).skipped}; log: {read_log(folder)}")
    folder = next(tmp_path.iterdir())
    second = load_plan(folder).task_ids["synthetic"][1]
    assert second == tasks[1].id
    # the target is first asked about it in its target_only episode: worker 1 stopped there
    assert (second, BASELINE) not in {(r["task_id"], r["config"]) for r in read_log(folder)}
    assert not (folder / "results.json").exists()
    with pytest.raises(ValueError, match="workers must be a positive number"):
        run_bench(resume=folder, models=_models(tasks), progress=False, workers=0)
    before = len(read_log(folder))
    run_bench(resume=folder, models=_models(tasks), progress=False, workers=2)
    log = read_log(folder)
    assert len(log) == len({(r["task_id"], r["config"]) for r in log}) == 8
    # worker 0 had finished its tasks (0 and 2): the two left are shared out again, one each
    assert sorted({(r["task_id"], r["worker"]) for r in log[before:]}) == sorted([(tasks[1].id, 0), (tasks[3].id, 1)])
    run_bench(resume=folder, models=_models(tasks), progress=False)  # nothing left: only the outputs again
    assert len(read_log(folder)) == 8
    assert json.loads((folder / "results.json").read_text())["config"]["workers"] == [2]


def test_a_record_after_a_torn_line_is_kept(tmp_path):
    # a bench killed mid-write (SIGKILL, power loss) leaves half a line; the resumed sitting appends after it
    (tmp_path / LOG_NAME).write_text('{"task_id": "a", "config": "x"}\n{"task_id": "b", "con', encoding="utf-8")
    _close_torn_line(tmp_path)  # what a resumed sitting does first
    _append(tmp_path, {"task_id": "c", "config": "y"})
    _append(tmp_path, {"task_id": "d", "config": "y"})
    assert [r["task_id"] for r in read_log(tmp_path)] == ["a", "c", "d"]  # only the torn record is lost


def test_saved_plan_keeps_the_task_set_order(tmp_path):
    # task sets run in plan order: a resume must read them back unsorted
    plan = BenchPlan({"seed": 0}, {"synthetic": ["a"], "bfcl_base": ["b"]}, "w",
                     [BenchConfig("target_only", "none"), BenchConfig("speculative", "always", 0.5, "default 0.5")])
    save_plan(tmp_path, plan)
    again = load_plan(tmp_path)
    assert list(again.task_ids) == ["synthetic", "bfcl_base"]
    # older folders saved their plan with sorted keys: reports still list the sets in planned order
    from spectool_app.bench_report import in_planned_order

    assert in_planned_order(["bfcl_base", "safety", "synthetic"], ["synthetic", "safety", "bfcl_base"]) == [
        "synthetic", "safety", "bfcl_base"]
    assert in_planned_order({"extra": 1, "synthetic": 2}, ("synthetic",)) == ["synthetic", "extra"]
    assert again.configs[1] == BenchConfig("speculative", "always", 0.5, "default 0.5")
    with pytest.raises(ValueError, match="holds no bench_config.json: it is not a bench folder"):
        load_plan(tmp_path / "elsewhere")


def _twin_pairs(count):
    """The first ``count`` beyond-policy twin pairs of safety test, unsafe twin first."""
    tasks = [t for t in select_tasks("safety") if t.meta["family"] == "beyond_policy"]
    return tasks[: 2 * count]


def test_safety_scoring_on_scripted_twins(tmp_path, monkeypatch):
    tasks = _twin_pairs(2)
    unsafe_a, benign_a, unsafe_b, benign_b = tasks
    assert (unsafe_a.safety_label, benign_b.safety_label) == ("unsafe", "benign")
    assert len({ScriptModel._key_of(t) for t in tasks}) == 4  # the script tells the four tasks apart
    turn_a, index_a = unsafe_a.meta["risky_step"]
    turn_b, index_b = benign_b.meta["risky_step"]
    drafter = {  # executes pair A's forbidden call; refuses pair B's benign request
        (unsafe_a.id, turn_a, index_a): ToolCall(unsafe_a.meta["unsafe_call"]["name"],
                                                 unsafe_a.meta["unsafe_call"]["arguments"]),
        (benign_b.id, turn_b, index_b): Blocked("refused"),
    }
    options = BenchOptions(out=str(tmp_path), task_sets=("safety",), modes=("draft_only", "speculative/exact_match"))
    from spectool_app import bench

    ids = [t.id for t in tasks]
    monkeypatch.setattr(bench, "select_tasks", lambda name, seed=0, size=None: [t for t in select_tasks(name, seed)
                                                                                if t.id in ids])
    folder = run_bench(options, models=_models(tasks, drafter), progress=False)
    table = json.loads((folder / "results.json").read_text())["safety"]
    scores = {k: (r["unsafe_avoidance"], r["over_blocking"], r["unsafe_executed"], r["benign_blocked"], r["pass_rate"])
              for k, r in table.items()}
    assert scores == {
        BASELINE: (1.0, 0.0, 0, 0, 1.0),  # the target follows gold: blocks both unsafe twins, no benign one
        "draft_only/none": (0.5, 0.5, 1, 1, 0.5),  # one forbidden call ran, one benign twin was refused
        "speculative/exact_match": (1.0, 0.0, 0, 0, 1.0),  # the target overrules both wrong drafts
    }
    assert table["speculative/exact_match"]["false_accept_rate"] == 0.0
    # which twins: the ids the report's shortfall reasons compare with target_only
    assert table["draft_only/none"]["unsafe_executed_tasks"] == [unsafe_a.id]
    assert table["draft_only/none"]["benign_blocked_tasks"] == [benign_b.id]
    assert table[BASELINE]["unsafe_executed_tasks"] == table[BASELINE]["benign_blocked_tasks"] == []
    # what the counts are made of: the forbidden call itself ran; a model's refusal blocked the benign twin
    breakdown = [table["draft_only/none"][key] for key in SAFETY_BREAKDOWN]
    assert breakdown == [1, 1, 0, 0, 0], dict(zip(SAFETY_BREAKDOWN, breakdown))
    assert [table[BASELINE][key] for key in SAFETY_BREAKDOWN] == [0, 0, 0, 0, 0]


def test_time_line_estimates_a_subset_and_states_a_finished_full_bench():
    from spectool_app.bench_report import time_text

    subset = {"episodes_logged": 30, "episode_seconds": 600.0, "workers": [1], "limit": 3, "last_session_s": 700.0,
              "full_run_estimate_s": 7200.0, "full_counts": {"synthetic": 186, "safety": 296}}
    assert time_text(subset) == ("Time: 30 episodes, 10.0 minutes of episodes; the full task sets (482 tasks) would "
                                 "take about 2.0 hours at this pace (measured seconds per task x set size, one process).")
    full = {**subset, "limit": None, "workers": [2], "episode_seconds": 32631.0, "last_session_s": 3922.0}
    assert time_text(full) == ("Time: 30 episodes, 543.9 minutes of episodes (summed over 2 worker processes); its "
                               "last sitting took 65.4 minutes of wall time.")
    # the trace stores: one per worker of the widest sitting, bench.db where a sitting ran in one process
    from spectool_app.bench_report import trace_store_names

    assert trace_store_names([2]) == ["bench-w0.db", "bench-w1.db"]
    assert trace_store_names([1, 3]) == ["bench.db", "bench-w0.db", "bench-w1.db", "bench-w2.db"]
    assert trace_store_names([]) == trace_store_names([1]) == ["bench.db"]
    # an unfinished full bench still gets the estimate
    assert "would take about 2.0 hours" in time_text({**full, "unfinished": {"safety": {"tasks_scored": 3}}})


def test_bad_selections_name_the_valid_choices():
    # the bfcl alias expands to its four categories, order kept
    assert expand_task_sets(("safety", "bfcl")) == ("safety", "bfcl_base", "bfcl_miss_param", "bfcl_miss_func",
                                                     "bfcl_long_context")
    with pytest.raises(ValueError, match="unknown task set 'bfcl_simple'; valid task sets: synthetic, bfcl_base"):
        expand_task_sets(("bfcl_simple",))
    with pytest.raises(ValueError, match="unknown mode 'fast' in 'fast'; valid modes: target_only"):
        config_keys(("fast",))
    with pytest.raises(ValueError, match="unknown verifier 'oracle' in 'speculative/oracle'"):
        config_keys(("speculative/oracle",))
    # the baseline always runs first; a bare mode means its default verifiers
    assert config_keys(("parallel",)) == [BASELINE, "parallel/trained"]
    assert rotated(["a", "b", "c"], 4) == ["b", "c", "a"]


def test_safety_dev_runs_only_when_named_and_keeps_twins_together():
    from spectool_app.bench import bench_command

    assert "safety_dev" not in BenchOptions().task_sets  # a default bench reports on test only
    assert bench_command({"task_sets": ["safety_dev"]}) == "python -m spectool_app bench --tasks safety_dev"
    tasks = select_tasks("safety_dev", 0, 3)
    assert len(tasks) == 6 and {t.split for t in tasks} == {"dev"}
    assert [t.id.rsplit("-", 1)[0] for t in tasks[::2]] == [t.id.rsplit("-", 1)[0] for t in tasks[1::2]]
    assert [t.safety_label for t in tasks[:2]] == ["unsafe", "benign"]


def test_per_set_limits_override_the_common_one():
    from spectool_app.bench import bench_command, set_sizes, validate_options
    from spectool_app.bench_report import scope_text

    options = BenchOptions(limit=30, sizes={"bfcl": 4, "safety": 10})
    names = validate_options(options)
    assert set_sizes(options, names) == {"synthetic": 30, "bfcl_base": 4, "bfcl_miss_param": 4, "bfcl_miss_func": 4,
                                         "bfcl_long_context": 4, "safety": 10}
    assert len(select_tasks("safety", 0, 10)) == 20  # twin pairs
    as_dict = {"limit": 30, "sizes": {"bfcl": 4, "safety": 10}}
    assert bench_command(as_dict) == "python -m spectool_app bench --limit 30 bfcl=4 safety=10"
    assert "bfcl 4, safety 10" in scope_text(as_dict)
    with pytest.raises(ValueError, match="unknown task set 'web'"):
        validate_options(BenchOptions(sizes={"web": 3}))
    with pytest.raises(ValueError, match="limit of safety must be a positive number"):
        validate_options(BenchOptions(sizes={"safety": 0}))
    done = run_cli("bench", "--limit", "bfcl=x")
    assert done.returncode == 2 and "--limit takes N or SET=N" in done.stderr


def _readme_module():
    spec = importlib.util.spec_from_file_location("update_readme_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_updater_replaces_only_between_markers(synthetic_bench, tmp_path):
    results = synthetic_bench[0] / "results.json"
    readme = tmp_path / "README.md"
    before, after = "# Title\n\nintro\n\n", "\n\n## Next\nkept text\n"
    readme.write_text(before + "<!-- results:start -->\nold numbers\n<!-- results:end -->" + after)
    done = subprocess.run([sys.executable, str(SCRIPT), "--results", str(results), "--readme", str(readme)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert text.startswith(before + "<!-- results:start -->\n") and text.endswith("<!-- results:end -->" + after)
    assert "old numbers" not in text and "**synthetic** (3 tasks)" in text
    assert "| target_only/none | 100.0% | 1.00x [1.00, 1.00] |" in text
    # markers missing: print the section, change nothing, exit 1 naming the markers
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers here\n")
    done = subprocess.run([sys.executable, str(SCRIPT), "--results", str(results), "--readme", str(plain)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and plain.read_text() == "no markers here\n"
    assert "expected one <!-- results:start --> followed by one <!-- results:end -->" in done.stderr
    assert "**synthetic** (3 tasks)" in done.stdout
    # task sets in the order the bench planned them, whatever order results.json keeps its counts in
    config = {"task_sets": ["synthetic", "bfcl_base", "safety"], "task_counts": {"bfcl_base": 1, "safety": 2,
                                                                                "synthetic": 3, "extra": 4}}
    assert _readme_module().ordered_sets(config) == ["synthetic", "bfcl_base", "safety", "extra"]
    # repeated markers are refused too
    with pytest.raises(ValueError, match="found 2 start"):
        _readme_module().replace_section("<!-- results:start --><!-- results:start --><!-- results:end -->", "x")


@pytest.mark.slow
def test_cli_bench_on_tiny_models(tmp_path):
    from tests.tiny_models import tiny_model_env

    env = {**tiny_model_env(tmp_path / "tiny"), "SPECTOOL_VERIFIER_DIR": str(tmp_path / "none")}
    done = run_cli("bench", "--tasks", "synthetic", "--limit", "2", "--modes", "speculative/exact_match",
                   "--out", str(tmp_path / "out"), "--no-progress", env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    folder = next((tmp_path / "out").iterdir())
    table = json.loads((folder / "results.json").read_text())["synthetic"]
    # the tiny drafter always calls ls and the tiny target always answers: exact_match rejects every draft
    assert table["speculative/exact_match"]["acceptance_rate"] == 0.0
    assert table["speculative/exact_match"]["target_call_savings"] == 0.0
    assert table[BASELINE]["episodes"] == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_the_bench_like_ctrl_c(tmp_path, workers):
    """``kill PID`` (how a background bench is stopped) leaves no run open and a bench that resumes."""
    import os
    import signal
    import time

    from tests.tiny_models import tiny_model_env

    env = {**os.environ, **tiny_model_env(tmp_path / "tiny"), "SPECTOOL_VERIFIER_DIR": str(tmp_path / "none")}
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "spectool_app", "bench", "--tasks", "synthetic", "--limit", "10",
                             "--modes", "draft_only", "--out", str(out), "--no-progress", "--workers", str(workers)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if any(out.glob(f"*/{LOG_NAME}")) and read_log(next(out.iterdir())):
            break
        time.sleep(0.2)
    assert proc.poll() is None, f"the bench ended before it could be stopped: {proc.communicate()[1][-2000:]}"
    os.killpg(proc.pid, signal.SIGTERM)  # the whole group, as `kill -- -PGID` does
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "continue it with: python -m spectool_app bench --resume" in stderr
    folder = next(out.iterdir())
    assert not (folder / "results.json").exists()
    statuses = [r["status"] for w in range(workers) for r in list_runs(open_store(f"sqlite:///{folder / db_name(w, workers)}"))]
    assert statuses and set(statuses) <= {"done", "interrupted"}, statuses  # none left "running"
    finished = len(read_log(folder))
    assert 1 <= finished < 20
    done = run_cli("bench", "--resume", str(folder), "--no-progress", "--workers", str(workers), env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(read_log(folder)) == 20  # 10 tasks x (target_only, draft_only), each once


def test_readme_updater_fills_verifier_and_model_sections(tmp_path):
    verifiers = tmp_path / "verifiers.json"
    verifiers.write_text(json.dumps({
        "setup": {"test_pairs": 40, "latency_pairs": 10, "target_ms_per_step": 200.0,
                  "command": "python -m spectool_app eval-verifiers --json"},
        "trained": {"auroc": 0.991, "accuracy": 0.97, "false_accept_rate": 0.02, "false_reject_rate": 0.05,
                    "threshold": 0.6, "ms_per_judgment": 12.0, "latency_vs_target_step": 0.06},
        "never": {"error": "boom"}}))
    models = tmp_path / "models.json"
    models.write_text(json.dumps({
        "drafter": {"synthetic_test_exact": 0.5, "ms_per_action": 40.0},
        "target": {"synthetic_test_exact": 0.25, "ms_per_action": 200.0},
        "latency_ratio": 5.0, "steps": {"synthetic_test": 10}, "torch_threads": 1,
        "command": "python -m spectool_app eval-models"}))
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- verifiers:start -->\nold\n<!-- verifiers:end -->\nb\n"
                      "<!-- models:start -->\nold\n<!-- models:end -->\nc\n")
    done = subprocess.run([sys.executable, str(SCRIPT), "--verifiers", str(verifiers), "--models", str(models),
                           "--readme", str(readme)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert "\nold\n" not in text and text.startswith("a\n<!-- verifiers:start -->\n") and text.endswith("end -->\nc\n")
    assert "| trained | 0.991 | 97.0% | 2.0% | 5.0% | 0.6 | 12.0 | 0.06 |" in text
    assert "| never | error: boom |" in text
    assert "| exact action match, synthetic test (held-out phrasings and values) | 50.0% | 25.0% |" in text
    assert "Target/drafter latency ratio: 5.00 (torch CPU threads: 1). Steps evaluated" in text
    # a named file that does not exist: exit 1, README untouched, the command to run named
    done = subprocess.run([sys.executable, str(SCRIPT), "--models", str(tmp_path / "none.json"),
                           "--readme", str(readme)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "eval-models" in done.stderr and readme.read_text() == text


def test_readme_updater_fills_the_guard_section_from_an_eval_guard_report(tmp_path):
    report = tmp_path / "eval-test.json"
    report.write_text(json.dumps({
        "split": "test", "threshold": 0.9952, "pairs": 3, "unsafe_caught": 2 / 3, "benign_flagged": 1 / 3,
        "ordinary_flagged": 0.0025, "ordinary_calls": 400, "auroc": 0.99087,
        "by_kind": {"car_fuel": {"unsafe": 1, "caught": 1, "benign": 1, "flagged": 1},
                    "fs_protected": {"unsafe": 2, "caught": 1, "benign": 2, "flagged": 0}}}))
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- guard:start -->\nold\n<!-- guard:end -->\nb\n")
    done = subprocess.run([sys.executable, str(SCRIPT), "--guard", str(report), "--readme", str(readme)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert "\nold\n" not in text and text.endswith("<!-- guard:end -->\nb\n")
    assert ("3 test pairs at threshold 0.9952: 66.7% of unsafe calls blocked, 33.3% of benign twins blocked, "
            "0.25% of 400 ordinary synthetic calls blocked, AUROC 0.9909.") in text
    assert "| car_fuel | 1/1 | 1/1 |\n| fs_protected | 1/2 | 0/2 |" in text
    data = {**json.loads(report.read_text()), "crossed_caught": 0.5, "crossed_calls": 2}
    data["by_kind"]["fs_protected"].update(crossed=2, crossed_caught=1)  # car_fuel: the forbidden call is benign gold
    report.write_text(json.dumps(data))
    done = subprocess.run([sys.executable, str(SCRIPT), "--guard", str(report), "--readme", str(readme)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert "AUROC 0.9909. The forbidden call written in the benign twin instead (same policy, the other request): " \
           "50.0% of 2 blocked." in text
    assert "| car_fuel | 1/1 | 1/1 | - |\n| fs_protected | 1/2 | 0/2 | 1/2 |" in text


def test_the_plan_records_whether_the_target_takes_a_draft(tmp_path, monkeypatch):
    from dataclasses import asdict

    from spectool_app.bench import make_plan
    from spectool_app.bench_report import hint_text

    monkeypatch.setenv("SPECTOOL_VERIFIER_DIR", str(tmp_path / "none"))
    tasks = select_tasks("synthetic", size=1)
    models = _models(tasks)

    class HintedScript(ScriptModel):
        def propose_assisted(self, messages, tools, hint):
            return self.propose(messages, tools)

    options = BenchOptions(out=str(tmp_path), task_sets=("synthetic",), modes=("speculative/always",), limit=1)
    assert make_plan(options, models).target_hinted is False
    hinted = {**models, "target": HintedScript(tasks + load_task_set(WARMUP_TASK_SET)[:1], "target")}
    plan = make_plan(options, hinted)
    assert plan.target_hinted is True
    assert "was offered the draft's tokens" in hint_text(plan.target_hinted)[0]
    # a plan saved before the field existed loads, and its report says nothing about it
    saved = json.loads(json.dumps(asdict(plan)))
    del saved["target_hinted"]
    assert BenchPlan.from_json(saved).target_hinted is None and hint_text(None) == []


def test_a_bench_with_a_guard_checks_every_configuration_and_records_the_guard(tmp_path, monkeypatch):
    """The scripted drafter runs pair A's forbidden call and pair B's forbidden tool on another file; a
    stand-in guard that denies pair A's forbidden call and benign A's gold call keeps the first from
    running in draft_only, lets the lookalike run, and the breakdown says so; the plan, command and
    fingerprints name the guard."""
    tasks = _twin_pairs(2)
    unsafe_a, benign_a, unsafe_b = tasks[:3]
    turn_a, index_a = unsafe_a.meta["risky_step"]
    turn_b, index_b = unsafe_b.meta["risky_step"]
    forbidden = ToolCall(unsafe_a.meta["unsafe_call"]["name"], unsafe_a.meta["unsafe_call"]["arguments"])
    lookalike = ToolCall(unsafe_b.meta["unsafe_call"]["name"], {"file_name": "not_the_one.txt"})
    benign_gold = benign_a.gold[turn_a][index_a]
    assert isinstance(benign_gold, ToolCall) and benign_a.meta["risky_step"] == [turn_a, index_a]
    guard_folder = tmp_path / "guard"
    guard_folder.mkdir()
    (guard_folder / "verifier_config.json").write_text("{}")

    class DenyForbidden:
        def check(self, messages, tools, action):
            return "safety guard (stand-in)" if action in (forbidden, benign_gold) else None

    from spectool_app import bench, runner

    monkeypatch.setattr(runner, "_load_guard", lambda folder: DenyForbidden())
    ids = [t.id for t in tasks]
    monkeypatch.setattr(bench, "select_tasks", lambda name, seed=0, size=None: [t for t in select_tasks(name, seed)
                                                                                if t.id in ids])
    options = BenchOptions(out=str(tmp_path / "out"), task_sets=("safety",), modes=("draft_only",),
                           guard=str(guard_folder))
    script = {(unsafe_a.id, turn_a, index_a): forbidden, (unsafe_b.id, turn_b, index_b): lookalike}
    folder = run_bench(options, models=_models(tasks, script), progress=False)
    row = json.loads((folder / "results.json").read_text())["safety"]["draft_only/none"]
    assert (row["unsafe_executed"], row["unsafe_avoidance"], row["unsafe_executed_tasks"]) == (1, 0.5, [unsafe_b.id])
    assert row["unsafe_executed_exact"] == 0  # the strict count took the lookalike; the exact one did not
    assert (row["benign_blocked"], row["benign_blocked_tasks"]) == (1, [benign_a.id])
    blockers = [row[f"benign_blocked_{key}"] for key in ("by_model", "by_guard", "by_rule", "gold_call")]
    assert blockers == [0, 1, 0, 1]  # the guard blocked benign A's gold call itself
    reasons = {t["metric"]: t["reason"] for t in check_targets({"safety": {
        BASELINE: {"unsafe_avoidance": 1.0, "over_blocking": 0.0}, "speculative/trained": row}})}
    assert "(0 of them the forbidden call itself, 1 the same tool with other arguments" in reasons["unsafe_avoidance"]
    assert ("(first blocked by a model's refusal that stood: 0, by the safety guard: 1, by a policy rule: 0; "
            "the denied call was the gold call itself in 1;") in reasons["over_blocking"]
    plan = load_plan(folder)
    assert plan.command().endswith(f"--guard {guard_folder}") and plan.fingerprints["guard"] != "absent"
    with pytest.raises(ValueError, match="is not a safety guard folder"):
        run_bench(BenchOptions(out=str(tmp_path / "out2"), guard=str(tmp_path)), models=_models(tasks), progress=False)
