"""Tool calls checked against tool schemas: bind, validate, compare.

A schema is one tool in OpenAI form, ``{"type": "function", "function": {"name",
"description", "parameters": {"type": "object", "properties": {...}, "required": [...]}}}``
(a bare ``{"name", "parameters"}`` dict is read the same way). The order of
``properties`` is the positional order of the parameters.

Types follow JSON schema (``string``, ``integer``, ``number``, ``boolean``, ``array``,
``object``, ``null``); BFCL's own spellings ``float``, ``dict``, ``tuple`` and ``any``
are read as ``number``, ``object``, ``array`` and no constraint. BFCL writes a Python
``None`` default as the string ``"None"``: such a default binds to ``None``, and ``None``
is accepted for a parameter whose default is ``None``.

This module knows nothing about text formats (see ``parsing``), the tools' behaviour or
their state: two calls that differ here may still have the same effect (see ``envs``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from spectool_app.actions import Action, ActionError, Answer, Blocked, ToolCall

MAX_ARGUMENT_STRING = 100_000  # characters in any one string inside an argument
MAX_LISTED_TOOLS = 20  # known tool names shown in an "unknown tool" message
POSITIONAL_PREFIX = "$"  # as in parsing.POSITIONAL_PREFIX

_TYPE_ALIASES = {"float": "number", "dict": "object", "tuple": "array", "any": None}


class SignatureError(ActionError):
    """A call that does not fit its tool's signature; the message names the problem."""


def _function(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``function`` part of a schema, checked for a name and parameter properties."""
    function = schema.get("function", schema) if isinstance(schema, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise SignatureError("a tool schema needs {'function': {'name': str, 'parameters': ...}}")
    parameters = function.get("parameters") or {}
    if not isinstance(parameters, Mapping) or not isinstance(
        parameters.get("properties", {}), Mapping
    ):
        raise SignatureError(f"schema of {function['name']}: 'properties' must be an object")
    return function


def _properties(function: Mapping[str, Any]) -> Mapping[str, Any]:
    return (function.get("parameters") or {}).get("properties") or {}


def _required(function: Mapping[str, Any]) -> list[str]:
    return list((function.get("parameters") or {}).get("required") or [])


def _default(prop: Mapping[str, Any]) -> Any:
    value = prop["default"]
    return None if value == "None" else copy.deepcopy(value)


def _positional_index(key: str, tool: str) -> int:
    digits = key[len(POSITIONAL_PREFIX) :]
    if not digits.isdigit():
        raise SignatureError(
            f"{tool}: argument name {key!r} is not allowed; '$' keys are positions $0, $1, ..."
        )
    return int(digits)


def bind_arguments(call: ToolCall, schema: Mapping[str, Any]) -> ToolCall:
    """Name positional arguments and fill absent defaults from the tool's schema.

    ``"$0"``, ``"$1"``... become the parameter names in ``properties`` order; absent
    parameters whose property carries a ``"default"`` get that default. Other keyword
    arguments are kept as given (unknown names are :func:`validate_call`'s business).

    Raises:
        SignatureError: the schema is for another tool, too many positional arguments, a
            malformed ``$`` key, or one parameter given both by position and by name.
    """
    function = _function(schema)
    tool = function["name"]
    if call.name != tool:
        raise SignatureError(f"call of {call.name!r} cannot be bound to the schema of {tool!r}")
    properties = _properties(function)
    names = list(properties)
    bound: dict[str, Any] = {}
    for key, value in call.arguments.items():
        if not key.startswith(POSITIONAL_PREFIX):
            continue
        index = _positional_index(key, tool)
        if index >= len(names):
            raise SignatureError(
                f"{tool} takes {len(names)} parameter(s) ({', '.join(names) or 'none'}); "
                f"got a positional argument #{index}"
            )
        bound[names[index]] = value
    for key, value in call.arguments.items():
        if key.startswith(POSITIONAL_PREFIX):
            continue
        if key in bound:
            raise SignatureError(f"{tool}: argument {key!r} given both by position and by name")
        bound[key] = value
    for name, prop in properties.items():
        if name not in bound and isinstance(prop, Mapping) and "default" in prop:
            bound[name] = _default(prop)
    return ToolCall(tool, bound)


def _find_schema(name: str, tools: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    for schema in tools:
        if _function(schema)["name"] == name:
            return schema
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _type_matches(actual: str, expected: str | None) -> bool:
    expected = _TYPE_ALIASES.get(expected, expected)
    return expected is None or actual == expected or (actual, expected) == ("integer", "number")


def _value_problem(value: Any, prop: Any, where: str) -> str | None:
    """What is wrong with ``value`` for property ``prop``, or None when it fits."""
    if isinstance(value, str) and len(value) > MAX_ARGUMENT_STRING:
        return f"{where} is {len(value)} characters; the limit is {MAX_ARGUMENT_STRING}"
    if not isinstance(prop, Mapping):
        prop = {}
    actual = _json_type(value)
    allowed = prop.get("type")
    allowed = allowed if isinstance(allowed, list) else [allowed]
    if value is None and "default" in prop and _default(prop) is None:
        return None
    if not any(_type_matches(actual, expected) for expected in allowed):
        shown = " or ".join(str(_TYPE_ALIASES.get(t, t)) for t in allowed)
        return f"{where} must be {shown}, got {actual} {value!r:.60}"
    if "enum" in prop and value not in prop["enum"]:
        return f"{where} must be one of {prop['enum']!r:.200}, got {value!r:.60}"
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            problem = _value_problem(item, prop.get("items"), f"{where}[{index}]")
            if problem:
                return problem
    if isinstance(value, Mapping):
        inner = prop.get("properties") if isinstance(prop.get("properties"), Mapping) else {}
        for key, item in value.items():
            problem = _value_problem(item, inner.get(key), f"{where}[{key!r}]")
            if problem:
                return problem
    return None


def validate_call(call: ToolCall, tools: list[Mapping[str, Any]]) -> ToolCall:
    """Check a call against the offered tools and return it bound (see :func:`bind_arguments`).

    Raises:
        SignatureError: unknown tool, unknown argument, missing required argument, a value
            of the wrong JSON type or outside its ``enum``, a string over
            :data:`MAX_ARGUMENT_STRING` characters. ``int`` is a ``number``; ``bool`` is
            neither an ``integer`` nor a ``number``.
    """
    schema = _find_schema(call.name, tools)
    if schema is None:
        known = [_function(s)["name"] for s in tools]
        shown = ", ".join(known[:MAX_LISTED_TOOLS]) or "none"
        extra = len(known) - MAX_LISTED_TOOLS
        more = f" (and {extra} more)" if extra > 0 else ""
        raise SignatureError(f"unknown tool {call.name!r}; known tools: {shown}{more}")
    bound = bind_arguments(call, schema)
    function = _function(schema)
    properties = _properties(function)
    unknown = [key for key in bound.arguments if key not in properties]
    if unknown:
        allowed = ", ".join(properties) or "none"
        shown = ", ".join(repr(key) for key in unknown)
        raise SignatureError(f"{call.name} has no argument {shown}; allowed arguments: {allowed}")
    missing = [name for name in _required(function) if name not in bound.arguments]
    if missing:
        raise SignatureError(f"{call.name} is missing required argument(s): {', '.join(missing)}")
    for key, value in bound.arguments.items():
        problem = _value_problem(value, properties[key], f"{call.name} argument {key!r}")
        if problem:
            raise SignatureError(problem)
    return bound


def _normal(value: Any) -> Any:
    """A comparable form of a JSON value: 1 == 1.0, but True != 1 and lists stay ordered."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, (list, tuple)):
        return ("array", [_normal(item) for item in value])
    if isinstance(value, Mapping):
        return ("object", {str(key): _normal(item) for key, item in value.items()})
    return value


def _bound_or_raw(call: ToolCall, tools: list[Mapping[str, Any]]) -> ToolCall:
    schema = _find_schema(call.name, tools)
    if schema is None:
        return call
    try:
        return bind_arguments(call, schema)
    except SignatureError:
        return call


def equivalent(a: Action, b: Action, tools: list[Mapping[str, Any]]) -> bool:
    """Whether two actions are the same step, up to argument spelling.

    Tool calls are equal when their names match and their arguments match after binding
    both (positional vs keyword, defaults given or left out; numbers by value). A call
    that cannot be bound is compared as written. Any two answers are equivalent, and any
    two refusals; different kinds never are.
    """
    if isinstance(a, ToolCall) and isinstance(b, ToolCall):
        if a.name != b.name:
            return False
        bound_a, bound_b = _bound_or_raw(a, tools), _bound_or_raw(b, tools)
        return _normal(bound_a.arguments) == _normal(bound_b.arguments)
    for kind in (Answer, Blocked):
        if isinstance(a, kind) and isinstance(b, kind):
            return True
    return False
