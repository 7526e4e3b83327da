"""Text formats of actions: parse untrusted model text into actions, format actions back.

Formats:
- BFCL python-call strings, ``mv(source='a', destination='b')`` or ``sort('x')``,
  read with ``ast`` and literal values only (nothing is ever evaluated).

Positional arguments are kept under the keys ``"$0"``, ``"$1"``, ...; binding them to
parameter names needs the tool schema (see ``equivalence.bind_arguments``).

This module knows nothing about tool schemas, models or execution.
"""

from __future__ import annotations

import ast
from typing import Any

from spectool_app.actions import ActionError, ToolCall

MAX_CALL_TEXT = 200_000  # characters; longer model text is refused before parsing
POSITIONAL_PREFIX = "$"


class ParseError(ActionError):
    """Model text that is not a valid action; the message names the problem."""


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
    return ToolCall(name, arguments)


def parse_python_calls(text: str) -> list[ToolCall]:
    """Parse one BFCL python-call string or a list of them.

    Accepts ``f(a=1)``, ``[f(a=1), g('x')]`` and ``f(a=1); g()``-free forms only:
    a single expression that is a call or a list/tuple of calls.

    Raises:
        ParseError: not a call, a non-literal argument, a dotted or private name, too long.
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
