"""Counterfactual replay of a shadow run recorded with scripted models (no model is called again)."""

from __future__ import annotations

import json
import math

import pytest

from db.engine import open_store
from models.base import format_reply, make_proposal
from spectool_app.actions import ToolCall
from spectool_app.cli import main
from spectool_app.replay import replay_run
from spectool_app.runner import RunRequest, stream_run
from spectool_app.tasks.bfcl import load_task
from spectool_app.verifiers import VERIFIER_KINDS
from tests.test_loop import GoldModel

TASK_ID = "bfcl:multi_turn_base_0"  # 14 steps over 4 turns
WRONG, UNPARSEABLE = (0, 1), (2, 0)  # the drafter's wrong and unparseable steps
STEPS = 14


class ScoredDrafter(GoldModel):
    """GoldModel whose mean log-prob is -2.0 on its wrong step and -0.1 elsewhere."""

    def propose(self, messages, tools, cancel=None):
        proposal = GoldModel.propose(self, messages, tools, cancel)
        proposal.mean_logprob = -2.0 if self._position(messages) == WRONG else -0.1
        return proposal


class ScriptedVerifier:
    """A verifier kind only this test knows: 0.3 for the wrong draft, 0.8 for the others."""

    name = "scripted"

    def score(self, context, draft):
        return (0.3 if draft == ToolCall("ls", {"a": True}) else 0.8), {}


def record(engine, mode: str, verifier: str) -> int:
    task = load_task(TASK_ID)
    models = {"drafter": ScoredDrafter(task, "drafter", wrong_at={WRONG}, unparseable_at={UNPARSEABLE}),
              "target": GoldModel(task, "target")}
    request = RunRequest(mode=mode, verifier=verifier, threshold=0.5, task_ids=(TASK_ID,))
    events = list(stream_run(request, engine, models=models))
    assert events[-1][1].passed  # the target fixed both bad drafts: the recorded episode passed
    return events[0][0]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('replay') / 'runs.db'}"
    engine = open_store(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(VERIFIER_KINDS, "scripted", lambda models: ScriptedVerifier())
        runs = {"shadow": record(engine, "shadow", "exact_match"),
                "scripted": record(engine, "shadow", "scripted"),
                "speculative": record(engine, "speculative", "exact_match")}
    yield url, engine, runs
    engine.dispose()


def test_always_never_and_exact_match_give_the_expected_acceptance(store):
    _, engine, runs = store
    expected = {  # kind -> (accepted drafts, target calls, estimated pass rate, false accepts)
        # every parsed draft accepted: the wrong one is newly accepted and disagrees -> estimated fail
        "always": (13, 1, 0.0, 1),
        "never": (0, 14, 1.0, 0),
        # the wrong draft rejected; exact_match generates the target's action on every step
        "exact_match": (12, 14, 1.0, 0),
    }
    for kind, (accepted, calls, pass_rate, false_accepts) in expected.items():
        result = replay_run(engine, runs["shadow"], kind, 0.5)
        assert result["steps"] == STEPS, kind
        assert (result["accepted_drafts"], result["target_calls"]) == (accepted, calls), kind
        assert result["acceptance_rate"] == pytest.approx(accepted / STEPS), kind
        assert result["target_call_savings"] == pytest.approx(1 - calls / STEPS), kind
        assert (result["estimated_pass_rate"], result["false_accepts"]) == (pass_rate, false_accepts), kind
        assert result["recorded_pass_rate"] == 1.0


def test_speedup_estimate_uses_the_recorded_stage_means(store):
    _, engine, runs = store
    # scripted latencies: draft 1 ms, target 1 ms; always: t_T / (t_d + (1 - 13/14) t_T) = 14/15
    assert replay_run(engine, runs["shadow"], "always", 0.5)["speedup_estimate"] == pytest.approx(14 / 15)
    # exact_match: the verifier's generation is the fallback: t_T / (t_d + t_T)
    assert replay_run(engine, runs["shadow"], "exact_match", 0.5)["speedup_estimate"] == pytest.approx(0.5)


def test_confidence_threshold_sweep_is_monotone(store):
    _, engine, runs = store
    thresholds = [0.0, 0.1, math.exp(-2.0) + 0.01, 0.5, 0.9, 0.95, 1.0]
    accepted = [replay_run(engine, runs["shadow"], "confidence", t)["accepted_drafts"] for t in thresholds]
    # p = exp(-0.1) = 0.905 on 12 right drafts, exp(-2) = 0.135 on the wrong one, none for the unparseable one
    assert accepted == [13, 13, 12, 12, 12, 0, 0]


def test_the_runs_own_verifier_is_replayed_from_its_stored_scores(store):
    _, engine, runs = store
    sweep = [replay_run(engine, runs["scripted"], "scripted", t)["accepted_drafts"] for t in (0.2, 0.5, 0.85)]
    assert sweep == [13, 12, 0]  # stored p_accept: 0.3 on the wrong draft, 0.8 on the others


def test_kinds_that_need_a_model_are_refused_naming_the_replayable_ones(store):
    _, engine, runs = store
    with pytest.raises(ValueError, match="verifier 'trained' cannot be replayed from the records; "
                                         "replayable: always, never, confidence, exact_match, scripted$"):
        replay_run(engine, runs["scripted"], "trained", 0.5)


def test_a_speculative_run_cannot_be_replayed(store):
    _, engine, runs = store
    with pytest.raises(ValueError, match="recorded in mode 'speculative'; replay needs a shadow run"):
        replay_run(engine, runs["speculative"], "always", 0.5)


def test_threshold_outside_zero_one_is_refused(store):
    _, engine, runs = store
    with pytest.raises(ValueError, match="threshold must be a number between 0 and 1, got 1.5"):
        replay_run(engine, runs["shadow"], "always", 1.5)


def test_replay_cli_prints_json_and_reports_bad_runs(store, capsys):
    url, _, runs = store
    assert main(["replay", str(runs["shadow"]), "--verifier", "never", "--threshold", "0.5", "--json",
                 "--db", url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["acceptance_rate"], shown["target_call_savings"], shown["steps"]) == (0.0, 0.0, STEPS)
    # non-shadow run: usage error (exit 2), one line
    assert main(["replay", str(runs["speculative"]), "--db", url]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    # unknown run: store error (exit 1)
    assert main(["replay", "999", "--db", url]) == 1
    assert "unknown run 999" in capsys.readouterr().err


class DefaultOmittingDrafter(GoldModel):
    """GoldModel that leaves out find's defaulted ``path='.'`` on its first step."""

    def propose(self, messages, tools, cancel=None):
        if self._position(messages) == (0, 0):
            return make_proposal(format_reply(ToolCall("find", {"name": "test"})), latency_s=0.001)
        return GoldModel.propose(self, messages, tools, cancel)


def test_exact_match_binds_defaults_from_the_tasks_tool_schemas(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    task = load_task("bfcl:multi_turn_base_3")  # 7 steps; the gold starts with find(path='.', name='test')
    models = {"drafter": DefaultOmittingDrafter(task, "drafter"), "target": GoldModel(task, "target")}
    request = RunRequest(mode="shadow", verifier="never", task_ids=(task.id,))
    run_id = list(stream_run(request, engine, models=models))[0][0]
    result = replay_run(engine, run_id, "exact_match", 0.5)
    # find(name='test') is find(path='.', name='test') once the schema's default is filled in
    assert (result["steps"], result["accepted_drafts"], result["agreement_rate"]) == (7, 7, 1.0)
    assert result["decisions"][0]["agrees"] is True
    engine.dispose()
