"""Task sources behind one lookup: ``load_tasks("synthetic", "test")``, ``get_task(id)``.

Each source module (``bfcl``, ``synthetic``, ``safety``) exposes
``load_tasks(split=None, seed=0) -> list[Task]``; this package only dispatches and
validates names. It knows nothing about models or execution.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from typing import Optional

from spectool_app.task import SAFETY_LABELS, SOURCES, SPLITS, Task, TaskError

__all__ = ["Task", "TaskError", "SOURCES", "SPLITS", "SAFETY_LABELS", "load_tasks", "get_task",
           "parse_task_set", "load_task_set", "task_stats"]


def _source_module(source: str):
    if source not in SOURCES:
        raise TaskError(f"unknown task source {source!r}; valid sources: {', '.join(SOURCES)}")
    return importlib.import_module(f"spectool_app.tasks.{source}")


def load_tasks(source: str, split: Optional[str] = None, seed: int = 0) -> list[Task]:
    """All tasks of ``source`` (optionally one split).

    Raises:
        TaskError: unknown source or split, naming the valid ones.
    """
    if split is not None and split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    return _source_module(source).load_tasks(split=split, seed=seed)


def parse_task_set(spec: str) -> tuple[str, Optional[str]]:
    """Read ``"source"`` or ``"source:split"`` (e.g. ``"synthetic:test"``).

    Raises:
        TaskError: unknown source or split, naming the valid ones.
    """
    source, _, split = spec.partition(":")
    _source_module(source)
    if split and split not in SPLITS:
        raise TaskError(f"unknown split {split!r} in {spec!r}; valid splits: {', '.join(SPLITS)}")
    return source, (split or None)


def load_task_set(spec: str, seed: int = 0) -> list[Task]:
    """Tasks named by ``"source[:split]"``."""
    source, split = parse_task_set(spec)
    return load_tasks(source, split, seed=seed)


def get_task(task_id: str, seed: int = 0) -> Task:
    """The task with this id (ids start with their source, e.g. ``"bfcl:multi_turn_base_3"``).

    Raises:
        TaskError: unknown source prefix or no such id in that source.
    """
    source = task_id.partition(":")[0]
    for task in load_tasks(source, seed=seed):
        if task.id == task_id:
            return task
    raise TaskError(
        f"unknown task id {task_id!r}; list the ids with `python -m spectool_app tasks list --source {source}`"
    )


def task_stats(seed: int = 0) -> dict[str, dict[str, dict[str, int]]]:
    """``{source: {split: {"tasks": N, "steps": N}}}`` over every source (steps = gold actions)."""
    stats: dict[str, dict[str, dict[str, int]]] = {}
    for source in SOURCES:
        per_split: dict[str, dict[str, int]] = defaultdict(lambda: {"tasks": 0, "steps": 0})
        for task in load_tasks(source, seed=seed):
            per_split[task.split]["tasks"] += 1
            per_split[task.split]["steps"] += task.steps
        stats[source] = {split: dict(per_split[split]) for split in SPLITS if split in per_split}
    return stats
