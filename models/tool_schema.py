"""What a tool list says about each call's arguments: types, allowed values, required keys.

Read from OpenAI-style tool dicts (``{"type": "function", "function": {"name", "parameters"}}``
or the bare function dict). Allowed values come from a parameter's ``enum`` or from the
``[Enum]: ...`` note that BFCL writes into descriptions (a JSON list or a comma list). Type
names are normalised to JSON Schema's (``float`` -> ``number``, ``dict`` -> ``object``, ...);
an unknown type is None. This module knows nothing about models or decoding.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

ENUM_NOTE = re.compile(r"\[Enum\]\s*:\s*(.+)$", re.DOTALL)
TYPE_NAMES = {
    "string": "string", "str": "string",
    "number": "number", "float": "number",
    "integer": "integer", "int": "integer",
    "boolean": "boolean", "bool": "boolean",
    "array": "array", "list": "array", "tuple": "array",
    "object": "object", "dict": "object",
}


@dataclass(frozen=True)
class Param:
    """One parameter of a tool."""

    type: Optional[str]  # JSON Schema type, None when absent or unknown
    item_type: Optional[str]  # for an array: its items' type (None when unknown)
    options: tuple[str, ...]  # allowed values (of the items, for an array); () when any value goes
    description: str  # the parameter's description ("" when none)


@dataclass(frozen=True)
class ToolSpec:
    """One tool's parameters, in the order the tool lists them, and which are required."""

    params: dict[str, Param]
    required: tuple[str, ...]


def type_name(value: Any) -> Optional[str]:
    """JSON Schema's name for a schema ``type`` value (None for unknown, missing or union types)."""
    return TYPE_NAMES.get(value) if isinstance(value, str) else None


def enum_options(description: str) -> tuple[str, ...]:
    """Values listed after ``[Enum]:`` in a description: ``["a", "b"]`` or ``a, b``; () when none."""
    found = ENUM_NOTE.search(description or "")
    if not found:
        return ()
    note = found.group(1).strip()
    if note.startswith("["):
        try:
            listed = json.loads(note[: note.index("]") + 1])
        except (ValueError, json.JSONDecodeError):
            return ()
        return tuple(str(v) for v in listed if isinstance(v, (str, int, float)) and str(v))
    return tuple(part.strip().rstrip(".") for part in note.split(",") if part.strip().rstrip("."))


def _param(schema: Any) -> Param:
    schema = schema if isinstance(schema, dict) else {}
    kind = type_name(schema.get("type"))
    items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
    description = str(schema.get("description") or "")
    listed = items.get("enum") if kind == "array" else schema.get("enum")
    if isinstance(listed, list) and listed:
        options = tuple(str(v) for v in listed if isinstance(v, (str, int, float)))
    else:
        options = enum_options(description)
    return Param(kind, type_name(items.get("type")) if kind == "array" else None, options, description)


def tool_specs(tools: Optional[Sequence[dict[str, Any]]]) -> dict[str, ToolSpec]:
    """Each listed tool's name and :class:`ToolSpec` (tools without a name are skipped)."""
    specs = {}
    for tool in tools or []:
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        name = function.get("name") if isinstance(function, dict) else None
        if not name:
            continue
        parameters = function.get("parameters") if isinstance(function.get("parameters"), dict) else {}
        properties = parameters.get("properties") if isinstance(parameters.get("properties"), dict) else {}
        required = parameters.get("required") if isinstance(parameters.get("required"), list) else []
        specs[str(name)] = ToolSpec({str(k): _param(v) for k, v in properties.items()},
                                    tuple(str(k) for k in required if k in properties))
    return specs
