"""The verifier interface: what a verifier sees, what it returns, and the threshold rule.

``judge(verifier, context, draft, threshold) -> Verdict``: a verifier computes ``p_accept`` in
[0, 1] and the draft is accepted when ``p_accept >= threshold``. Kinds live in
``spectool_app.verifiers`` (and ``trained_verifier`` for the trained classifier and the prompt
critic); both import this module, and trained_verifier never imports verifiers (which loads it
by name when one of its kinds is first made).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from spectool_app.actions import Action


@dataclass(frozen=True)
class JudgeContext:
    """What a verifier may look at."""

    messages: list[dict[str, Any]]  # the chat context the draft answers
    tools: list[dict[str, Any]]  # tool schemas offered at this step
    draft_mean_logprob: Optional[float] = None  # the drafter's mean token log-prob, when known
    draft_text: str = ""  # the drafter's reply as generated, when known


@dataclass(frozen=True)
class Verdict:
    """A verifier's judgment of one draft."""

    p_accept: float  # probability the draft is acceptable, in [0, 1]
    accepted: bool  # p_accept >= threshold
    latency_s: float  # wall time of the judgment
    detail: dict[str, Any] = field(default_factory=dict)  # kind-specific extras


class Verifier(Protocol):
    """Anything with a name and a ``score`` method is a verifier."""

    name: str  # the kind's name

    def score(self, context: JudgeContext, draft: Action) -> tuple[float, dict[str, Any]]:
        """Return ``(p_accept, detail)``."""
        ...


def judge(verifier: Verifier, context: JudgeContext, draft: Action, threshold: float) -> Verdict:
    """Score ``draft`` and apply the threshold rule ``accepted = p_accept >= threshold``."""
    started = time.perf_counter()
    p_accept, detail = verifier.score(context, draft)
    p_accept = min(1.0, max(0.0, float(p_accept)))
    return Verdict(p_accept, p_accept >= threshold, time.perf_counter() - started, detail)
