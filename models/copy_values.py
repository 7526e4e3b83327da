"""Copy-constrained decoding of tool calls: names and keys from the tool list, values from the context.

While a model writes a string value inside a ``<tool_call>``'s ``"arguments"``, only tokens
that keep the value a substring of the conversation (user turns, tool outputs, earlier
arguments) are allowed, plus the closing quote. A copy starts and ends on word boundaries
(a letter or digit never continues across its edge): the value cannot begin in the middle of
a word, and the quote may close it only where its copy ends a word, so ``report`` may not be
cut to ``rep``. Small models then only have to choose which span to copy, not spell it.
Numbers are held to the same rule: a number argument must be one written in the context
(``288`` may also be written ``288.0``) or a digit 0-9. The tool name must be one of the listed tools
and a top-level argument key one of that tool's parameters. The constraint never applies to
nested keys, booleans or text outside tool calls, so answers stay free.

This is a decoding option of a checkpoint (``spectool.json``: ``"copy_values": true``), off
by default. It knows nothing about tasks or verifiers.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Optional, Sequence

import torch
from transformers.generation.logits_process import LogitsProcessor

TOOL_CALL_OPEN = "<tool_call>"
ARGUMENTS_KEY = '"arguments"'
NUMBER_CHARS = frozenset("-0123456789.")  # what a number literal is written with (no exponents)
NUMBER_PATTERN = re.compile(r"(?<![\w.-])-?\d+(?:\.\d+)?(?![\w])")  # a number written as a whole word
SMALL_NUMBERS = tuple(str(d) for d in range(10)) + tuple(f"{d}.0" for d in range(10))
OPEN_NAME = re.compile(r'^\s*\{\s*"name"\s*:\s*"([^"\\]*)$')  # a call whose name is being written
CALL_NAME = re.compile(r'^\s*\{\s*"name"\s*:\s*"([^"\\]*)"')  # a call's finished name


def open_name(text: str) -> Optional[str]:
    """The tool name being written at the end of ``text`` (the reply so far), or None elsewhere."""
    start = text.rfind(TOOL_CALL_OPEN)
    if start < 0:
        return None
    found = OPEN_NAME.match(text[start + len(TOOL_CALL_OPEN):])
    return found.group(1) if found else None


def call_name(text: str) -> Optional[str]:
    """The name of the last tool call in ``text``, once written."""
    start = text.rfind(TOOL_CALL_OPEN)
    found = CALL_NAME.match(text[start + len(TOOL_CALL_OPEN):]) if start >= 0 else None
    return found.group(1) if found else None


def open_value(text: str) -> Optional[tuple[str, str]]:
    """The argument value or key being written at the end of ``text``: ``(kind, chars)`` or None.

    ``text`` is the generated reply so far. A value position is one inside the last tool
    call's ``"arguments"`` object (after a key's colon, or an item of a list). ``"string"``:
    the reply ends inside a JSON string value, ``chars`` written since its opening quote
    (None after an escape, where the raw characters would not match the context).
    ``"key"``: the reply ends inside a key of the arguments object itself (not a nested one).
    ``"number"``: the reply ends where a value is due or inside a bare value made of number
    characters so far (``chars`` may be empty: the value has not started). None elsewhere
    (nested keys, the tool name, text outside tool calls, a closed arguments object).
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
    value_due = False  # a value may start here (after a key's colon, or a list item)
    bare: list[str] = []  # characters of a bare value (number, true, false, null) in progress
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
            value_due, bare = False, []
        elif char in "{[":
            stack.append(char)
            expect_key = char == "{"
            value_due, bare = char == "[", []
        elif char in "}]":
            if stack:
                stack.pop()
            if not stack:
                return None  # the arguments object is closed
            expect_key, value_due, bare = False, False, []
        elif char == ",":
            expect_key = bool(stack) and stack[-1] == "{"
            value_due, bare = bool(stack) and stack[-1] == "[", []
        elif char == ":":
            expect_key, value_due, bare = False, True, []
        elif char.isspace():
            if bare:
                value_due, bare = False, []  # a bare value ended
        elif value_due:
            bare.append(char)
    if in_string:
        if escaped:
            return None
        if not is_value:
            return ("key", "".join(value)) if len(stack) == 1 else None
        return "string", "".join(value)
    if value_due and all(c in NUMBER_CHARS for c in bare):
        return "number", "".join(bare)
    return None


def open_string_value(text: str) -> Optional[str]:
    """The partial string value being written at the end of ``text``, or None (see :func:`open_value`)."""
    found = open_value(text)
    return found[1] if found is not None and found[0] == "string" else None


def number_literals(context: str) -> frozenset[str]:
    """Numbers an argument may take: those written in ``context`` (also ``n.0`` for an integer
    ``n`` and ``n`` for ``n.0``), plus the digits 0-9 and ``d.0`` (flags, positions, counts)."""
    found = set(SMALL_NUMBERS)
    for match in NUMBER_PATTERN.finditer(context):
        literal = match.group(0)
        found.add(literal)
        if "." not in literal:
            found.add(literal + ".0")
        elif literal.endswith(".0"):
            found.add(literal[:-2])
    return frozenset(found)


def number_prefixes(literals: frozenset[str]) -> frozenset[str]:
    """Every non-empty prefix of every literal."""
    return frozenset(lit[:i] for lit in literals for i in range(1, len(lit) + 1))


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


@functools.lru_cache(maxsize=4)
def _number_pieces(tokenizer: Any) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Ids and texts of the tokens written only with number characters (digits, ``.``, ``-``)."""
    ids, texts = [], []
    for token_id in range(len(tokenizer)):
        piece = tokenizer.decode([token_id], skip_special_tokens=False)
        if piece and all(c in NUMBER_CHARS for c in piece):
            ids.append(token_id)
            texts.append(piece)
    return tuple(ids), tuple(texts)


def prefix_choices(partial: str, options: Sequence[str], by_text: dict[str, tuple[int, ...]],
                   longest: int) -> tuple[set[int], bool]:
    """Tokens that keep ``partial`` a prefix of one of ``options``, and whether ``partial`` is one of them."""
    allowed: set[int] = set()
    for option in options:
        if option.startswith(partial):
            rest = option[len(partial):]
            for length in range(1, min(longest, len(rest)) + 1):
                allowed.update(by_text.get(rest[:length], ()))
    return allowed, partial in options


def tool_schema(tools: Optional[Sequence[dict[str, Any]]]) -> dict[str, tuple[str, ...]]:
    """Each listed tool's name and its parameter names."""
    schema = {}
    for tool in tools or []:
        function = tool.get("function", tool)
        properties = (function.get("parameters") or {}).get("properties") or {}
        schema[str(function.get("name", ""))] = tuple(map(str, properties))
    return schema


def number_choices(partial: str, literals: frozenset[str], prefixes: frozenset[str],
                   pieces: tuple[tuple[int, ...], tuple[str, ...]]) -> tuple[set[int], bool]:
    """Number tokens that keep ``partial`` a prefix of an allowed literal, and whether it may end now."""
    ids, texts = pieces
    allowed = {i for i, text in zip(ids, texts) if partial + text in prefixes}
    return allowed, partial == "" or partial in literals


class CopyValuesProcessor(LogitsProcessor):
    """Masks tokens that would make an argument value stop being a copy from its context.

    String values must stay word-aligned substrings of the context; numbers must be numbers
    written in the context (or a small constant, see :func:`number_literals`). With ``tools``,
    the tool name must be a listed one and top-level keys parameters of the named tool.
    """

    def __init__(self, tokenizer: Any, contexts: Sequence[str], prompt_width: int,
                 tools: Optional[Sequence[dict[str, Any]]] = None) -> None:
        self.tokenizer = tokenizer  # decodes the reply so far
        self.contexts = list(contexts)  # per batch row, the text values may be copied from
        self.prompt_width = prompt_width  # generated tokens start at this column (left padding)
        self.schema = tool_schema(tools)  # tool name -> parameter names (empty: names and keys are free)
        self.by_text, self.quotes, self.longest = _pieces(tokenizer)
        self.numbers = _number_pieces(tokenizer)
        self._literals: dict[int, tuple[frozenset[str], frozenset[str]]] = {}  # per row, computed on first use

    def _number_mask(self, row: int, partial: str, scores: torch.Tensor) -> Optional[torch.Tensor]:
        if row not in self._literals:
            literals = number_literals(self.contexts[row])
            self._literals[row] = literals, number_prefixes(literals)
        literals, prefixes = self._literals[row]
        allowed, can_end = number_choices(partial, literals, prefixes, self.numbers)
        if not allowed and not can_end:
            return None  # already off every copy: leave the model free rather than stuck
        if can_end:  # anything but a number token that leads off every literal
            mask = torch.zeros_like(scores)
            mask[[i for i in self.numbers[0] if i not in allowed]] = float("-inf")
        else:  # the number must go on
            mask = torch.full_like(scores, float("-inf"))
            mask[list(allowed)] = 0.0
        return mask

    def _mask(self, row: int, reply: str, scores: torch.Tensor) -> Optional[torch.Tensor]:
        """The additive mask for one row's next token, or None where ``reply`` ends somewhere free."""
        name = open_name(reply)
        found = None if name is not None else open_value(reply)
        if name is not None:
            choice = prefix_choices(name, tuple(self.schema), self.by_text, self.longest) if self.schema else None
        elif found is None:
            choice = None
        elif found[0] == "number":
            return self._number_mask(row, found[1], scores)
        elif found[0] == "key":
            keys = self.schema.get(call_name(reply) or "")
            choice = prefix_choices(found[1], keys, self.by_text, self.longest) if keys else None
        else:
            choice = copy_choices(found[1], self.contexts[row], self.by_text, self.longest)
        if choice is None:
            return None
        allowed, can_close = choice
        if can_close or not allowed:  # never leave a row without a way to go on
            allowed |= set(self.quotes)
        mask = torch.full_like(scores, float("-inf"))
        mask[list(allowed)] = 0.0
        return mask

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row in range(input_ids.shape[0]):
            reply = self.tokenizer.decode(input_ids[row, self.prompt_width:], skip_special_tokens=False)
            mask = self._mask(row, reply, scores[row])
            if mask is not None:
                scores[row] = scores[row] + mask
        return scores
