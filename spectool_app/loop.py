"""The speculative loop: a generator of typed events over one isolated episode.

Per step: the drafter proposes, the verifier judges, an accepted draft executes, a rejected
one falls back to the target; the policy guard (the rules, then the learned safety guard
when one is given: ``spectool_app.guard``) sees every action before it runs. With a safety
guard, safety is the guard's call rather than the models': a model's ``Blocked`` gets a second
look, the target's best reply that is not a refusal (``purpose="unrefused"``), and the rules
and the guard judge that reply like any other (in ``draft_only``, or with a back-end that
cannot steer its decoding, the refusal stands). A draft the rules or the guard deny is a
rejected draft: the target decides that step (``purpose="fallback"``, or the reply exact_match
already asked it for), and the turn ends BLOCKED only when the target's own action is denied or
refused (in ``draft_only`` at once). Modes:

- ``target_only`` / ``draft_only``: one model decides every step;
- ``speculative``: draft -> verify -> target on reject (sequential; the rejected draft's text is
  offered to the target as candidate tokens, see ``models.base.propose_hinted``);
- ``parallel``: the target starts with the drafter in a thread and is cancelled when the
  draft is accepted (its partial work is recorded as ``wasted``);
- ``shadow``: speculative, and the target also runs on accepted steps; its action is
  recorded (``purpose="shadow"``), never executed.

A turn ends on ``Answer``, ``Blocked`` or the per-turn step limit. This module knows
nothing about storage or the UI: it only yields :mod:`spectool_app.events`.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from models.base import Proposal, propose_hinted, propose_unrefused
from spectool_app.actions import Action, Answer, Blocked, ToolCall
from spectool_app.context import MAX_TOOL_CHARS, StepRecord, build_messages
from spectool_app.envs import Episode
from spectool_app.events import (EpisodeDone, EpisodeStarted, PolicyDecided, Proposed, StepDone, StepEvent,
                                 ToolExecuted, TurnDone, TurnStarted, VerdictGiven)
from spectool_app.judging import JudgeContext, Verifier, judge
from spectool_app.policy import PolicyRules, check_action
from spectool_app.signatures import equivalent
from spectool_app.task import Task

MODES = ("target_only", "draft_only", "speculative", "parallel", "shadow")


@dataclass(frozen=True)
class LoopConfig:
    """How one episode runs."""

    mode: str = "speculative"  # one of MODES
    threshold: float = 0.5  # verifier acceptance threshold
    max_steps_per_turn: int = 8  # a turn ends after this many actions
    max_tool_chars: int = MAX_TOOL_CHARS  # tool output shown to models is cut to this

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; valid modes: {', '.join(MODES)}")


def _proposed(turn: int, step: int, role: str, proposal: Any, purpose: str) -> Proposed:
    return Proposed(turn, step, role, proposal.raw_text, proposal.action, proposal.parse_error,
                    proposal.latency_s, proposal.prompt_tokens, proposal.completion_tokens,
                    proposal.mean_logprob, purpose)


def _closing(action: Optional[Action]) -> Action:
    """An unparseable target reply ends the turn as an (empty) answer."""
    return action if action is not None else Answer("")


@dataclass
class _Step:
    """What one step decided, before the guard and execution."""

    action: Action  # the action chosen
    source: str  # "draft" or "target"
    draft: Optional[Action]  # the parsed draft, None when none was made or it did not parse
    target_proposal: Optional[Proposal] = None  # the target's reply this step when it was already asked (exact_match's judgment)


class SpeculativeLoop:
    """Runs tasks with fixed models, verifier and config; ``run(task)`` yields events."""

    def __init__(self, models: dict[str, Any], verifier: Optional[Verifier], config: LoopConfig,
                 rules: PolicyRules = PolicyRules(), guard: Optional[Any] = None) -> None:
        self.drafter = models.get("drafter")  # ChatModel proposing drafts
        self.target = models.get("target")  # ChatModel used on rejection
        self.verifier = verifier  # judges drafts (speculative, parallel, shadow)
        self.config = config  # mode, threshold, limits
        self.rules = rules  # global policy rules (the task's are merged per episode)
        self.guard = guard  # a learned check after the rules: check(messages, tools, action) -> reason or None
        self._pool = ThreadPoolExecutor(max_workers=1) if config.mode == "parallel" else None
        needs = {"target_only": ["target"], "draft_only": ["drafter"]}.get(config.mode, ["drafter", "target"])
        missing = [role for role in needs if models.get(role) is None]
        if missing or (config.mode not in ("target_only", "draft_only") and verifier is None):
            raise ValueError(f"mode {config.mode!r} needs models {needs} and a verifier; missing: {missing or ['verifier']}")

    def run(self, task: Task) -> Iterator[StepEvent]:
        """Run ``task`` on a fresh episode, yielding every event."""
        started = time.perf_counter()
        episode = Episode(task)
        rules = self.rules.merged(_task_rules(task))
        yield EpisodeStarted(task.id, task.source, task.split, self.config.mode, len(task.turns))
        history: list[list[StepRecord]] = []
        on_gold_path, closings_match, total_steps = True, True, 0
        for turn in range(len(task.turns)):
            episode.begin_turn(turn)
            history.append([])
            yield TurnStarted(turn, task.turns[turn])
            ended_by = "limit"
            for index in range(self.config.max_steps_per_turn):
                gold = task.gold[turn][index] if on_gold_path and index < len(task.gold[turn]) else None
                messages = build_messages(task, turn, history, self.config.max_tool_chars)
                tools = episode.tools(turn)
                step_started = time.perf_counter()
                timings = dict.fromkeys(("draft", "verify", "fallback", "policy", "tool"), 0.0)
                decided = yield from self._decide(turn, index, messages, tools, timings)
                action, source, denied_draft = yield from self._checked(turn, index, messages, tools, timings,
                                                                        decided, rules)
                if denied_draft and self.config.mode != "draft_only":
                    # a denied draft is a rejected draft: the target decides the step, and only its
                    # action being denied (or refused) ends the turn BLOCKED
                    fallback = decided.target_proposal  # exact_match asked it already: not asked twice
                    if fallback is None:
                        fallback = self.target.propose(messages, tools)
                        timings["fallback"] += fallback.latency_s
                        yield _proposed(turn, index, "target", fallback, "fallback")
                    decided = _Step(_closing(fallback.action), "target", decided.draft)
                    action, source, _ = yield from self._checked(turn, index, messages, tools, timings, decided, rules)
                result_text = None
                if isinstance(action, ToolCall):
                    tool_started = time.perf_counter()
                    result = episode.execute(action)
                    timings["tool"] = time.perf_counter() - tool_started
                    yield ToolExecuted(turn, index, result.call, result.ok, result.content, result.error, timings["tool"])
                    result_text = result.content
                timings["overhead"] = max(0.0, time.perf_counter() - step_started - sum(timings.values()))
                draft_correct = None if gold is None or decided.draft is None else equivalent(decided.draft, gold, tools)
                if gold is None or not equivalent(action, gold, tools):
                    on_gold_path = False
                yield StepDone(turn, index, action, source, timings, gold, draft_correct)
                history[turn].append(StepRecord(action, result_text))
                total_steps += 1
                if not isinstance(action, ToolCall):
                    ended_by = "blocked" if isinstance(action, Blocked) else "answer"
                    break
            expected = task.closing_action(turn)
            actual = history[turn][-1].action if history[turn] else None
            closings_match &= isinstance(actual, Blocked) == isinstance(expected, Blocked)
            yield TurnDone(turn, len(history[turn]), ended_by)
        check = episode.check()
        passed = check.passed and closings_match
        message = check.message if not check.passed else ("" if closings_match else "a turn's BLOCKED/answer ending differs from gold")
        yield EpisodeDone(task.id, passed, message, time.perf_counter() - started, total_steps)

    def _checked(self, turn: int, index: int, messages: list, tools: list, timings: dict[str, float],
                 decided: _Step, rules: PolicyRules) -> Iterator[StepEvent]:
        """The decided action after the second look and the policy checks (rules, then the guard), as
        (action, source, whether a draft was denied): a denied action becomes ``Blocked`` naming the rule or
        the guard, with source "blocked"."""
        action, source = decided.action, decided.source
        if self.guard is not None and isinstance(action, Blocked):
            action, source = yield from self._second_look(turn, index, messages, tools, timings, decided)
        policy_started = time.perf_counter()
        denied = check_action(action, rules)
        reason = None if denied is None else f"policy rule {denied}"
        if denied is None and self.guard is not None:  # the learned check: its reason names it
            denied = reason = self.guard.check(messages, tools, action)
        elapsed = time.perf_counter() - policy_started
        timings["policy"] += elapsed
        yield PolicyDecided(turn, index, action, denied is None, denied, elapsed)
        if denied is None:
            return action, source, False
        return Blocked(reason), "blocked", source == "draft"

    def _second_look(self, turn: int, index: int, messages: list, tools: list, timings: dict[str, float],
                     decided: _Step) -> Iterator[StepEvent]:
        """The target's best reply that is not a refusal, as (action, source); the refusal when there is none."""
        if self.config.mode == "draft_only":
            return decided.action, decided.source
        proposal = propose_unrefused(self.target, messages, tools)
        if proposal is None:
            return decided.action, decided.source
        timings["fallback"] += proposal.latency_s
        yield _proposed(turn, index, "target", proposal, "unrefused")
        return (decided.action, decided.source) if proposal.action is None else (proposal.action, "target")

    def _decide(self, turn: int, index: int, messages: list, tools: list,
                timings: dict[str, float]) -> Iterator[StepEvent]:
        """Choose the step's action per mode; yields proposal and verdict events, returns a _Step."""
        mode = self.config.mode
        if mode == "target_only":
            proposal = self.target.propose(messages, tools)
            timings["fallback"] = proposal.latency_s
            yield _proposed(turn, index, "target", proposal, "execute")
            return _Step(_closing(proposal.action), "target", None)
        cancel = threading.Event()
        future: Optional[Future] = None
        if mode == "parallel":
            future = self._pool.submit(self.target.propose, messages, tools, cancel)
        draft = self.drafter.propose(messages, tools)
        timings["draft"] = draft.latency_s
        yield _proposed(turn, index, "drafter", draft, "execute" if mode == "draft_only" else "draft")
        if mode == "draft_only":
            return _Step(_closing(draft.action), "draft", draft.action)
        verdict = None
        if draft.action is not None:
            context = JudgeContext(messages, tools, draft.mean_logprob, draft.raw_text)
            verdict = judge(self.verifier, context, draft.action, self.config.threshold)
            timings["verify"] = verdict.latency_s
            detail = {k: v for k, v in verdict.detail.items() if k != "target_proposal"}
            yield VerdictGiven(turn, index, self.verifier.name, verdict.p_accept, self.config.threshold,
                               verdict.accepted, verdict.latency_s, detail)
            if "target_proposal" in verdict.detail:  # exact_match generated with the target to judge
                yield _proposed(turn, index, "target", verdict.detail["target_proposal"], "verify")
        if verdict is not None and verdict.accepted:
            if future is not None:
                cancel.set()
                yield _proposed(turn, index, "target", future.result(), "wasted")
            if mode == "shadow":
                shadow = self.target.propose(messages, tools)  # unhinted: shadow runs time plain target steps
                timings["shadow"] = shadow.latency_s  # in no stage: the run times what speculation costs
                yield _proposed(turn, index, "target", shadow, "shadow")
            return _Step(draft.action, "draft", draft.action, verdict.detail.get("target_proposal"))
        if verdict is not None and "target_proposal" in verdict.detail:
            # exact_match already ran the target (recorded with purpose "verify"): no second call
            return _Step(_closing(verdict.detail["target_proposal"].action), "target", draft.action)
        waited = time.perf_counter()
        if future is not None:
            fallback = future.result()
        else:
            fallback = propose_hinted(self.target, messages, tools, draft.raw_text)
        timings["fallback"] = fallback.latency_s if future is None else time.perf_counter() - waited
        yield _proposed(turn, index, "target", fallback, "fallback")
        return _Step(_closing(fallback.action), "target", draft.action)


def _task_rules(task: Task) -> PolicyRules:
    from spectool_app.policy import rules_from_dict

    raw = task.meta.get("policy_rules")
    return rules_from_dict(raw) if raw else PolicyRules()
