"""Typed events the speculative loop yields, one stream per episode.

The loop is a generator of these values; the recorder (``db``), the CLI, the benchmark,
the tests and the app all consume the same stream. Events are plain frozen dataclasses
with JSON-friendly fields (actions as ``Action`` values); this module knows nothing
about models, storage or the UI. Times are seconds from ``time.perf_counter`` deltas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from spectool_app.actions import Action, ToolCall

STEP_SOURCES = ("draft", "target", "blocked", "limit")  # who decided the executed action
STAGES = ("draft", "verify", "fallback", "policy", "tool", "overhead")  # timing buckets of a step
# Why a model proposed: "draft" (drafter, to be judged), "execute" (the mode's only model decides),
# "fallback" (target after a rejection), "verify" (target generating inside exact_match's judgment),
# "shadow" (target on an accepted step, recorded, never executed), "wasted" (parallel target cancelled),
# "unrefused" (with a safety guard, the target's best reply that is not a refusal, after a model refused).
PROPOSAL_PURPOSES = ("draft", "execute", "fallback", "verify", "shadow", "wasted", "unrefused")
TARGET_CALL_PURPOSES = ("execute", "fallback", "verify", "unrefused")  # target calls that decided a step


@dataclass(frozen=True)
class EpisodeStarted:
    task_id: str  # Task.id
    source: str  # task source
    split: str  # task split
    mode: str  # loop mode (target_only, draft_only, speculative, parallel, shadow)
    n_turns: int  # user turns in the task


@dataclass(frozen=True)
class TurnStarted:
    turn: int  # turn index
    user_text: str  # the user's message ("" for bfcl's function-only turns)


@dataclass(frozen=True)
class Proposed:
    """A model's proposal: the draft (role "drafter") or the target's action (role "target")."""

    turn: int  # turn index
    step: int  # step index inside the turn
    role: str  # "drafter" or "target"
    raw_text: str  # the model's text, untrusted
    action: Optional[Action]  # the first parsed action, None on a parse error
    parse_error: Optional[str]  # why the text is not an action, None when it parsed
    latency_s: float  # wall time of the model call
    prompt_tokens: int  # tokens in the prompt
    completion_tokens: int  # tokens generated
    mean_logprob: Optional[float] = None  # mean token log-prob of the completion when known
    purpose: str = "execute"  # see PROPOSAL_PURPOSES


@dataclass(frozen=True)
class VerdictGiven:
    turn: int  # turn index
    step: int  # step index inside the turn
    verifier: str  # verifier kind
    p_accept: float  # the verifier's probability that the draft is acceptable
    threshold: float  # the decision threshold in force
    accepted: bool  # p_accept >= threshold (and the draft parsed)
    latency_s: float  # wall time of the judgment
    detail: dict[str, Any] = field(default_factory=dict)  # kind-specific extras (e.g. target action)


@dataclass(frozen=True)
class PolicyDecided:
    turn: int  # turn index
    step: int  # step index inside the turn
    action: Action  # the action that was checked
    allowed: bool  # False: the action became Blocked
    rule: Optional[str]  # the rule that denied it, None when allowed
    latency_s: float  # time of the check


@dataclass(frozen=True)
class ToolExecuted:
    turn: int  # turn index
    step: int  # step index inside the turn
    call: ToolCall  # the call as executed (bound arguments)
    ok: bool  # False when validation failed or the tool reported an error
    content: str  # the tool output, stored as given (never interpreted)
    error: Optional[str]  # error text when not ok
    latency_s: float  # time the tool took


@dataclass(frozen=True)
class StepDone:
    turn: int  # turn index
    step: int  # step index inside the turn
    action: Action  # the action that was executed (or closed the turn)
    source: str  # one of STEP_SOURCES
    timings: dict[str, float]  # seconds per stage (keys from STAGES; a shadow run adds "shadow", in no stage)
    gold: Optional[Action] = None  # the gold action for this step, when known
    draft_correct: Optional[bool] = None  # was the draft equivalent to gold (None: unknown)


@dataclass(frozen=True)
class TurnDone:
    turn: int  # turn index
    steps: int  # steps taken in the turn
    ended_by: str  # "answer", "blocked" or "limit"


@dataclass(frozen=True)
class EpisodeDone:
    task_id: str  # Task.id
    passed: bool  # the task's checker verdict
    check_message: str  # why it failed ("" when passed)
    wall_s: float  # wall time of the whole episode
    steps: int  # steps over all turns


StepEvent = Union[EpisodeStarted, TurnStarted, Proposed, VerdictGiven, PolicyDecided, ToolExecuted,
                  StepDone, TurnDone, EpisodeDone]
