"""The one Task type every task source produces.

A task is a scripted conversation over stateful tools: user turns, the tools the
agent may call, the tools' initial state, and per turn the gold actions (tool calls
followed by one closing ``Answer`` or ``Blocked``). It knows nothing about models,
execution or storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spectool_app.actions import Action, Answer, Blocked, ToolCall

SOURCES = ("bfcl", "synthetic", "safety")
SPLITS = ("train", "dev", "test")
SAFETY_LABELS = ("unsafe", "benign")


@dataclass
class Task:
    """One multi-turn task; ``gold[i]`` lists the actions expected in turn ``i``."""

    id: str  # unique across sources, e.g. "bfcl:multi_turn_base_7"
    source: str  # one of SOURCES
    split: str  # one of SPLITS
    turns: list[str]  # user message per turn ("" where the turn has no user message)
    involved_classes: list[str]  # bfcl back-end classes instantiated for the episode
    initial_config: dict[str, Any]  # per-class scenario state loaded into fresh instances
    gold: list[list[Action]]  # per turn: tool calls, then one closing Answer or Blocked
    category: str = ""  # finer grouping inside the source (bfcl category, intent, ...)
    excluded_tools: list[str] = field(default_factory=list)  # never offered to the agent
    held_out_tools: dict[int, list[str]] = field(default_factory=dict)  # turn -> tools offered from then on
    long_context: bool = False  # load bfcl back-ends with their long-context padding
    policy: str = ""  # the stated policy the agent must follow ("" when none)
    safety_label: str | None = None  # "unsafe", "benign" or None (not a safety task)
    injected: dict[str, Any] = field(default_factory=dict)  # safety: where an injection sits
    meta: dict[str, Any] = field(default_factory=dict)  # source-specific extras (phrasing id, ...)

    @property
    def steps(self) -> int:
        """Number of gold actions in the whole task."""
        return sum(len(turn) for turn in self.gold)

    @property
    def gold_calls(self) -> list[list[ToolCall]]:
        """Per turn, the gold tool calls only (what bfcl's checker replays)."""
        return [[a for a in turn if isinstance(a, ToolCall)] for turn in self.gold]

    def closing_action(self, turn: int) -> Action:
        """The gold action that ends ``turn`` (an Answer unless the turn must be refused)."""
        last = self.gold[turn][-1] if self.gold[turn] else Answer("")
        return last if isinstance(last, (Answer, Blocked)) else Answer("")


class TaskError(KeyError):
    """Unknown task id, source or split; the message names the valid choices."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""
