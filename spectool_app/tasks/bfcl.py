"""BFCL v4 multi-turn tasks (800 = 4 categories x 200 scenarios) as :class:`Task` values.

Reads the data files shipped in the ``bfcl-eval`` package with ``importlib.resources``
(JSON Lines): the questions, initial configs and involved classes from
``data/BFCL_v4_<category>.json`` and the gold calls from ``data/possible_answer/``.
Gold python-call strings are parsed with ``ast`` (never evaluated); positional arguments
are named from the tool schema's parameter order, defaults are not filled in.

Splits follow the scenario number n (the integer at the end of the id): n % 10 in 0..6
train, 7 dev, 8..9 test; the four categories share scenarios, so they share the split.
This module knows nothing about execution, checking or models.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

from spectool_app.actions import Action, Answer, ToolCall
from spectool_app.backends import tool_class, tool_schemas
from spectool_app.parsing import POSITIONAL_PREFIX, parse_python_calls
from spectool_app.task import SPLITS, Task, TaskError

SOURCE = "bfcl"
CATEGORIES = (
    "multi_turn_base",
    "multi_turn_miss_param",
    "multi_turn_miss_func",
    "multi_turn_long_context",
)


def scenario_number(bfcl_id: str) -> int:
    """The scenario number at the end of a bfcl id (``multi_turn_base_17`` -> 17).

    Raises:
        TaskError: the id does not end in ``_<integer>``.
    """
    tail = bfcl_id.rsplit("_", 1)[-1]
    if not tail.isdigit():
        raise TaskError(f"bfcl id {bfcl_id!r} does not end in '_<scenario number>'")
    return int(tail)


def split_of(scenario: int) -> str:
    """The split of a scenario number: n % 10 in 0..6 train, 7 dev, 8..9 test."""
    rest = scenario % 10
    return "train" if rest <= 6 else "dev" if rest == 7 else "test"


def _read_jsonl(relative: str) -> list[dict[str, Any]]:
    text = (resources.files("bfcl_eval") / "data" / relative).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _name_positionals(call: ToolCall, classes: list[str]) -> ToolCall:
    """Replace ``$0``, ``$1``... keys by parameter names in the schema's order."""
    if not any(key.startswith(POSITIONAL_PREFIX) for key in call.arguments):
        return call
    owner = tool_class(call.name, classes)
    schema = next(s for s in tool_schemas(owner) if s["function"]["name"] == call.name)
    names = list(schema["function"]["parameters"]["properties"])
    arguments: dict[str, Any] = {}
    for key, value in call.arguments.items():
        if key.startswith(POSITIONAL_PREFIX):
            index = int(key[len(POSITIONAL_PREFIX):])
            if index >= len(names):
                raise TaskError(f"{call.name} takes {len(names)} arguments, gold passes more")
            key = names[index]
        arguments[key] = value
    return ToolCall(call.name, arguments)


def _gold_turn(strings: list[str], classes: list[str]) -> list[Action]:
    calls: list[Action] = []
    for text in strings:
        calls.extend(_name_positionals(call, classes) for call in parse_python_calls(text))
    return calls + [Answer("")]


def _held_out(
    row: dict[str, Any], gold: list[list[Action]]
) -> tuple[dict[int, list[str]], list[str]]:
    """bfcl's ``missed_function`` as turn -> tools offered from then on.

    One bfcl task (miss_func_49) calls a held-out tool in its gold before the turn that
    offers it; such a tool is offered from its first gold use instead (the gold could not
    be followed otherwise). Returns the mapping and the names that were moved.
    """
    first_use: dict[str, int] = {}
    for turn, actions in enumerate(gold):
        for action in actions:
            if isinstance(action, ToolCall):
                first_use.setdefault(action.name, turn)
    held: dict[int, list[str]] = {}
    moved: list[str] = []
    for key, names in sorted(row.get("missed_function", {}).items(), key=lambda kv: int(kv[0])):
        for name in names:
            start = min(int(key), first_use.get(name, int(key)))
            if start != int(key):
                moved.append(name)
            held.setdefault(start, []).append(name)
    return held, moved


def _turn_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("content", "") for m in messages if m.get("role") == "user")


def _task(row: dict[str, Any], gold: list[list[str]], category: str) -> Task:
    bfcl_id = row["id"]
    if len(gold) != len(row["question"]):
        raise TaskError(f"{bfcl_id}: {len(row['question'])} turns but {len(gold)} gold turns")
    classes = list(row["involved_classes"])
    scenario = scenario_number(bfcl_id)
    gold_actions = [_gold_turn(strings, classes) for strings in gold]
    held_out, moved = _held_out(row, gold_actions)
    meta = {"bfcl_id": bfcl_id, "scenario": scenario, "path": list(row.get("path", []))}
    if moved:
        meta["held_out_moved_to_first_gold_use"] = moved
    return Task(
        id=f"{SOURCE}:{bfcl_id}",
        source=SOURCE,
        split=split_of(scenario),
        turns=[_turn_text(messages) for messages in row["question"]],
        involved_classes=classes,
        initial_config=row["initial_config"],
        gold=gold_actions,
        category=category,
        excluded_tools=list(row.get("excluded_function", [])),
        held_out_tools=held_out,
        long_context=category == "multi_turn_long_context",
        meta=meta,
    )


@functools.lru_cache(maxsize=1)
def _all_tasks() -> tuple[Task, ...]:
    tasks = []
    for category in CATEGORIES:
        rows = _read_jsonl(f"BFCL_v4_{category}.json")
        answer_rows = _read_jsonl(f"possible_answer/BFCL_v4_{category}.json")
        answers = {a["id"]: a["ground_truth"] for a in answer_rows}
        for row in sorted(rows, key=lambda r: scenario_number(r["id"])):
            if row["id"] not in answers:
                raise TaskError(f"{row['id']}: no ground truth in possible_answer")
            tasks.append(_task(row, answers[row["id"]], category))
    return tuple(tasks)


def load_tasks(split: str | None = None, seed: int = 0) -> list[Task]:
    """All BFCL multi-turn tasks of a split (all splits when None), as fresh copies.

    The order is fixed (category, then scenario number); ``seed`` is accepted for the
    common task-source signature and has no effect, as the BFCL set is fixed.

    Raises:
        TaskError: ``split`` is not one of ``SPLITS``.
    """
    if split is not None and split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)} or None")
    return [copy.deepcopy(t) for t in _all_tasks() if split is None or t.split == split]


def load_task(task_id: str) -> Task:
    """One task by id (``"bfcl:multi_turn_base_7"``), as a fresh copy.

    Raises:
        TaskError: no BFCL task has that id.
    """
    for task in _all_tasks():
        if task.id == task_id:
            return copy.deepcopy(task)
    raise TaskError(
        f"unknown BFCL task id {task_id!r}; ids look like 'bfcl:<category>_<n>' with "
        f"category in {', '.join(CATEGORIES)} and n in 0..199"
    )
