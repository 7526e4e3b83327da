"""Verifiers judge a drafted action: one scoring method, one threshold rule, kinds in a plain dict.

``judge(verifier, context, draft, threshold) -> Verdict``: a verifier computes ``p_accept`` in
[0, 1] and the draft is accepted when ``p_accept >= threshold``. Kinds:

- ``always`` / ``never``: trivial baselines (accept everything / nothing);
- ``confidence``: the drafter's mean token probability (SpecEyes-style confidence gate);
- ``target_likelihood``: the target's per-token likelihood of the draft, one forward pass;
- ``exact_match``: the target generates its own action and the draft is accepted only when
  equivalent (lossless; DSP / Speculative Actions). Its verdict carries the target's proposal
  so a rejection needs no second target call.

The trained classifier and the prompt critic register themselves in the same dict. The interface
(``JudgeContext``, ``Verdict``, ``judge``) is defined in ``spectool_app.judging``, which both this
module and ``trained_verifier`` import, and is importable from here too. This module knows
nothing about storage or the UI; models are passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from models.base import propose_hinted
from spectool_app.actions import Action
from spectool_app.judging import JudgeContext, Verdict, Verifier, judge  # the interface, also importable from here
from spectool_app.parsing import format_qwen3_reply
from spectool_app.signatures import equivalent


@dataclass
class Constant:
    """Accepts everything (``p=1``) or nothing (``p=0``)."""

    name: str  # "always" or "never"
    p: float  # the constant score

    def score(self, context: JudgeContext, draft: Action) -> tuple[float, dict[str, Any]]:
        return self.p, {}


@dataclass
class Confidence:
    """The drafter's own mean token probability, ``exp(mean log-prob)``."""

    name: str = "confidence"

    def score(self, context: JudgeContext, draft: Action) -> tuple[float, dict[str, Any]]:
        if context.draft_mean_logprob is None:
            return 0.0, {"reason": "drafter reported no log-probs"}
        return math.exp(context.draft_mean_logprob), {}


@dataclass
class TargetLikelihood:
    """The target's per-token probability of the draft: ``exp(score / tokens)``, no generation."""

    target: Any  # a ChatModel with score() and a tokenizer (counts the reply's tokens)
    name: str = "target_likelihood"

    def score(self, context: JudgeContext, draft: Action) -> tuple[float, dict[str, Any]]:
        total = self.target.score(context.messages, context.tools, draft)
        reply = format_qwen3_reply(draft)
        n_tokens = len(self.target.tokenizer(reply, add_special_tokens=False)["input_ids"]) + 1  # + end of turn
        return math.exp(total / n_tokens), {"logprob": total, "tokens": n_tokens}


@dataclass
class ExactMatch:
    """The target generates; accept only an equivalent draft (lossless).

    The draft's text is offered to the target as candidate tokens (as on the speculative loop's
    fallback), so a draft the target agrees with costs about one forward pass to confirm.
    """

    target: Any  # a ChatModel
    name: str = "exact_match"

    def score(self, context: JudgeContext, draft: Action) -> tuple[float, dict[str, Any]]:
        hint = context.draft_text or format_qwen3_reply(draft)
        proposal = propose_hinted(self.target, context.messages, context.tools, hint)
        target_action = proposal.action
        same = target_action is not None and equivalent(draft, target_action, context.tools)
        return (1.0 if same else 0.0), {"target_proposal": proposal}


VerifierFactory = Callable[[dict[str, Any]], Verifier]


def _lazy(factory: str) -> VerifierFactory:
    """A factory from ``spectool_app.trained_verifier``, imported on first use (torch stays unloaded)."""

    def build(models: dict[str, Any]) -> Verifier:
        import importlib

        return getattr(importlib.import_module("spectool_app.trained_verifier"), factory)(models)

    return build


VERIFIER_KINDS: dict[str, VerifierFactory] = {
    "always": lambda models: Constant("always", 1.0),
    "never": lambda models: Constant("never", 0.0),
    "confidence": lambda models: Confidence(),
    "target_likelihood": lambda models: TargetLikelihood(models["target"]),
    "exact_match": lambda models: ExactMatch(models["target"]),
    "trained": _lazy("trained_from_models"),
    "prompt_critic": _lazy("prompt_critic_from_models"),
}


def make_verifier(kind: str, models: dict[str, Any]) -> Verifier:
    """Build a verifier of ``kind`` from the loaded ``models`` (roles -> ChatModel).

    Raises:
        ValueError: unknown kind, naming the valid ones.
    """
    if kind not in VERIFIER_KINDS:
        raise ValueError(f"unknown verifier {kind!r}; valid verifiers: {', '.join(VERIFIER_KINDS)}")
    return VERIFIER_KINDS[kind](models)
