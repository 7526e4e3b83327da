"""Turn tasks into training sequences for chat models: whole gold conversations, loss on replies.

One task becomes one token sequence (its gold actions replayed on a fresh episode, real tool
outputs included); the labels keep only the assistant replies, so every step of the task is
trained in one pass over a shared prefix. This module knows nothing about model sizes or
optimisers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from spectool_app.context import MAX_TOOL_CHARS, gold_steps
from spectool_app.parsing import format_qwen3_reply
from spectool_app.task import Task

IGNORE_INDEX = -100  # label value that the loss skips


@dataclass(frozen=True)
class Sequence:
    """One training sequence."""

    task_id: str  # the task it came from
    input_ids: list[int]  # the whole rendered conversation
    labels: list[int]  # input_ids on assistant replies (and their end token), IGNORE_INDEX elsewhere


def reply_text(action: Any) -> str:
    """What the assistant writes for ``action`` (Qwen3 format), without the end token."""
    return format_qwen3_reply(action)


def conversation_spans(task: Task, tokenizer: Any, max_tool_chars: int) -> tuple[str, list[tuple[int, int]]]:
    """The rendered gold conversation and the character spans of every assistant reply.

    Each reply span starts where that step's generation prompt ends and runs through the
    end-of-turn token, so the model learns to stop.
    """
    steps = list(gold_steps(task, max_tool_chars))
    spans: list[tuple[int, int]] = []
    text = ""
    for step in steps:
        prompt = tokenizer.apply_chat_template(
            step.messages, tools=step.tools, add_generation_prompt=True, tokenize=False
        )
        if text and not prompt.startswith(text):
            raise ValueError(f"chat template is not prefix-stable on task {task.id}; cannot mask replies")
        reply = reply_text(step.gold) + tokenizer.eos_token
        spans.append((len(prompt), len(prompt) + len(reply)))
        text = prompt + reply
    return text, spans


def encode_task(task: Task, tokenizer: Any, max_tool_chars: int = MAX_TOOL_CHARS, max_tokens: int = 2048) -> Sequence:
    """Tokenize ``task``'s gold conversation with labels on replies only.

    Sequences longer than ``max_tokens`` are cut at the end (their last replies are lost).
    """
    text, spans = conversation_spans(task, tokenizer, max_tool_chars)
    encoded = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    ids: list[int] = encoded["input_ids"][:max_tokens]
    offsets = encoded["offset_mapping"][:max_tokens]
    labels = [IGNORE_INDEX] * len(ids)
    span_index = 0
    for i, (start, end) in enumerate(offsets):
        while span_index < len(spans) and start >= spans[span_index][1]:
            span_index += 1
        if span_index < len(spans) and start >= spans[span_index][0] and end <= spans[span_index][1]:
            labels[i] = ids[i]
    return Sequence(task.id, ids, labels)


def encode_tasks(tasks: Iterable[Task], tokenizer: Any, **kwargs: Any) -> Iterator[Sequence]:
    """:func:`encode_task` over many tasks."""
    for task in tasks:
        yield encode_task(task, tokenizer, **kwargs)


def tokenizer_corpus(tasks: Iterable[Task], max_tool_chars: int = MAX_TOOL_CHARS) -> Iterator[str]:
    """Plain texts to train a tokenizer on: each task's final context and every gold reply."""
    for task in tasks:
        steps = list(gold_steps(task, max_tool_chars))
        if not steps:
            continue
        parts = [str(m.get("content") or "") for m in steps[-1].messages]
        parts += [reply_text(step.gold) for step in steps]
        parts += [tool["function"]["name"] for tool in steps[-1].tools]
        yield "\n".join(parts)
