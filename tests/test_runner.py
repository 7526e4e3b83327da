"""The run service: loop events recorded into a real SQLite file, with run statistics."""

import pytest

from db.engine import StoreError, open_store
from db.recorder import Recorder
from db.queries import run_steps, run_summary
from spectool_app.events import EpisodeDone
from spectool_app.metrics import RunStats
from spectool_app.runner import RunRequest, stream_run
from spectool_app.tasks.bfcl import load_task
from tests.test_loop import GoldModel

TASK_ID = "bfcl:multi_turn_base_0"


def test_speculative_run_is_recorded_step_by_step(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    task = load_task(TASK_ID)
    models = {"drafter": GoldModel(task, "drafter", wrong_at={(0, 1)}), "target": GoldModel(task, "target")}
    stats = RunStats()
    request = RunRequest(mode="speculative", verifier="exact_match", task_ids=(TASK_ID,))
    events = list(stream_run(request, engine, models=models, stats=stats))
    run_id = events[0][0]
    assert isinstance(events[-1][1], EpisodeDone) and events[-1][1].passed
    summary = stats.summary()
    assert summary["steps"] == task.steps == len(run_steps(engine, run_id))
    # one wrong draft (rejected), all others right and accepted
    assert summary["acceptance_rate"] == pytest.approx((task.steps - 1) / task.steps)
    assert (summary["false_accept_rate"], summary["false_reject_rate"]) == (0.0, 0.0)
    assert summary["pass_rate"] == 1.0
    stored = run_summary(engine, run_id)
    # the store's summary (from rows) and RunStats (from events) agree
    assert stored["status"] == "done"
    for metric in ("acceptance_rate", "target_call_savings", "pass_rate", "false_accept_rate"):
        assert stored[metric] == pytest.approx(summary[metric]), metric


def test_the_bound_charges_fallbacks_what_they_cost():
    from spectool_app.events import Proposed, StepDone, VerdictGiven
    from spectool_app.metrics import speedup_bound

    # two steps: one accepted draft, one rejected draft whose target fallback (offered the draft) took 0.2 s
    stats = RunStats()
    for step, accepted in enumerate((True, False)):
        stats.observe(Proposed(0, step, "drafter", "", None, None, 0.1, 10, 5, -0.1, "draft"))
        stats.observe(VerdictGiven(0, step, "trained", 0.9 if accepted else 0.1, 0.5, accepted, 0.02, {}))
        if not accepted:
            stats.observe(Proposed(0, step, "target", "", None, None, 0.2, 10, 5, -0.1, "fallback"))
        stats.observe(StepDone(0, step, None, "draft" if accepted else "target",
                               {"draft": 0.1, "verify": 0.02, "fallback": 0.0 if accepted else 0.2}, None, None))
    alone = stats.summary()
    # on its own the run knows only its fallbacks: they stand for a plain target step too
    assert alone["speedup_bound"] == pytest.approx(0.2 / (0.1 + 0.02 + 0.5 * 0.2))
    # given target_only's plain step (1 s), that is t_T and the fallbacks stay what they cost
    with_plain = stats.summary(plain_target_s=1.0)
    assert with_plain["speedup_bound"] == pytest.approx(1.0 / (0.1 + 0.02 + 0.5 * 0.2))
    assert (with_plain["target_latency_s"], with_plain["target_call_latency_s"]) == (1.0, 0.2)
    assert speedup_bound(0.1, 0.02, 1.0, 0.5) == pytest.approx(1.0 / (0.1 + 0.02 + 0.5 * 1.0))  # DESIGN.md's form
    # the drafter alone (no verdict, no target call) has no bound, whatever target_only measured
    alone = RunStats()
    alone.observe(Proposed(0, 0, "drafter", "", None, None, 0.1, 10, 5, -0.1, "execute"))
    alone.observe(StepDone(0, 0, None, "draft", {"draft": 0.1}, None, None))
    assert alone.summary(plain_target_s=1.0)["speedup_bound"] is None


def test_bad_requests_name_the_valid_choices(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    cases = {  # field -> expected message
        RunRequest(mode="fast"): "unknown mode 'fast'; valid modes: target_only",
        RunRequest(verifier="oracle"): "unknown verifier 'oracle'; valid verifiers: always",
        RunRequest(threshold=1.5): "threshold must be between 0 and 1, got 1.5",
        RunRequest(limit=0): "limit must be a positive number of tasks, got 0",
    }
    for request, message in cases.items():
        with pytest.raises(ValueError, match=message):
            next(stream_run(request, engine, models={}))


class _InterruptedModel(GoldModel):
    """A drafter stopped by Ctrl-C on its second call."""

    def propose(self, *args, **kwargs):
        if self.calls == 1:
            raise KeyboardInterrupt
        return super().propose(*args, **kwargs)


def _interrupted_run(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    task = load_task(TASK_ID)
    models = {"drafter": _InterruptedModel(task, "drafter"), "target": GoldModel(task, "target")}
    request = RunRequest(mode="speculative", verifier="exact_match", task_ids=(TASK_ID,))
    return engine, stream_run(request, engine, models=models)


def test_an_interrupted_run_ends_interrupted_and_the_interrupt_goes_on(tmp_path):
    engine, events = _interrupted_run(tmp_path)
    run_id = next(events)[0]
    with pytest.raises(KeyboardInterrupt):
        list(events)
    assert run_summary(engine, run_id)["status"] == "interrupted"


def test_a_store_that_cannot_close_the_run_does_not_swallow_the_interrupt(tmp_path, monkeypatch):
    def _refuse(self, run_id=None, status="done"):
        raise StoreError("database is locked: test")

    engine, events = _interrupted_run(tmp_path)
    run_id = next(events)[0]
    monkeypatch.setattr(Recorder, "finish_run", _refuse)
    with pytest.raises(KeyboardInterrupt) as raised:
        list(events)
    assert raised.value.__notes__ == [f"run {run_id} could not be marked interrupted: database is locked: test"]
