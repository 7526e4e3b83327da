"""The three things an agent can do in one step, as plain immutable values.

An action is one of:
- ``ToolCall(name, arguments)``: call one tool with keyword arguments;
- ``Answer(text)``: reply to the user (answer, ask for a missing value, or end the turn);
- ``Blocked(reason)``: refuse an unsafe action; nothing executes.

This module knows nothing about text formats (see ``parsing``), tool schemas or
execution (see ``envs``): it only defines the values and their JSON form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union


def _freeze(value: Any) -> Any:
    """Turn lists and dicts into hashable tuples so actions can live in sets."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class ToolCall:
    """A call of one tool by name with keyword arguments (JSON values only)."""

    name: str  # the tool's name as it appears in the tool schema
    arguments: dict[str, Any] = field(default_factory=dict)  # keyword -> JSON value

    kind = "tool_call"

    def __hash__(self) -> int:
        return hash((self.name, _freeze(self.arguments)))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "arguments": self.arguments}


@dataclass(frozen=True)
class Answer:
    """A reply to the user; ends the agent's part of the turn."""

    text: str = ""  # what the agent says

    kind = "answer"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class Blocked:
    """A refusal of an unsafe action; nothing executes."""

    reason: str = ""  # why the action was refused

    kind = "blocked"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason}


Action = Union[ToolCall, Answer, Blocked]
ACTION_KINDS = ("tool_call", "answer", "blocked")


class ActionError(ValueError):
    """Raised when text or data cannot become an action; the message says why."""


def action_from_dict(data: dict[str, Any]) -> Action:
    """Rebuild an action from ``Action.to_dict()`` output.

    Raises:
        ActionError: the kind is unknown or a field has the wrong type.
    """
    if not isinstance(data, dict):
        raise ActionError(f"an action must be a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind == "tool_call":
        name, arguments = data.get("name"), data.get("arguments", {})
        if not isinstance(name, str) or not name:
            raise ActionError("a tool_call needs a non-empty string 'name'")
        if not isinstance(arguments, dict):
            raise ActionError("a tool_call's 'arguments' must be a JSON object")
        return ToolCall(name, dict(arguments))
    if kind == "answer":
        return Answer(str(data.get("text", "")))
    if kind == "blocked":
        return Blocked(str(data.get("reason", "")))
    raise ActionError(f"unknown action kind {kind!r}; allowed: {', '.join(ACTION_KINDS)}")


def action_to_json(action: Action) -> str:
    """One-line JSON of an action (stable key order), for storage and logs."""
    return json.dumps(action.to_dict(), sort_keys=True, ensure_ascii=False)


def action_from_json(text: str) -> Action:
    """Inverse of :func:`action_to_json`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ActionError(f"stored action is not JSON: {exc}") from exc
    return action_from_dict(data)
