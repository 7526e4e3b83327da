"""The eight BFCL multi-turn tool back-ends: their tool schemas and fresh instances.

Schemas come from bfcl's own function docs (``data/multi_turn_func_doc``), converted to
the OpenAI / JSON-schema form that ``tokenizer.apply_chat_template(tools=...)`` takes:
``dict`` -> ``object``, ``float`` -> ``number``, ``tuple`` -> ``array``, ``any`` -> no type.
Two facts of the docs are corrected from the Python methods they describe, because the
docs are wrong about them: a default written ``"None"`` is the Python ``None`` (so it is
``null`` here), and properties follow the method's parameter order (one method,
``purchase_insurance``, lists them in another order; positional arguments bind by order).

Instances are created directly (class import, ``_load_scenario`` on a deep copy of the
config), never through bfcl's executor, which ``eval()``s strings and caches instances in
module globals. This module knows nothing about tasks, turns, validation or checking.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import json
from importlib import resources
from typing import Any

from bfcl_eval.constants.executable_backend_config import (
    CLASS_FILE_PATH_MAPPING,
    MULTI_TURN_FUNC_DOC_FILE_MAPPING,
    STATELESS_CLASSES,
)

_CLASS_NAMES = (
    "GorillaFileSystem",
    "MathAPI",
    "MessageAPI",
    "TwitterAPI",
    "TicketAPI",
    "TradingBot",
    "TravelAPI",
    "VehicleControlAPI",
)
BACKEND_CLASSES: dict[str, str] = {name: CLASS_FILE_PATH_MAPPING[name] for name in _CLASS_NAMES}

# bfcl doc type -> JSON-schema type; None means "leave the type out" (any value).
_TYPE_MAP: dict[str, str | None] = {
    "dict": "object",
    "float": "number",
    "tuple": "array",
    "any": None,
    "string": "string",
    "integer": "integer",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
    "number": "number",
}
_JSON_SCALARS = (type(None), bool, int, float, str)


class BackendError(ValueError):
    """Unknown back-end class or tool name; the message names what is allowed."""


def _check_class(class_name: str) -> None:
    if class_name not in BACKEND_CLASSES:
        raise BackendError(
            f"unknown back-end class {class_name!r}; allowed: {', '.join(BACKEND_CLASSES)}"
        )


def backend_class(class_name: str) -> type:
    """The Python class of a back-end (imported on first use)."""
    _check_class(class_name)
    module = importlib.import_module(BACKEND_CLASSES[class_name])
    return getattr(module, class_name)


def _convert_node(node: dict[str, Any], where: str) -> dict[str, Any]:
    """Convert one bfcl doc schema node (and its children) to JSON-schema form."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            if value not in _TYPE_MAP:
                raise BackendError(
                    f"{where}: unknown bfcl type {value!r}; known: {', '.join(_TYPE_MAP)}"
                )
            if _TYPE_MAP[value] is not None:
                out["type"] = _TYPE_MAP[value]
        elif key == "properties":
            out[key] = {name: _convert_node(sub, f"{where}.{name}") for name, sub in value.items()}
        elif key == "items":
            out[key] = _convert_node(value, f"{where}[]")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _json_value(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_value(v) for k, v in value.items())
    return isinstance(value, _JSON_SCALARS)


def _align_with_method(parameters: dict[str, Any], method: Any) -> dict[str, Any]:
    """Order properties like the method's parameters; take defaults from the method."""
    signature = inspect.signature(method)
    names = [n for n in signature.parameters if n != "self"]
    properties = parameters.get("properties", {})
    ordered = {n: properties[n] for n in names if n in properties}
    ordered.update({n: p for n, p in properties.items() if n not in ordered})
    for name, prop in ordered.items():
        param = signature.parameters.get(name)
        if param is None or param.default is inspect.Parameter.empty:
            continue
        if "default" in prop and prop["default"] != param.default and _json_value(param.default):
            prop["default"] = copy.deepcopy(param.default)
    return {**parameters, "properties": ordered}


def _read_docs(class_name: str) -> list[dict[str, Any]]:
    path = resources.files("bfcl_eval") / "data" / "multi_turn_func_doc"
    text = (path / MULTI_TURN_FUNC_DOC_FILE_MAPPING[class_name]).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@functools.lru_cache(maxsize=None)
def _schemas(class_name: str) -> tuple[dict[str, Any], ...]:
    cls = backend_class(class_name)
    result = []
    for doc in _read_docs(class_name):
        name = doc["name"]
        parameters = _convert_node(doc.get("parameters", {"type": "dict"}), f"{class_name}.{name}")
        parameters.setdefault("properties", {})
        parameters.setdefault("required", [])
        parameters = _align_with_method(parameters, getattr(cls, name))
        description = doc.get("description", "")
        function = {"name": name, "description": description, "parameters": parameters}
        result.append({"type": "function", "function": function})
    return tuple(result)


def tool_schemas(class_name: str) -> list[dict]:
    """Tool schemas of one back-end class in OpenAI form (a fresh copy each call).

    Each item is ``{"type": "function", "function": {"name", "description",
    "parameters": {"type": "object", "properties": {...}, "required": [...]}}}``.

    Raises:
        BackendError: ``class_name`` is not one of ``BACKEND_CLASSES``.
    """
    _check_class(class_name)
    return copy.deepcopy(list(_schemas(class_name)))


@functools.lru_cache(maxsize=None)
def tool_names(class_name: str) -> frozenset[str]:
    """Names of the tools a back-end class offers (its documented public methods)."""
    _check_class(class_name)
    return frozenset(s["function"]["name"] for s in _schemas(class_name))


def tool_class(tool_name: str, classes: list[str]) -> str:
    """Which of ``classes`` owns the tool ``tool_name`` (the first one, in order).

    Raises:
        BackendError: a class is unknown, or none of ``classes`` has that tool.
    """
    for class_name in classes:
        if tool_name in tool_names(class_name):
            return class_name
    raise BackendError(f"no tool {tool_name!r} in the back-ends {', '.join(classes) or '(none)'}")


def new_instance(class_name: str, config: dict, long_context: bool = False) -> object:
    """A fresh back-end instance loaded with a deep copy of ``config``.

    With ``long_context`` bfcl pads the state with shared module-level data (extra credit
    cards, files, ...); the instance is deep-copied after loading so that nothing it can
    change is shared with those module globals or with another instance.

    Raises:
        BackendError: ``class_name`` is not one of ``BACKEND_CLASSES``.
    """
    instance = backend_class(class_name)()
    if class_name not in STATELESS_CLASSES:
        instance._load_scenario(copy.deepcopy(config or {}), long_context=long_context)
        if long_context:
            instance = copy.deepcopy(instance)
    return instance
