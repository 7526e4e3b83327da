"""Text and HTML for the views: short action strings and the live step log of the Run tab.

Every piece of model or tool text that ends up in HTML passes through :func:`html.escape`
here; the views show it nowhere else as markup. ``LiveLog`` folds the loop's events of one
run into rows and renders them as an HTML table. This module knows nothing about gradio,
the store or models: it reads only :mod:`spectool_app.events` values and stored JSON text.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from spectool_app.events import (EpisodeDone, EpisodeStarted, PolicyDecided, Proposed, StepDone, StepEvent,
                                 ToolExecuted, TurnStarted, VerdictGiven)

SHORT_CHARS = 120  # actions and texts in tables are cut to this many characters
TOOL_CHARS = 300  # tool output in the live log is cut to this many characters
LIVE_ROWS = 200  # the live log shows at most the latest this many steps


def clip(text: Optional[str], limit: int = SHORT_CHARS) -> str:
    """``text`` cut to ``limit`` characters with a note of how much was left out ("" for None)."""
    if text is None:
        return ""
    return text if len(text) <= limit else f"{text[:limit]}… [+{len(text) - limit} chars]"


def action_text(action: Any) -> str:
    """A one-line human form of an action given as ``Action``, dict or stored JSON text.

    ``ls(a=1)`` for a tool call, ``ANSWER: text``, ``BLOCKED: reason``; "" for None; text
    that is not an action is returned as it is.
    """
    if action is None:
        return ""
    data = action
    if isinstance(action, str):
        try:
            data = json.loads(action)
        except json.JSONDecodeError:
            return action
    elif hasattr(action, "to_dict"):
        data = action.to_dict()
    if not isinstance(data, dict):
        return str(action)
    kind = data.get("kind")
    if kind == "tool_call":
        args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in (data.get("arguments") or {}).items())
        return f"{data.get('name')}({args})"
    if kind == "answer":
        return f"ANSWER: {data.get('text', '')}"
    if kind == "blocked":
        return f"BLOCKED: {data.get('reason', '')}"
    return json.dumps(data, ensure_ascii=False)


def short_action(action: Any, limit: int = SHORT_CHARS) -> str:
    """:func:`action_text` cut to ``limit`` characters."""
    return clip(action_text(action), limit)


def esc(value: Any) -> str:
    """HTML-escaped text of any value (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


@dataclass
class LiveStep:
    """What the live log shows of one step."""

    turn: int  # turn index
    step: int  # step index inside the turn
    draft: str = ""  # the drafter's action (or its parse error)
    verdict: str = ""  # "p=0.43 < 0.50 reject"
    target: str = ""  # the target's action (fallback, execute, shadow or wasted)
    policy: str = ""  # "allowed" or the denying rule
    tool: str = ""  # tool output (clipped) or error
    executed: str = ""  # the action that ran, and who decided it
    timings: str = ""  # seconds per stage


@dataclass
class LiveLog:
    """The events of one run folded into rows for the Run tab."""

    mode: str  # loop mode of the run
    run_id: Optional[int] = None  # the run's id once known
    steps: list[LiveStep] = field(default_factory=list)  # finished and in-flight steps
    turns: dict[int, str] = field(default_factory=dict)  # turn -> user text of the current episode
    episodes: list[tuple[str, bool, str, float]] = field(default_factory=list)  # (task, passed, message, wall s)
    current_task: str = ""  # task of the episode in flight

    def _step(self, turn: int, step: int) -> LiveStep:
        if not self.steps or (self.steps[-1].turn, self.steps[-1].step) != (turn, step):
            self.steps.append(LiveStep(turn, step))
        return self.steps[-1]

    def observe(self, event: StepEvent) -> None:
        """Fold one event into the log."""
        if isinstance(event, EpisodeStarted):
            self.current_task, self.turns = event.task_id, {}
        elif isinstance(event, TurnStarted):
            self.turns[event.turn] = event.user_text
        elif isinstance(event, Proposed):
            text = short_action(event.action) if event.action is not None else f"parse error: {clip(event.parse_error)}"
            row = self._step(event.turn, event.step)
            if event.role == "drafter":
                row.draft = text
            else:
                row.target = f"[{event.purpose}] {text}"
        elif isinstance(event, VerdictGiven):
            sign = ">=" if event.p_accept >= event.threshold else "<"
            self._step(event.turn, event.step).verdict = (
                f"{event.verifier}: p={event.p_accept:.3f} {sign} {event.threshold:.2f} "
                f"{'accept' if event.accepted else 'reject'}")
        elif isinstance(event, PolicyDecided):
            self._step(event.turn, event.step).policy = "allowed" if event.allowed else f"denied: {event.rule}"
        elif isinstance(event, ToolExecuted):
            out = event.content if event.ok else f"error: {event.error}"
            self._step(event.turn, event.step).tool = clip(out, TOOL_CHARS)
        elif isinstance(event, StepDone):
            row = self._step(event.turn, event.step)
            row.executed = f"{short_action(event.action)} ({event.source})"
            row.timings = " ".join(f"{k} {v:.3f}s" for k, v in event.timings.items() if v)
        elif isinstance(event, EpisodeDone):
            self.episodes.append((event.task_id, event.passed, event.check_message, event.wall_s))

    def to_html(self) -> str:
        """The log as an HTML table; every text cell escaped."""
        head = f"<div class='live-log'><h4>{esc(self.mode)}" + (f" — run {self.run_id}" if self.run_id else "")
        parts = [head + "</h4>"]
        for task, passed, message, wall in self.episodes:
            verdict = "PASS" if passed else f"FAIL: {clip(message)}"
            parts.append(f"<p class='episode-{'pass' if passed else 'fail'}'>{esc(task)}: <b>{esc(verdict)}</b>"
                         f" ({wall:.2f} s)</p>")
        columns = ("turn.step", "draft", "verdict", "target", "policy", "executed", "tool result", "stage times")
        parts.append("<table class='live-steps'><tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>")
        for row in self.steps[-LIVE_ROWS:]:
            cells = (f"{row.turn}.{row.step}", row.draft, row.verdict, row.target, row.policy, row.executed,
                     row.tool, row.timings)
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table></div>")
        return "".join(parts)
