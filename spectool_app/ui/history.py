"""The context a model saw at a recorded step, rebuilt from the store.

``step_context(engine, detail)`` reads the episode's earlier steps (executed actions and tool
outputs) in one query and feeds them to :func:`spectool_app.context.build_messages` with the
task (its policy and user turns), so the messages are those the loop built. A task that no
source knows any more (a task written in the Run tab) is stood in for by the user turns the
store holds. This module knows nothing about gradio and never loads a model.

It reads the tables directly because ``db.queries`` has no "episode history" query; it only
selects, never writes.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

from sqlalchemy import Engine, select

from db.tables import Step, ToolExecution
from spectool_app.actions import ActionError, action_from_json
from spectool_app.context import StepRecord, build_messages
from spectool_app.tasks import Task, TaskError, get_task


@functools.lru_cache(maxsize=64)
def _known_task(task_id: str) -> Optional[Task]:
    try:
        return get_task(task_id)
    except (TaskError, ValueError):
        return None


def _history(engine: Engine, episode_id: int, turn: int, index: int) -> tuple[list[list[StepRecord]], dict[int, str]]:
    """Per turn, the records of the steps before (turn, index); and the user text of every turn seen."""
    query = (select(Step.id, Step.turn, Step.index, Step.action, Step.user_text, ToolExecution.content)
             .outerjoin(ToolExecution, ToolExecution.step_id == Step.id)
             .where(Step.episode_id == episode_id).order_by(Step.turn, Step.index, Step.id, ToolExecution.id))
    history: list[list[StepRecord]] = [[] for _ in range(turn + 1)]
    users: dict[int, str] = {}
    seen: set[int] = set()
    with engine.connect() as conn:
        for step_id, t, i, action, user_text, content in conn.execute(query):
            users.setdefault(t, user_text or "")
            if (t, i) >= (turn, index) or step_id in seen:
                continue
            seen.add(step_id)
            try:
                parsed = action_from_json(action)
            except ActionError:
                continue
            history[t].append(StepRecord(parsed, content))
    return history, users


def step_context(engine: Engine, detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat messages of the step described by ``queries.step_detail`` output ``detail``."""
    turn, index = detail["turn"], detail["index"]
    history, users = _history(engine, detail["episode_id"], turn, index)
    task = _known_task(detail["episode"]["task_id"])
    if task is None or len(task.turns) <= turn:
        turns = [users.get(t, "") for t in range(turn + 1)]
        task = Task(id=detail["episode"]["task_id"], source=detail["episode"]["source"] or "written",
                    split=detail["episode"]["split"] or "", turns=turns, involved_classes=[], initial_config={},
                    gold=[[] for _ in turns])
    return build_messages(task, turn, history)
