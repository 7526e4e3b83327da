"""Values a model is taught but cannot copy: the codes the copy-values rule would forbid.

Decoding with ``copy_values`` (``models.copy_values``) lets a string argument be only a copy
from the conversation or the parameter's description. A few parameters take codes that the
user never writes: ``imperial_si_conversion`` wants ``"cm"`` where the request says
"centimeters". Such a parameter shows itself in the training data: its gold values are mostly
not copyable from their contexts, and they come from a small set. :func:`known_values` finds
those parameters and their values, and the trained checkpoints list them in ``spectool.json``
so the constraint allows what training taught. Parameters whose values are copied (names,
files, amounts) never qualify, however few values they take.

This module reads tasks; it knows nothing about models, optimisers or storage.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable

from models.copy_values import context_text, copyable
from models.tool_schema import tool_specs
from spectool_app.actions import ToolCall
from spectool_app.context import MAX_TOOL_CHARS, gold_steps
from spectool_app.task import Task

MIN_CALLS = 20  # a parameter needs this many string values in training before it can qualify
MIN_UNCOPYABLE_SHARE = 0.5  # ... at least this share of them not copyable from their context
MAX_DISTINCT = 16  # ... and at most this many distinct values (a code list, not free text)


def known_values(tasks: Iterable[Task], max_tool_chars: int = MAX_TOOL_CHARS, min_calls: int = MIN_CALLS,
                 min_share: float = MIN_UNCOPYABLE_SHARE, max_distinct: int = MAX_DISTINCT
                 ) -> dict[str, dict[str, list[str]]]:
    """``{tool: {parameter: sorted values}}`` for the parameters whose gold string values (list
    items included) are mostly not copyable from their step's context and description, out of
    at most ``max_distinct`` distinct values over at least ``min_calls`` values."""
    values: dict[tuple[str, str], Counter] = defaultdict(Counter)
    uncopyable: Counter = Counter()
    for task in tasks:
        for step in gold_steps(task, max_tool_chars):
            call = step.gold
            if not isinstance(call, ToolCall):
                continue
            spec = tool_specs(step.tools).get(call.name)
            context = context_text(step.messages)
            for key, value in call.arguments.items():
                param = spec.params.get(key) if spec is not None else None
                source = context + "\n" + (param.description if param is not None else "")
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and item:
                        values[call.name, key][item] += 1
                        uncopyable[call.name, key] += not copyable(item, source)
    found: dict[str, dict[str, list[str]]] = {}
    for (tool, key), counts in sorted(values.items()):
        total = sum(counts.values())
        if total >= min_calls and len(counts) <= max_distinct and uncopyable[tool, key] >= min_share * total:
            found.setdefault(tool, {})[key] = sorted(counts)
    return found
