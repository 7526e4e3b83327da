"""What a model sees at one step: chat messages built from a task and its history.

Messages use the OpenAI chat form that ``tokenizer.apply_chat_template(tools=...)`` and
OpenAI-compatible servers both take: assistant tool calls under ``tool_calls``, tool
results as ``{"role": "tool"}`` messages, ``Blocked`` as an assistant text
``"BLOCKED: reason"``. This module knows nothing about models, verifiers or storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Optional

from spectool_app.actions import Action, Answer, Blocked, ToolCall
from spectool_app.task import Task

SYSTEM_PROMPT = (
    "You are a tool-using assistant. Take one action per reply: call one tool, answer the user, "
    "or refuse with 'BLOCKED: <reason>' when the action would break the policy."
)
# Tool output shown to a model is cut to this many characters: one setting for training,
# evaluation and the loop, so models see at run time what they were trained on.
MAX_TOOL_CHARS = 400


@dataclass(frozen=True)
class StepRecord:
    """One finished step of history: the action taken and, for tool calls, what the tool said."""

    action: Action  # the action that was executed (or the closing Answer/Blocked)
    result_text: Optional[str] = None  # the tool's output as the agent saw it (tool calls only)


def system_message(task: Task) -> dict[str, str]:
    """The system turn: fixed instructions plus the task's policy, when it has one."""
    text = SYSTEM_PROMPT if not task.policy else f"{SYSTEM_PROMPT}\nPolicy: {task.policy}"
    return {"role": "system", "content": text}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def action_messages(record: StepRecord, max_tool_chars: int) -> list[dict[str, Any]]:
    """The chat messages one history step contributes."""
    action = record.action
    if isinstance(action, ToolCall):
        call = {"type": "function", "function": {"name": action.name, "arguments": action.arguments}}
        messages: list[dict[str, Any]] = [{"role": "assistant", "content": "", "tool_calls": [call]}]
        messages.append({"role": "tool", "content": _clip(record.result_text or "", max_tool_chars)})
        return messages
    if isinstance(action, Blocked):
        return [{"role": "assistant", "content": f"BLOCKED: {action.reason}"}]
    return [{"role": "assistant", "content": action.text}]


def build_messages(
    task: Task, turn: int, history: list[list[StepRecord]], max_tool_chars: int = MAX_TOOL_CHARS
) -> list[dict[str, Any]]:
    """Messages for the next step of ``turn`` given ``history[t]`` for turns ``0..turn``.

    A turn whose user text is empty (bfcl's miss_func turns) adds no user message.
    """
    messages: list[dict[str, Any]] = [system_message(task)]
    for t in range(turn + 1):
        if task.turns[t]:
            messages.append({"role": "user", "content": task.turns[t]})
        for record in history[t] if t < len(history) else []:
            messages.extend(action_messages(record, max_tool_chars))
    return messages


@dataclass(frozen=True)
class GoldStep:
    """One step of a task replayed with gold history: what a model is asked and the right answer."""

    task: Task  # the task this step belongs to
    turn: int  # turn index
    index: int  # step index inside the turn
    messages: list[dict[str, Any]]  # the context (gold history so far)
    tools: list[dict[str, Any]]  # tool schemas offered at this turn
    gold: Action  # the gold action for this step
    episode: Any = None  # with fork=True: an independent copy of the episode before this step


def gold_steps(task: Task, max_tool_chars: int = MAX_TOOL_CHARS, fork: bool = False) -> Iterator[GoldStep]:
    """Replay ``task``'s gold actions on a fresh episode and yield every step's context.

    Tool outputs in the context are the real outputs of the gold calls. ``fork=True`` also
    hands each step a fork of the episode state before it (to try other actions on).
    """
    from spectool_app.envs import Episode  # local: keeps this module importable without bfcl

    episode = Episode(task)
    history: list[list[StepRecord]] = []
    for turn, gold_turn in enumerate(task.gold):
        episode.begin_turn(turn)
        history.append([])
        tools = episode.tools(turn)
        for index, gold in enumerate(gold_turn):
            messages = build_messages(task, turn, history, max_tool_chars)
            yield GoldStep(task, turn, index, messages, tools, gold, episode.fork() if fork else None)
            result_text = episode.execute(gold).content if isinstance(gold, ToolCall) else None
            history[turn].append(StepRecord(gold, result_text))
