"""Text formats of actions: parse untrusted model text into actions, format actions back.

Formats:
- Qwen3/Hermes replies: optional ``<think>...</think>``, then one or more
  ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks, or ``BLOCKED: reason``,
  or plain answer text. JSON is read leniently with ``json_repair``.
- OpenAI ``tool_calls`` lists (client objects, dicts, or their JSON text).
- BFCL python-call strings, ``mv(source='a', destination='b')`` or ``sort('x')``,
  read with ``ast`` and literal values only (nothing is ever evaluated).

Positional arguments of python calls are kept under the keys ``"$0"``, ``"$1"``, ...;
binding them to parameter names needs the tool schema (see ``signatures.bind_arguments``).

Round trips: ``parse(format(action)) == [action]`` for every tool call whose arguments are
JSON values; for an ``Answer`` only when its text is non-empty, already stripped, does not
start with ``BLOCKED:`` and holds no ``<tool_call>``/``<think>`` tags; for ``Blocked`` when
the reason is stripped.

This module knows nothing about tool schemas (names are checked for shape only), models
or execution.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from typing import Any

import json_repair

from spectool_app.actions import Action, ActionError, Answer, Blocked, ToolCall

MAX_CALL_TEXT = 200_000  # characters; longer model text is refused before parsing
MAX_ARGUMENT_DEPTH = 20  # nesting levels of an arguments object (the object itself is level 1)
MAX_TOOL_NAME = 64  # characters in a tool name (the OpenAI limit)
POSITIONAL_PREFIX = "$"
BLOCKED_PREFIX = "BLOCKED:"  # a reply starting with this (any case) is a refusal

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_CALL_OPEN, _CALL_CLOSE = "<tool_call>", "</tool_call>"
_TAGS = re.compile(r"</?think>|</?tool_call>")
_TOOL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_JSON_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|[\[\]{}]', re.DOTALL)
_PRESCAN_DEPTH = 64  # raw bracket depth refused before json_repair recurses into it
_DECODER = json.JSONDecoder()


class ParseError(ActionError):
    """Model text that is not a valid action; the message names the problem."""


# ---------------------------------------------------------------- shared checks


def _check_text(text: Any, what: str) -> None:
    """Refuse non-text and text over :data:`MAX_CALL_TEXT`."""
    if not isinstance(text, str):
        raise ParseError(f"expected {what} as text, got {type(text).__name__}")
    if len(text) > MAX_CALL_TEXT:
        raise ParseError(f"{what} is {len(text)} characters; the limit is {MAX_CALL_TEXT}")


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value: scalars 0, a container 1 + its deepest child."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children = list(item.values())
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        deepest = max(deepest, level + 1)
        if level + 1 > MAX_ARGUMENT_DEPTH:  # deep enough to refuse; stop walking
            return level + 1
        stack.extend((child, level + 1) for child in children)
    return deepest


def _check_depth(arguments: dict[str, Any], name: str) -> None:
    depth = _depth(arguments)
    if depth > MAX_ARGUMENT_DEPTH:
        raise ParseError(
            f"arguments of {name} are nested more than {MAX_ARGUMENT_DEPTH} levels deep"
        )


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_tool_name(name: str, where: str) -> None:
    if len(name) > MAX_TOOL_NAME or not _TOOL_NAME.fullmatch(name):
        raise ParseError(
            f"{where}: tool name {_shown(name)} is not allowed; a tool name is an ASCII letter "
            f"followed by letters, digits or underscores, at most {MAX_TOOL_NAME} characters"
        )


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return kinds.get(type(value), "a number" if isinstance(value, (int, float)) else "?")


def _raw_depth(text: str) -> int:
    """Bracket depth of JSON-like text, ignoring brackets inside double-quoted strings."""
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _load_json(text: str, where: str) -> Any:
    """Read JSON leniently (``json_repair``); refuse empty, huge or absurdly deep text."""
    _check_text(text, where)
    if not text.strip():
        raise ParseError(f"{where} is empty; expected a JSON object")
    if _raw_depth(text) > _PRESCAN_DEPTH:
        raise ParseError(f"{where} is nested more than {MAX_ARGUMENT_DEPTH} levels deep")
    try:
        return json_repair.loads(text)
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:
        raise ParseError(f"{where} is not readable JSON ({type(exc).__name__})") from exc


def _call_from_json(data: Any, where: str) -> ToolCall:
    """Build a call from ``{"name": str, "arguments": object | JSON text of an object}``."""
    if not isinstance(data, Mapping):
        raise ParseError(
            f"{where} must be a JSON object with 'name' and 'arguments', got {_json_kind(data)}"
        )
    name = data.get("name")
    if not isinstance(name, str):
        raise ParseError(f"{where} needs a string 'name', got {_json_kind(name)}")
    _check_tool_name(name, where)
    if "arguments" not in data:
        raise ParseError(
            f"{where} ({name}) has no 'arguments'; write \"arguments\": {{}} for a tool "
            "without parameters"
        )
    arguments = data["arguments"]
    if isinstance(arguments, str):
        arguments = _load_json(arguments, f"{where} ({name}) arguments")
    if not isinstance(arguments, Mapping):
        raise ParseError(
            f"{where} ({name}): 'arguments' must be a JSON object, got {_json_kind(arguments)}"
        )
    arguments = dict(arguments)
    _check_depth(arguments, name)
    return ToolCall(name, arguments)


# ---------------------------------------------------------------- BFCL python calls


def _literal(node: ast.AST, where: str) -> Any:
    """Evaluate a literal node (str, number, bool, None, list, dict, tuple) or refuse."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as exc:
        shown = ast.unparse(node)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise ParseError(
            f"argument {where} is not a literal value ({shown}); only strings, numbers, "
            "booleans, None, lists and dicts are allowed"
        ) from exc


def _call_from_node(node: ast.AST) -> ToolCall:
    if not isinstance(node, ast.Call):
        raise ParseError(f"expected a function call, got {type(node).__name__}")
    if not isinstance(node.func, ast.Name):
        raise ParseError(
            f"the called name must be a plain identifier, got {ast.unparse(node.func)[:60]!r}"
        )
    name = node.func.id
    if name.startswith("_"):
        raise ParseError(f"private or dunder name {name!r} cannot be called")
    arguments: dict[str, Any] = {}
    for index, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            raise ParseError("*args is not allowed in a tool call")
        arguments[f"{POSITIONAL_PREFIX}{index}"] = _literal(arg, f"#{index} of {name}")
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ParseError("**kwargs is not allowed in a tool call")
        if keyword.arg in arguments:
            raise ParseError(f"argument {keyword.arg!r} given twice in {name}")
        arguments[keyword.arg] = _literal(keyword.value, f"{keyword.arg!r} of {name}")
    _check_depth(arguments, name)
    return ToolCall(name, arguments)


def parse_python_calls(text: str) -> list[ToolCall]:
    """Parse one BFCL python-call string or a list of them.

    Accepts ``f(a=1)``, ``[f(a=1), g('x')]`` and ``f(a=1); g()``-free forms only:
    a single expression that is a call or a list/tuple of calls.

    Raises:
        ParseError: not a call, a non-literal argument, a dotted or private name, too long,
            arguments nested deeper than :data:`MAX_ARGUMENT_DEPTH`.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_CALL_TEXT:
        raise ParseError(f"call text is {len(text)} characters; the limit is {MAX_CALL_TEXT}")
    source = text.strip()
    if not source:
        raise ParseError("empty call text")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ParseError(f"not valid python call syntax: {exc.msg} (column {exc.offset})") from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ParseError(f"call text could not be parsed: {type(exc).__name__}") from exc
    body = tree.body
    nodes = body.elts if isinstance(body, (ast.List, ast.Tuple)) else [body]
    return [_call_from_node(node) for node in nodes]


def parse_python_call(text: str) -> ToolCall:
    """Parse exactly one python-call string (see :func:`parse_python_calls`)."""
    calls = parse_python_calls(text)
    if len(calls) != 1:
        raise ParseError(f"expected exactly one call, got {len(calls)}")
    return calls[0]


def format_python_call(call: ToolCall) -> str:
    """Format a call as a BFCL python-call string with ``repr`` literals.

    Positional keys (``$0``...) are written positionally, the rest as keywords.
    """
    positional = sorted(
        (k for k in call.arguments if k.startswith(POSITIONAL_PREFIX)), key=lambda k: int(k[1:])
    )
    parts = [repr(call.arguments[k]) for k in positional]
    parts += [f"{k}={v!r}" for k, v in call.arguments.items() if not k.startswith(POSITIONAL_PREFIX)]
    return f"{call.name}({', '.join(parts)})"


# ---------------------------------------------------------------- Qwen3 / Hermes replies


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _read_call_block(text: str, start: int, index: int) -> tuple[ToolCall, int]:
    """Read the call that follows ``<tool_call>`` at ``start``; return it and where it ends.

    Strict JSON is tried first, so a closing tag inside a string value does not cut the
    call short; otherwise the text up to ``</tool_call>`` (or the end) goes to json_repair.
    """
    where = f"tool call #{index}"
    body_start = _skip_space(text, start)
    try:
        data, end = _DECODER.raw_decode(text, body_start)
    except RecursionError as exc:
        raise ParseError(f"{where} is nested more than {MAX_ARGUMENT_DEPTH} levels deep") from exc
    except ValueError:
        data, end = None, -1
    if end >= 0:
        after = _skip_space(text, end)
        if text.startswith(_CALL_CLOSE, after):
            return _call_from_json(data, where), after + len(_CALL_CLOSE)
        if after == len(text):
            return _call_from_json(data, where), after
    close = text.find(_CALL_CLOSE, start)
    stop = len(text) if close < 0 else close
    body = text[start:stop]
    if _CALL_OPEN in body:
        raise ParseError(f"{where} is not closed with {_CALL_CLOSE} before the next {_CALL_OPEN}")
    if not body.strip():
        raise ParseError(f"{where} is empty; expected {{\"name\": ..., \"arguments\": {{...}}}}")
    call = _call_from_json(_load_json(body, where), where)
    return call, stop if close < 0 else close + len(_CALL_CLOSE)


def _scan_reply(text: str) -> tuple[list[ToolCall], str]:
    """Split a reply into its tool calls and the text outside calls and thinking."""
    calls: list[ToolCall] = []
    outside: list[str] = []
    pos = 0
    while True:
        match = _TAGS.search(text, pos)
        if match is None:
            outside.append(text[pos:])
            return calls, "".join(outside)
        outside.append(text[pos : match.start()])
        tag = match.group()
        if tag == _THINK_OPEN:  # thinking ends at </think>; unclosed, at the first call or end
            close = text.find(_THINK_CLOSE, match.end())
            if close >= 0:
                pos = close + len(_THINK_CLOSE)
            else:
                next_call = text.find(_CALL_OPEN, match.end())
                pos = len(text) if next_call < 0 else next_call
        elif tag == _THINK_CLOSE:  # the prompt opened <think>: all before this was thinking
            outside.clear()
            pos = match.end()
        elif tag == _CALL_CLOSE:
            raise ParseError(f"found {_CALL_CLOSE} without an opening {_CALL_OPEN}")
        else:
            call, pos = _read_call_block(text, match.end(), len(calls) + 1)
            calls.append(call)


def _is_blocked(text: str) -> bool:
    return text[: len(BLOCKED_PREFIX)].upper() == BLOCKED_PREFIX


def parse_qwen3_reply(text: str) -> list[Action]:
    """Parse a Qwen3/Hermes assistant reply into actions.

    ``<think>...</think>`` is removed (also a leading one left unclosed, and the text
    before a ``</think>`` whose ``<think>`` was in the prompt). Then:

    - each ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` is a ToolCall, in
      order (``arguments`` may be a JSON string; a last call without its closing tag is
      read to the end); other text is ignored;
    - else text starting with ``BLOCKED:`` (any case) is ``[Blocked(reason)]``;
    - else the stripped text is ``[Answer(text)]``.

    Raises:
        ParseError: empty reply, text over :data:`MAX_CALL_TEXT`, a call that is not an
            object with a string ``name`` and an object ``arguments``, a tool name that is
            not an identifier, arguments nested over :data:`MAX_ARGUMENT_DEPTH`, a stray
            ``</tool_call>``, or a reply that both starts with ``BLOCKED:`` and calls tools.
    """
    _check_text(text, "reply")
    calls, rest = _scan_reply(text)
    rest = rest.strip()
    if calls:
        if _is_blocked(rest):
            raise ParseError(
                f"reply both refuses ({BLOCKED_PREFIX}) and calls tools; give one or the other"
            )
        return list(calls)
    if not rest:
        raise ParseError("empty reply: no tool call, no BLOCKED: reason and no answer text")
    if _is_blocked(rest):
        return [Blocked(rest[len(BLOCKED_PREFIX) :].strip())]
    return [Answer(rest)]


def format_qwen3_reply(action: Action) -> str:
    """Format one action as Qwen3 writes it (the inverse of :func:`parse_qwen3_reply`).

    Several calls in one message are the formatted calls joined with ``"\\n"``.
    """
    if isinstance(action, ToolCall):
        data = {"name": action.name, "arguments": action.arguments}
        payload = json.dumps(data, ensure_ascii=False)
        return f"{_CALL_OPEN}\n{payload}\n{_CALL_CLOSE}"
    if isinstance(action, Blocked):
        return f"{BLOCKED_PREFIX} {action.reason}"
    if isinstance(action, Answer):
        return action.text
    raise TypeError(f"expected a ToolCall, Answer or Blocked, got {type(action).__name__}")


# ---------------------------------------------------------------- OpenAI tool_calls


def _field(item: Any, key: str) -> Any:
    """``item[key]`` for dicts, ``item.key`` for client objects, None when absent."""
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def _openai_call(item: Any, where: str) -> ToolCall:
    kind = _field(item, "type")
    if kind not in (None, "function"):
        raise ParseError(f"{where} has type {_shown(kind)}; only 'function' calls are allowed")
    function = _field(item, "function")
    if function is None:
        raise ParseError(
            f"{where} needs a 'function' with 'name' and 'arguments', got {type(item).__name__}"
        )
    arguments = _field(function, "arguments")
    if arguments is None or arguments == "":  # some servers send "" for a call without arguments
        arguments = {}
    return _call_from_json({"name": _field(function, "name"), "arguments": arguments}, where)


def parse_openai_tool_calls(tool_calls: list[Any] | str | None) -> list[ToolCall]:
    """Read an OpenAI ``message.tool_calls`` list (client objects or dicts) or its JSON text.

    Each item is ``{"type": "function", "function": {"name": str, "arguments": "<json>"}}``;
    ``arguments`` may also be an object already. ``None`` (no calls) gives ``[]``.

    Raises:
        ParseError: not a list, an item without ``function``, a bad name or bad arguments.
    """
    if tool_calls is None:
        return []
    if isinstance(tool_calls, str):
        _check_text(tool_calls, "tool_calls text")
        try:
            tool_calls = json.loads(tool_calls)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"tool_calls text is not JSON: {type(exc).__name__}") from exc
    if not isinstance(tool_calls, (list, tuple)):
        raise ParseError(f"tool_calls must be a list, got {type(tool_calls).__name__}")
    return [_openai_call(item, f"tool_calls[{i}]") for i, item in enumerate(tool_calls)]


def format_openai_tool_calls(calls: list[ToolCall]) -> list[dict[str, Any]]:
    """Format calls as an OpenAI ``tool_calls`` list with ids ``call_0``, ``call_1``, ..."""
    formatted = []
    for index, call in enumerate(calls):
        if not isinstance(call, ToolCall):
            raise TypeError(f"calls[{index}] is a {type(call).__name__}; expected a ToolCall")
        arguments = json.dumps(call.arguments, ensure_ascii=False)
        formatted.append(
            {
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            }
        )
    return formatted
