"""What every chat-model back-end gives the loop: a proposal per prompt and a score per action.

A back-end takes OpenAI-style messages (``{"role", "content", "tool_calls"?}``) and tool
schemas (``{"type": "function", "function": {...}}``) and returns a :class:`Proposal`: the
raw reply, the actions parsed from it (Qwen3 ``<tool_call>`` JSON, ``BLOCKED: ...`` or plain
text), token counts, latency and the mean log-probability of the generated tokens.
A reply that does not parse is a Proposal with ``parse_error`` set, never an exception.

This module does not know how a model runs (see ``transformers_chat`` and ``openai_chat``),
which models exist (see ``presets``) or what an action means for the tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

from spectool_app import parsing
from spectool_app.actions import Action, ActionError

Message = dict[str, Any]  # OpenAI chat message: role, content, optional tool_calls / tool_call_id
Tools = list[dict[str, Any]]  # OpenAI function-tool schemas


class ModelUnavailableError(RuntimeError):
    """A model (folder, hub id or preset checkpoint) cannot be loaded; the message says how to fix it."""


class BackendError(RuntimeError):
    """A back-end failed to answer (HTTP error, timeout, malformed body); the message names the server."""


@dataclass
class Proposal:
    """One reply of a chat model and what it means."""

    raw_text: str  # the reply as generated (special tokens removed, think blocks kept)
    actions: list[Action] = field(default_factory=list)  # parsed actions; [] when parse_error is set
    parse_error: str | None = None  # why raw_text is not a valid reply, None when it parsed
    prompt_tokens: int = 0  # tokens in the rendered prompt
    completion_tokens: int = 0  # tokens generated, end-of-turn token included
    latency_s: float = 0.0  # wall time of this proposal (a batch's time for each of its members)
    mean_logprob: float | None = None  # mean log-probability of the generated tokens, None if unknown

    @property
    def action(self) -> Action | None:
        """The first parsed action, or None when the reply did not parse or was empty."""
        return self.actions[0] if self.actions else None


@runtime_checkable
class ChatModel(Protocol):
    """A model that proposes the next action and scores a given one."""

    name: str  # shown in logs, the database and the UI

    def propose(self, messages: Sequence[Message], tools: Tools | None) -> Proposal:
        """Generate one reply for one conversation."""
        ...

    def propose_batch(self, batch: Sequence[Sequence[Message]], tools: Tools | None) -> list[Proposal]:
        """Generate one reply per conversation (same tools for all), in input order."""
        ...

    def score(self, messages: Sequence[Message], tools: Tools | None, action: Action) -> float:
        """Sum log-likelihood of ``format_qwen3_reply(action)`` as the assistant reply (one forward pass)."""
        ...


def parse_reply(raw_text: str) -> tuple[list[Action], str | None]:
    """Parse a model reply into actions, turning any parse failure into an error string.

    Returns:
        ``(actions, None)`` on success, ``([], message)`` when the text is not a valid reply.
    """
    try:
        return list(parsing.parse_qwen3_reply(raw_text)), None
    except (ActionError, ValueError, TypeError, RecursionError) as exc:
        return [], f"{type(exc).__name__}: {exc}"


def make_proposal(raw_text: str, **stats: Any) -> Proposal:
    """Build a Proposal from raw reply text and its statistics (see :class:`Proposal` fields)."""
    actions, error = parse_reply(raw_text)
    return Proposal(raw_text=raw_text, actions=actions, parse_error=error, **stats)


def propose_hinted(model: ChatModel, messages: Sequence[Message], tools: Tools | None, hint: str) -> Proposal:
    """``model``'s own reply, with ``hint`` (a draft reply) offered as candidate tokens.

    A back-end with ``propose_assisted(messages, tools, hint)`` checks the hint's tokens in one
    forward pass and keeps them up to its first different choice (greedy assisted decoding: the
    reply is unchanged, only faster when the draft is mostly right); others just ``propose``.
    """
    if hint and takes_hints(model):
        return model.propose_assisted(messages, tools, hint)
    return model.propose(messages, tools)


def propose_unrefused(model: Any, messages: Sequence[Message], tools: Tools | None) -> Proposal | None:
    """``model``'s best reply that is not ``BLOCKED``, or None when its back-end cannot steer decoding
    (it has no ``propose_unrefused``: e.g. a remote OpenAI-compatible server)."""
    method = getattr(model, "propose_unrefused", None)
    return method(messages, tools) if callable(method) else None


def takes_hints(model: Any) -> bool:
    """Whether ``model``'s back-end can check a draft's tokens (has ``propose_assisted``)."""
    return callable(getattr(model, "propose_assisted", None))


def format_reply(action: Action) -> str:
    """The assistant text that stands for ``action`` (Qwen3 tool-call format)."""
    return parsing.format_qwen3_reply(action)
