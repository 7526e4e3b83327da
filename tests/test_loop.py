"""The speculative loop over real episodes, with scripted models (the loop's logic, not model quality)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from models.base import Proposal, format_reply, make_proposal
from spectool_app.actions import Answer, Blocked, ToolCall
from spectool_app.events import EpisodeDone, PolicyDecided, Proposed, StepDone, ToolExecuted, VerdictGiven
from spectool_app.loop import LoopConfig, SpeculativeLoop
from spectool_app.policy import PolicyRules
from spectool_app.tasks.bfcl import load_task
from spectool_app.verifiers import make_verifier


class GoldModel:
    """Replies with the task's gold action for the step it is asked about; `wrong_at` steps err."""

    def __init__(self, task, name, wrong_at=(), unparseable_at=()):
        self.name, self.task, self.calls = name, task, 0
        self.wrong_at, self.unparseable_at = set(wrong_at), set(unparseable_at)
        self.cancelled = 0

    def _position(self, messages):
        turn = sum(1 for m in messages if m["role"] == "user") - 1
        done = 0
        for m in reversed(messages):
            if m["role"] == "user":
                break
            done += m["role"] == "assistant"
        return turn, done

    def propose(self, messages, tools, cancel: threading.Event | None = None) -> Proposal:
        self.calls += 1
        turn, index = self._position(messages)
        if (turn, index) in self.unparseable_at:
            return make_proposal("<tool_call>[1, 2]</tool_call>", latency_s=0.001)
        action = self.task.gold[turn][index]
        if action == Answer(""):  # bfcl's closing answers carry no text; a model says something
            action = Answer("Done.")
        if (turn, index) in self.wrong_at:
            action = ToolCall("ls", {"a": True}) if not isinstance(action, ToolCall) or action.name != "ls" else ToolCall("pwd", {})
        return make_proposal(format_reply(action), latency_s=0.001, mean_logprob=-0.1, completion_tokens=5)


def run(task, mode, verifier="exact_match", rules=PolicyRules(), **wrong):
    drafter = GoldModel(task, "drafter", **wrong)
    target = GoldModel(task, "target")
    models = {"drafter": drafter, "target": target}
    loop = SpeculativeLoop(models, make_verifier(verifier, models) if verifier else None,
                           LoopConfig(mode=mode), rules)
    return list(loop.run(task)), drafter, target


@pytest.fixture(scope="module")
def task():
    return load_task("bfcl:multi_turn_base_0")


def test_target_only_with_gold_target_passes(task):
    events, _, target = run(task, "target_only", verifier=None)
    # tool time is measured around the back-end call
    assert all(e.latency_s > 0 for e in events if isinstance(e, ToolExecuted))
    assert events[-1] == EpisodeDone(task.id, True, "", events[-1].wall_s, task.steps)
    assert target.calls == task.steps


def test_speculative_accepts_right_drafts_and_falls_back_on_wrong_ones(task):
    # the drafter errs at turn 0 step 1 (mkdir): exact_match rejects it and the target's action runs
    events, _, _ = run(task, "speculative", wrong_at={(0, 1)})
    verdicts = [e for e in events if isinstance(e, VerdictGiven)]
    assert [v.accepted for v in verdicts[:3]] == [True, False, True]
    steps = [e for e in events if isinstance(e, StepDone)]
    assert [s.source for s in steps[:3]] == ["draft", "target", "draft"]
    assert [s.draft_correct for s in steps[:3]] == [True, False, True]
    assert isinstance(events[-1], EpisodeDone) and events[-1].passed


def test_always_accepting_a_wrong_draft_fails_the_checker(task):
    events, _, _ = run(task, "speculative", verifier="always", wrong_at={(0, 1)})
    assert events[-1].passed is False


def test_unparseable_draft_is_recorded_and_goes_to_the_target(task):
    events, _, _ = run(task, "speculative", unparseable_at={(0, 0)})
    first_draft = next(e for e in events if isinstance(e, Proposed) and e.role == "drafter")
    assert first_draft.action is None
    assert "must be a JSON object with 'name' and 'arguments', got a list" in first_draft.parse_error
    first_step = next(e for e in events if isinstance(e, StepDone))
    assert first_step.source == "target"
    assert events[-1].passed


def test_shadow_runs_the_target_on_accepted_steps_without_executing_it(task):
    events, _, target = run(task, "shadow")
    shadows = [e for e in events if isinstance(e, Proposed) and e.purpose == "shadow"]
    executions = [e for e in events if isinstance(e, ToolExecuted)]
    assert len(shadows) == task.steps  # exact_match also consulted the target; shadow adds one per accepted step
    assert len(executions) == sum(len(t) for t in task.gold_calls)
    assert events[-1].passed


def test_shadow_target_time_is_kept_out_of_the_step_stages(task):
    import time

    class SlowTarget(GoldModel):
        def propose(self, messages, tools, cancel=None):
            time.sleep(0.05)
            proposal = super().propose(messages, tools, cancel)
            return replace(proposal, latency_s=0.05)

    drafter, target = GoldModel(task, "drafter"), SlowTarget(task, "target")
    loop = SpeculativeLoop({"drafter": drafter, "target": target}, make_verifier("always", {}), LoopConfig(mode="shadow"))
    steps = [e for e in loop.run(task) if isinstance(e, StepDone)]
    assert steps and all(s.timings["shadow"] == 0.05 for s in steps)
    assert all(s.timings["overhead"] < 0.04 for s in steps)  # not the 50 ms the shadow target slept


def test_parallel_records_the_cancelled_target_work_as_wasted(task):
    events, _, _ = run(task, "parallel", verifier="always")
    wasted = [e for e in events if isinstance(e, Proposed) and e.purpose == "wasted"]
    assert len(wasted) == task.steps
    assert events[-1].passed


def test_policy_rule_turns_a_denied_call_into_blocked(task):
    rules = PolicyRules(deny_tools=frozenset({"mkdir"}))
    events, _, _ = run(task, "target_only", verifier=None, rules=rules)
    denied = [e for e in events if isinstance(e, PolicyDecided) and not e.allowed]
    assert denied[0].rule == "deny_tools:mkdir"
    blocked_step = next(e for e in events if isinstance(e, StepDone) and e.source == "blocked")
    assert blocked_step.action == Blocked("policy rule deny_tools:mkdir")
    assert events[-1].passed is False


def test_a_denied_draft_goes_to_the_target_instead_of_ending_the_turn(task):
    # the drafter's wrong call at turn 0 step 1 is `ls`, which a rule denies; the verifier accepts every draft
    rules = PolicyRules(deny_tools=frozenset({"ls"}))
    events, _, target = run(task, "speculative", verifier="always", rules=rules, wrong_at={(0, 1)})
    checks = [(e.allowed, e.rule) for e in events if isinstance(e, PolicyDecided) and (e.turn, e.step) == (0, 1)]
    assert checks == [(False, "deny_tools:ls"), (True, None)]
    fallbacks = [e for e in events if isinstance(e, Proposed) and e.purpose == "fallback"]
    assert [(e.turn, e.step, e.role) for e in fallbacks] == [(0, 1, "target")] and target.calls == 1
    step = next(e for e in events if isinstance(e, StepDone) and (e.turn, e.step) == (0, 1))
    assert (step.source, step.action.name, step.draft_correct) == ("target", "mkdir", False)
    assert events[-1].passed


@pytest.mark.parametrize("mode, verifier, target_calls", [("speculative", "always", 1), ("draft_only", None, 0),
                                                        ("speculative", "exact_match", 1)])
def test_the_turn_ends_blocked_when_the_targets_action_is_denied_too(task, mode, verifier, target_calls):
    rules = PolicyRules(deny_tools=frozenset({"mkdir"}))  # gold's own call at turn 0 step 1
    events, _, target = run(task, mode, verifier=verifier, rules=rules)
    denied = [(e.turn, e.step) for e in events if isinstance(e, PolicyDecided) and not e.allowed]
    assert denied == [(0, 1)] * (1 + (mode != "draft_only"))  # the draft's, then the target's
    blocked = next(e for e in events if isinstance(e, StepDone) and e.source == "blocked")
    assert (blocked.turn, blocked.step, blocked.action) == (0, 1, Blocked("policy rule deny_tools:mkdir"))
    asked = [e.purpose for e in events if isinstance(e, Proposed) and e.role == "target" and (e.turn, e.step) == (0, 1)]
    # exact_match asked the target to judge the draft: that reply is the step's fallback, not asked twice
    assert asked == {"always": ["fallback"], None: [], "exact_match": ["verify"]}[verifier]
    assert len(asked) == target_calls
    assert target.calls == sum(isinstance(e, Proposed) and e.role == "target" for e in events)


def test_unknown_mode_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown mode 'fast'; valid modes: target_only, draft_only"):
        LoopConfig(mode="fast")


def test_speculative_without_a_verifier_is_refused(task):
    models = {"drafter": GoldModel(task, "d"), "target": GoldModel(task, "t")}
    with pytest.raises(ValueError, match="missing: \\['verifier'\\]"):
        SpeculativeLoop(models, None, LoopConfig(mode="speculative"))


class HintedTarget(GoldModel):
    """A gold target that can take a draft as candidate tokens; records each hint it was given."""

    def __init__(self, task, name):
        super().__init__(task, name)
        self.hints = []

    def propose_assisted(self, messages, tools, hint):
        self.hints.append(hint)
        return self.propose(messages, tools)


@pytest.mark.parametrize("verifier", ["never", "exact_match"])
def test_the_target_is_offered_the_drafts_text(task, verifier):
    drafter, target = GoldModel(task, "drafter", wrong_at={(0, 1)}), HintedTarget(task, "target")
    models = {"drafter": drafter, "target": target}
    loop = SpeculativeLoop(models, make_verifier(verifier, models), LoopConfig(mode="speculative"))
    events = list(loop.run(task))
    drafts = [e.raw_text for e in events if isinstance(e, Proposed) and e.role == "drafter"]
    # every target reply (fallback or exact_match's own) was asked with the draft of that step
    assert target.hints == drafts and target.calls == len(drafts)
    assert events[-1].passed  # the target's replies, not the hints, decided the wrong step
