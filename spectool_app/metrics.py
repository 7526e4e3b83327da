"""Run statistics with one definition each: ``RunStats.observe(event)`` accumulates, ``summary()`` reports.

Formulas (``steps`` counts executed actions over all episodes):
- acceptance rate ``a`` = accepted drafts / steps;
- target-call savings = 1 - target calls / steps (a target call is a target proposal made to decide
  a step: ``events.TARGET_CALL_PURPOSES``; shadow and cancelled parallel work are counted apart);
- false-accept rate = accepted drafts that are wrong / wrong drafts (gold known);
  false-reject rate = rejected drafts that are right / right drafts (gold known);
- pass rate = passed episodes / episodes;
- speedup = geometric mean over tasks of time(target_only) / time(mode), with a 95% percentile
  bootstrap interval (:func:`speedup_interval`);
- analytical bound (sequential, k=1) = t_T / (t_d + t_v + (1 - a) t_F) (:func:`speedup_bound`), with
  t_d and t_v the mean draft and verify time per step, t_F the mean latency of this run's complete
  target generations (target calls and shadow calls; cancelled parallel work excluded) and t_T a
  plain target step: the target_only run's t_F when given (the bench), else this run's own. A
  target offered the rejected draft's tokens answers faster than a plain step (t_F < t_T); with
  t_F = t_T this is DESIGN.md's t_T / (t_d + t_v + (1 - a) t_T).

The same object feeds the CLI summary, the benchmark and the app. It knows nothing about storage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from spectool_app.events import TARGET_CALL_PURPOSES, EpisodeDone, Proposed, StepDone, StepEvent, VerdictGiven


def _ratio(num: float, den: float) -> Optional[float]:
    return num / den if den else None


def speedup_bound(t_draft: float, t_verify: float, t_target: Optional[float], acceptance: Optional[float],
                  fallback_rate: Optional[float] = None, t_fallback: Optional[float] = None) -> Optional[float]:
    """Sequential k=1 bound ``t_T / (t_d + t_v + f t_F)``, ``f = 1 - a`` unless given, ``t_F = t_T`` unless given.

    ``fallback_rate`` is the share of steps that needed a separate target call: ``1 - a`` for
    verifiers that do not run the target, 0 for exact_match (its judgment already generated
    with the target, which then sits inside ``t_v``). ``t_fallback`` is what such a call cost when
    it differs from a plain target step ``t_T`` (a target offered the draft's tokens). None when a
    term is unknown.
    """
    if not t_target or acceptance is None:
        return None
    f = 1 - acceptance if fallback_rate is None else fallback_rate
    return _ratio(t_target, t_draft + t_verify + f * (t_target if t_fallback is None else t_fallback))


def speedup_interval(ratios: list[float], seed: int = 0) -> dict[str, Optional[float]]:
    """Geometric-mean speedup of per-task time ratios and its 95% bootstrap interval.

    Fewer than two ratios give no interval (``low``/``high`` None).
    """
    import numpy as np
    from scipy import stats

    clean = [r for r in ratios if r and r > 0 and math.isfinite(r)]
    if not clean:
        return {"speedup": None, "low": None, "high": None, "tasks": 0}
    point = float(stats.gmean(clean))
    if len(clean) < 2:
        return {"speedup": point, "low": None, "high": None, "tasks": 1}
    result = stats.bootstrap((np.asarray(clean),), lambda x, axis: stats.gmean(x, axis=axis), vectorized=True,
                             confidence_level=0.95, n_resamples=2000, method="percentile",
                             rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return {"speedup": point, "low": float(low), "high": float(high), "tasks": len(clean)}


@dataclass
class RunStats:
    """Counters over the events of one run."""

    episodes: int = 0  # finished episodes
    passed: int = 0  # episodes the checker passed
    steps: int = 0  # executed actions
    accepted: int = 0  # steps whose executed action was the draft after a verdict
    drafts_judged: int = 0  # verdicts given
    target_calls: int = 0  # target proposals that decided a step (TARGET_CALL_PURPOSES)
    fallback_calls: int = 0  # separate target calls after a rejection (purpose "fallback")
    target_generations: int = 0  # complete target generations (target calls and shadow calls)
    target_seconds: float = 0.0  # their total latency
    wrong_drafts: int = 0  # judged drafts known to be wrong
    right_drafts: int = 0  # judged drafts known to be right
    false_accepts: int = 0  # wrong drafts accepted
    false_rejects: int = 0  # right drafts rejected
    stage_seconds: dict[str, float] = field(default_factory=dict)  # summed step timings per stage
    tokens: dict[str, int] = field(default_factory=dict)  # generated tokens per role
    wall_seconds: float = 0.0  # summed episode wall time
    _last_verdict: Optional[VerdictGiven] = None

    def observe(self, event: StepEvent) -> None:
        """Accumulate one loop event."""
        if isinstance(event, VerdictGiven):
            self.drafts_judged += 1
            self._last_verdict = event
        elif isinstance(event, Proposed):
            self.tokens[event.role] = self.tokens.get(event.role, 0) + event.completion_tokens
            if event.role == "target" and event.purpose in TARGET_CALL_PURPOSES:
                self.target_calls += 1
                self.fallback_calls += event.purpose == "fallback"
            if event.role == "target" and event.purpose != "wasted":
                self.target_generations += 1
                self.target_seconds += event.latency_s
        elif isinstance(event, StepDone):
            self._observe_step(event)
        elif isinstance(event, EpisodeDone):
            self.episodes += 1
            self.passed += event.passed
            self.wall_seconds += event.wall_s

    def _observe_step(self, event: StepDone) -> None:
        self.steps += 1
        for stage, seconds in event.timings.items():
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds
        verdict, self._last_verdict = self._last_verdict, None
        if verdict is None or (verdict.turn, verdict.step) != (event.turn, event.step):
            return
        self.accepted += verdict.accepted and event.source == "draft"
        if event.draft_correct is True:
            self.right_drafts += 1
            self.false_rejects += not verdict.accepted
        elif event.draft_correct is False:
            self.wrong_drafts += 1
            self.false_accepts += verdict.accepted

    def summary(self, plain_target_s: Optional[float] = None) -> dict[str, Any]:
        """Every metric of the module docstring, plus the stage means it uses.

        ``plain_target_s``: a target step's latency measured without a draft (the bench's
        target_only run), when known; it is then the bound's ``t_T`` and this run's own target
        calls (offered the draft's tokens, so cheaper) are the fallback cost ``t_F``.
        """
        means = {stage: seconds / self.steps for stage, seconds in self.stage_seconds.items()} if self.steps else {}
        acceptance = _ratio(self.accepted, self.steps)
        t_own = _ratio(self.target_seconds, self.target_generations)
        # a run with no target call and no judged draft (draft_only) has no bound
        t_target = (plain_target_s or t_own) if t_own is not None or self.drafts_judged else None
        fallback_rate = _ratio(self.fallback_calls, self.steps) if self.drafts_judged else None
        bound = speedup_bound(means.get("draft", 0.0), means.get("verify", 0.0), t_target, acceptance, fallback_rate,
                              t_fallback=t_own)
        return {
            "episodes": self.episodes, "steps": self.steps,
            "pass_rate": _ratio(self.passed, self.episodes),
            "acceptance_rate": acceptance,
            "target_call_savings": None if not self.steps else 1 - self.target_calls / self.steps,
            "false_accept_rate": _ratio(self.false_accepts, self.wrong_drafts),
            "false_reject_rate": _ratio(self.false_rejects, self.right_drafts),
            "speedup_bound": bound,
            "stage_means_s": means, "target_latency_s": t_target, "target_call_latency_s": t_own,
            "tokens": dict(self.tokens), "wall_s": self.wall_seconds,
        }
