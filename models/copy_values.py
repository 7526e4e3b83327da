"""Copy-constrained decoding of tool-call string values.

While a model writes a string value inside a ``<tool_call>``'s ``"arguments"``, only tokens
that keep the value a substring of the conversation (user turns, tool outputs, earlier
arguments) are allowed, plus the closing quote. A copy starts and ends on word boundaries
(a letter or digit never continues across its edge): the value cannot begin in the middle of
a word, and the quote may close it only where its copy ends a word, so ``report`` may not be
cut to ``rep``. Small models then only have to choose which span to copy, not spell it. The constraint never applies to keys, numbers,
booleans or text outside tool calls, so answers stay free.

This is a decoding option of a checkpoint (``spectool.json``: ``"copy_values": true``), off
by default. It knows nothing about tasks or verifiers.
"""

from __future__ import annotations

import functools
from typing import Any, Optional, Sequence

import torch
from transformers.generation.logits_process import LogitsProcessor

TOOL_CALL_OPEN = "<tool_call>"
ARGUMENTS_KEY = '"arguments"'


def open_string_value(text: str) -> Optional[str]:
    """The partial string value being written at the end of ``text``, or None.

    ``text`` is the generated reply so far. Returns the characters of the argument value
    written since its opening quote when the reply ends inside a JSON string that is a
    value (not a key) within the last tool call's ``"arguments"``; None otherwise (also
    after an escape, where the raw characters would not match the context).
    """
    start = text.rfind(TOOL_CALL_OPEN)
    if start < 0:
        return None
    call = text[start + len(TOOL_CALL_OPEN):]
    key_at = call.find(ARGUMENTS_KEY)
    if key_at < 0:
        return None
    body = call[key_at + len(ARGUMENTS_KEY):]
    brace = body.find("{")
    if brace < 0 or body[:brace].strip() != ":":
        return None
    stack: list[str] = []  # "{" or "[" containers
    expect_key = False  # inside an object, the next string is a key
    in_string, is_value, escaped, value = False, False, False, []
    for char in body[brace:]:
        if in_string:
            if escaped:
                escaped = False
                value.append(char)
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                if stack and stack[-1] == "{" and not is_value:
                    expect_key = False
            else:
                value.append(char)
            continue
        if char == '"':
            in_string, escaped, value = True, False, []
            is_value = not (stack and stack[-1] == "{" and expect_key)
        elif char in "{[":
            stack.append(char)
            expect_key = char == "{"
        elif char in "}]":
            if stack:
                stack.pop()
            if not stack:
                return None  # the arguments object is closed
            expect_key = False
        elif char == ",":
            expect_key = bool(stack) and stack[-1] == "{"
        elif char == ":":
            expect_key = False
    if in_string and is_value and not escaped:
        return "".join(value)
    return None


def context_text(messages: Sequence[dict[str, Any]]) -> str:
    """Everything a value may be copied from: message contents and earlier call arguments."""
    import json

    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        for call in message.get("tool_calls") or []:
            arguments = (call.get("function") or call).get("arguments")
            parts.append(arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False))
    return "\n".join(parts)


@functools.lru_cache(maxsize=4)
def _pieces(tokenizer: Any) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...], int]:
    """Token ids by their text, the ids of a lone double quote, and the longest token text."""
    by_text: dict[str, list[int]] = {}
    for token_id in range(len(tokenizer)):
        piece = tokenizer.decode([token_id], skip_special_tokens=False)
        if piece and "\ufffd" not in piece:  # partial UTF-8 bytes never match context text
            by_text.setdefault(piece, []).append(token_id)
    quotes = tuple(by_text.get('"', ()))
    return {k: tuple(v) for k, v in by_text.items()}, quotes, max(map(len, by_text), default=1)


def at_boundary(text: str, index: int) -> bool:
    """True when a word edge lies before ``text[index]``: not a letter or digit on both sides."""
    return index <= 0 or index >= len(text) or not (text[index - 1].isalnum() and text[index].isalnum())


def copy_choices(partial: str, context: str, by_text: dict[str, tuple[int, ...]],
                 longest: int) -> tuple[set[int], bool]:
    """Tokens that continue ``partial`` as a copy from ``context``, and whether the value may close now.

    Only copies that start on a word boundary count; closing is allowed where one of them also
    ends on a boundary (or when ``partial`` is empty: an empty value).
    """
    allowed: set[int] = set()
    can_close = partial == ""
    start = context.find(partial)
    while start >= 0:
        end = start + len(partial)
        if at_boundary(context, start):
            can_close = can_close or at_boundary(context, end)
            for length in range(1, min(longest, len(context) - end) + 1):
                allowed.update(by_text.get(context[end:end + length], ()))
        start = context.find(partial, start + 1)
    return allowed, can_close


def allowed_tokens(partial: str, context: str, by_text: dict[str, tuple[int, ...]], longest: int) -> set[int]:
    """Ids of tokens whose text continues ``partial`` as a word-aligned copy from ``context``."""
    return copy_choices(partial, context, by_text, longest)[0]


class CopyValuesProcessor(LogitsProcessor):
    """Masks tokens that would make an argument value stop being a substring of its context."""

    def __init__(self, tokenizer: Any, contexts: Sequence[str], prompt_width: int) -> None:
        self.tokenizer = tokenizer  # decodes the reply so far
        self.contexts = list(contexts)  # per batch row, the text values may be copied from
        self.prompt_width = prompt_width  # generated tokens start at this column (left padding)
        self.by_text, self.quotes, self.longest = _pieces(tokenizer)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row in range(input_ids.shape[0]):
            reply = self.tokenizer.decode(input_ids[row, self.prompt_width:], skip_special_tokens=False)
            partial = open_string_value(reply)
            if partial is None:
                continue
            allowed, can_close = copy_choices(partial, self.contexts[row], self.by_text, self.longest)
            if can_close or not allowed:  # never leave a row without a way to go on
                allowed |= set(self.quotes)
            mask = torch.full_like(scores[row], float("-inf"))
            mask[list(allowed)] = 0.0
            scores[row] = scores[row] + mask
        return scores
