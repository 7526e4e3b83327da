"""Constrained decoding of tool calls: names, keys and types from the tool list, values from the context.

While a model writes a string value inside a ``<tool_call>``'s ``"arguments"``, only tokens
that keep the value a substring of the conversation (user turns, tool outputs, earlier
arguments) or of the parameter's own description are allowed, plus the closing quote; a
parameter that lists its values (``enum``, or BFCL's ``[Enum]: ...`` note) takes only one of
them. A copy starts and ends on word boundaries (a letter or digit never continues across
its edge): the value cannot begin in the middle of a word, and the quote may close it only
where its copy ends a word, so ``report`` may not be cut to ``rep``. Small models then only
have to choose which span to copy, not spell it. Numbers are held to the same rule: a number
argument must be one written in the context (``288`` may also be written ``288.0``) or a
digit 0-9. The tool name must be one of the listed tools; a top-level argument key one of
that tool's parameters not written yet; a value must start as its parameter's type says
(string, number, list, boolean); and the arguments object closes only once every required
parameter is written (``models.tool_schema`` reads all this from the tool list). The
constraint never applies to nested keys or text outside tool calls, so answers stay free.

Some values are codes a user never writes: ``imperial_si_conversion`` wants ``"cm"`` where the
user said "centimeters". A checkpoint may list, per tool and parameter, such values it learned
in training (``known_values``, see ``spectool_app.training.known_values``); they count as one
more source to copy from, so the rule no longer forbids what the model was taught.

This is a decoding option of a checkpoint (``spectool.json``: ``"copy_values": true``, and
optionally ``"known_values": {tool: {parameter: [values]}}``), off by default. It knows nothing
about tasks or verifiers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import torch
from transformers.generation.logits_process import LogitsProcessor

from models.tool_schema import Param, ToolSpec, tool_specs

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


@dataclass(frozen=True)
class Position:
    """Where a reply ends inside a tool call's ``"arguments"`` object (see :func:`scan`)."""

    kind: str  # "string", "key", "bare", "due", "key_due" or "after"
    chars: str = ""  # of the string, key or bare value written so far
    key: Optional[str] = None  # the top-level argument the value belongs to (None deeper down)
    item: bool = False  # the value is an item of the list that is that argument's value
    written: tuple[str, ...] = ()  # top-level keys written so far, in order
    opened: bool = False  # "key_due" straight after the opening brace (the object may close empty)


def scan(text: str) -> Optional[Position]:
    """Where the reply ``text`` ends inside the last tool call's arguments, or None elsewhere.

    Kinds: ``"string"`` inside a string value (``chars`` since its quote; None after an
    escape, where raw characters would not match the context); ``"key"`` inside a key of the
    arguments object itself; ``"due"`` where a value may start (after a key's colon, or as a
    list item); ``"bare"`` inside an unquoted value (a number, ``true``...); ``"key_due"``
    where the arguments object expects a key; ``"after"`` where a top-level value has ended
    and a comma or the closing brace is due. None: nested keys, the tool name, text outside
    tool calls, a closed arguments object.
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
    after = False  # a top-level value has just ended
    opened = False  # just after an object's opening brace
    bare: list[str] = []  # characters of a bare value (number, true, false, null) in progress
    key: Optional[str] = None  # the top-level key whose value is being written
    written: list[str] = []
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
                if is_value:
                    after = len(stack) == 1
                else:
                    expect_key = False
                    if len(stack) == 1:
                        key = "".join(value)
                        written.append(key)
            else:
                value.append(char)
            continue
        if char == '"':
            in_string, escaped, value = True, False, []
            is_value = not (stack and stack[-1] == "{" and expect_key)
            value_due, bare, after, opened = False, [], False, False
        elif char in "{[":
            stack.append(char)
            expect_key, opened = char == "{", char == "{"
            value_due, bare, after = char == "[", [], False
        elif char in "}]":
            if stack:
                stack.pop()
            if not stack:
                return None  # the arguments object is closed
            expect_key, value_due, bare, opened = False, False, [], False
            after = len(stack) == 1
        elif char == ",":
            expect_key = bool(stack) and stack[-1] == "{"
            value_due, bare, after, opened = bool(stack) and stack[-1] == "[", [], False, False
        elif char == ":":
            expect_key, value_due, bare, after, opened = False, True, [], False, False
        elif char.isspace():
            if bare:
                value_due, bare, after = False, [], len(stack) == 1  # a bare value ended
        elif value_due:
            bare.append(char)
    depth = len(stack)
    item = depth == 2 and stack[1] == "["
    owner = key if depth == 1 or item else None
    if in_string:
        if escaped:
            return None
        if not is_value:
            return Position("key", "".join(value), written=tuple(written)) if depth == 1 else None
        return Position("string", "".join(value), owner, item, tuple(written))
    if value_due:
        return Position("bare" if bare else "due", "".join(bare), owner, item, tuple(written))
    if depth == 1 and expect_key:
        return Position("key_due", written=tuple(written), opened=opened)
    if depth == 1 and after:
        return Position("after", key=key, written=tuple(written))
    return None


def open_value(text: str) -> Optional[tuple[str, str]]:
    """The argument value or key being written at the end of ``text``: ``(kind, chars)`` or None.

    A schema-free view of :func:`scan`: ``"string"`` inside a string value, ``"key"`` inside
    a top-level key, ``"number"`` where a value is due or inside a bare value made of number
    characters so far (``chars`` may be empty). None everywhere else.
    """
    found = scan(text)
    if found is None or found.kind in ("key_due", "after"):
        return None
    if found.kind in ("due", "bare"):
        return ("number", found.chars) if all(c in NUMBER_CHARS for c in found.chars) else None
    return found.kind, found.chars


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


@functools.lru_cache(maxsize=4)
def _space_pieces(tokenizer: Any) -> frozenset[int]:
    """Ids of the tokens written only with whitespace."""
    return frozenset(i for text, ids in _pieces(tokenizer)[0].items() if text.isspace() for i in ids)


def at_boundary(text: str, index: int) -> bool:
    """True when a word edge lies before ``text[index]``: not a letter or digit on both sides."""
    return index <= 0 or index >= len(text) or not (text[index - 1].isalnum() and text[index].isalnum())


def copyable(value: str, text: str) -> bool:
    """True when ``value`` is a word-aligned copy from ``text`` (what the copy rule lets a model write)."""
    start = text.find(value)
    while start >= 0:
        if at_boundary(text, start) and at_boundary(text, start + len(value)):
            return True
        start = text.find(value, start + 1)
    return False


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


def number_choices(partial: str, literals: frozenset[str], prefixes: frozenset[str],
                   pieces: tuple[tuple[int, ...], tuple[str, ...]]) -> tuple[set[int], bool]:
    """Number tokens that keep ``partial`` a prefix of an allowed literal, and whether it may end now."""
    ids, texts = pieces
    allowed = {i for i, text in zip(ids, texts) if partial + text in prefixes}
    return allowed, partial == "" or partial in literals


def expected_type(param: Optional[Param], item: bool) -> Optional[str]:
    """The JSON type a value must have: the parameter's, or its items' for a list item (None: unknown)."""
    if param is None:
        return None
    if item:
        return param.item_type if param.type == "array" else None
    return param.type


class CopyValuesProcessor(LogitsProcessor):
    """Masks tokens that would make a tool call leave its tool list or its context.

    String values must stay word-aligned substrings of the context or of the parameter's
    description, or one of its listed options (``[Enum]``); numbers must be numbers written
    in the context (or a small constant, see :func:`number_literals`). With ``tools``, the
    tool name must be a listed one; top-level keys are that tool's parameters, each written
    once; a value starts as its parameter's type demands (a quote for a string, a number for
    a number, ``[`` for a list, ``true``/``false`` for a boolean); and the arguments object
    closes only once every required parameter is written. Where a rule leaves no token, the
    row is left free rather than stuck.
    """

    def __init__(self, tokenizer: Any, contexts: Sequence[str], prompt_width: int,
                 tools: Optional[Sequence[dict[str, Any]]] = None,
                 known_values: Optional[Mapping[str, Mapping[str, Sequence[str]]]] = None) -> None:
        self.tokenizer = tokenizer  # decodes the reply so far
        self.contexts = list(contexts)  # per batch row, the text values may be copied from
        self.prompt_width = prompt_width  # generated tokens start at this column (left padding)
        self.specs = tool_specs(tools)  # tool name -> parameters (empty: names, keys and types are free)
        self.by_text, self.quotes, self.longest = _pieces(tokenizer)
        self.numbers = _number_pieces(tokenizer)
        self.spaces = _space_pieces(tokenizer)  # whitespace tokens, allowed between JSON items
        self.known_values = {tool: {param: "\n".join(values) for param, values in params.items()}
                             for tool, params in (known_values or {}).items()}  # tool -> param -> one per line
        self._literals: dict[int, tuple[frozenset[str], frozenset[str]]] = {}  # per row, computed on first use

    def _ids(self, *texts: str) -> set[int]:
        return {i for text in texts for i in self.by_text.get(text, ())}

    def _only(self, allowed: set[int], scores: torch.Tensor) -> Optional[torch.Tensor]:
        """A mask that keeps ``allowed`` (None when it is empty: never leave a row stuck)."""
        if not allowed:
            return None
        mask = torch.full_like(scores, float("-inf"))
        mask[list(allowed)] = 0.0
        return mask

    def _number_literals(self, row: int) -> tuple[frozenset[str], frozenset[str]]:
        if row not in self._literals:
            literals = number_literals(self.contexts[row])
            self._literals[row] = literals, number_prefixes(literals)
        return self._literals[row]

    def _closers(self, spec: Optional[ToolSpec], written: Sequence[str], item: bool) -> Optional[set[int]]:
        """Tokens that may end a value: ``,`` and ``]`` in a list; at the top level ``,`` while
        parameters are left and ``}`` once the required ones are written (None: no schema)."""
        if item:
            return self._ids(",", "]")
        if spec is None:
            return None
        closers = self._ids(",") if set(spec.params) - set(written) else set()
        if set(spec.required) <= set(written):
            closers |= self._ids("}")
        return closers

    def _number_mask(self, row: int, partial: str, scores: torch.Tensor, typed: bool,
                     closers: Optional[set[int]]) -> Optional[torch.Tensor]:
        literals, prefixes = self._number_literals(row)
        allowed, can_end = number_choices(partial, literals, prefixes, self.numbers)
        if not allowed and not can_end:
            return None  # already off every copy: leave the model free rather than stuck
        if partial == "" and typed:  # a number must start here
            return self._only(allowed | self.spaces, scores)
        if can_end and partial and closers is not None:  # the number goes on, or its value ends
            return self._only(allowed | closers | self.spaces, scores)
        if can_end:  # anything but a number token that leads off every literal
            mask = torch.zeros_like(scores)
            mask[[i for i in self.numbers[0] if i not in allowed]] = float("-inf")
            return mask
        return self._only(allowed, scores)  # the number must go on

    def _due_mask(self, row: int, kind: Optional[str], item: bool, scores: torch.Tensor) -> Optional[torch.Tensor]:
        """Where a value starts: its first token must open a value of the expected type."""
        if kind in ("number", "integer"):
            return self._number_mask(row, "", scores, True, None)
        openers = {"string": ('"',), "array": ("[",), "object": ("{",), "boolean": ("t", "f", "true", "false")}
        if kind not in openers:
            return self._number_mask(row, "", scores, False, None)
        allowed = self._ids(*openers[kind])
        if kind == "boolean":
            allowed = prefix_choices("", ("true", "false"), self.by_text, self.longest)[0]
        return self._only(allowed | self.spaces | (self._ids("]") if item else set()), scores)

    def _mask(self, row: int, reply: str, scores: torch.Tensor) -> Optional[torch.Tensor]:
        """The additive mask for one row's next token, or None where ``reply`` ends somewhere free."""
        name = open_name(reply)
        if name is not None:
            if not self.specs:
                return None
            return self._choice(prefix_choices(name, tuple(self.specs), self.by_text, self.longest), scores)
        found = scan(reply)
        if found is None:
            return None
        tool = call_name(reply) or ""
        spec = self.specs.get(tool)
        param = spec.params.get(found.key) if spec is not None and found.key is not None else None
        kind = expected_type(param, found.item)
        if found.kind == "key":
            if spec is None or not spec.params:
                return None
            left = tuple(k for k in spec.params if k not in found.written)
            return self._choice(prefix_choices(found.chars, left, self.by_text, self.longest), scores)
        if found.kind == "key_due":
            if spec is None:
                return None
            allowed = self.spaces | (set(self.quotes) if set(spec.params) - set(found.written) else set())
            if found.opened and set(spec.required) <= set(found.written):
                allowed |= self._ids("}")
            return self._only(allowed, scores)
        if found.kind == "after":
            closers = self._closers(spec, found.written, False)
            return None if closers is None else self._only(closers | self.spaces, scores)
        if found.kind == "due":
            return self._due_mask(row, kind, found.item, scores)
        if found.kind == "bare":
            if kind == "boolean":
                allowed, done = prefix_choices(found.chars, ("true", "false"), self.by_text, self.longest)
                closers = self._closers(spec, found.written, found.item) if done else set()
                return self._only(allowed | (closers or set()), scores)
            if all(c in NUMBER_CHARS for c in found.chars):
                closers = self._closers(spec, found.written, found.item)
                return self._number_mask(row, found.chars, scores, False, closers)
            return None
        options = param.options if param is not None else ()
        if options and kind in (None, "string"):
            choice = prefix_choices(found.chars, options, self.by_text, self.longest)
        else:
            known = self.known_values.get(tool, {}).get(found.key or "", "")
            parts = (self.contexts[row], param.description if param is not None else "", known)
            source = "\n".join(part for part in parts if part)
            choice = copy_choices(found.chars, source, self.by_text, self.longest)
        return self._choice(choice, scores)

    def _choice(self, choice: tuple[set[int], bool], scores: torch.Tensor) -> torch.Tensor:
        """A mask keeping ``choice``'s tokens, plus the closing quote where the text may end."""
        allowed, can_close = choice
        if can_close or not allowed:  # never leave a row without a way to go on
            allowed = allowed | set(self.quotes)
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
