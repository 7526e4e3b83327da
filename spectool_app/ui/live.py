"""The Run tab's service: pick or write a task, run it in one or two modes, stream the steps.

Modes run one after the other on the same task in this process (so neither steals the
other's CPU and each keeps honest timings), each as its own recorded run; the page shows
them side by side as they stream. Models load on the first run (``runner.load_models``
caches them), never at start-up. A written task takes its tools, state and policy from a
chosen task and its user turns from the text box (one turn per non-empty line); it has no
gold actions. This module knows nothing about gradio.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from sqlalchemy import Engine

from spectool_app.loop import MODES
from spectool_app.tasks import SOURCES, SPLITS, Task, get_task, load_tasks
from spectool_app.ui.render import LiveLog, clip
from spectool_app.ui.services import UIError, parse_threshold

MAX_MODES = 2  # the page has two columns
WRITTEN_PREFIX = "written:"  # id prefix of tasks written in the Run tab
MAX_WRITTEN_TURNS = 10  # a written task holds at most this many user turns


def models_message(preset: Optional[str] = None) -> str:
    """Markdown saying whether the preset's models can be loaded, without loading them."""
    from models.base import ModelUnavailableError
    from models.presets import CHAT_ROLES, check_available, preset_name, preset_specs

    try:
        chosen = preset_name(preset or None)
        specs = preset_specs(chosen)
        for role in CHAT_ROLES:
            check_available(str(specs[role]), role)
    except (ValueError, ModelUnavailableError) as exc:
        return f"**Models not ready.** {exc}"
    names = ", ".join(f"{role}: `{clip(str(specs[role]), 80)}`" for role in CHAT_ROLES)
    return f"Preset **{chosen}** ({names}); the models load on the first run, which takes a moment."


def task_ids(source: Any, split: Any) -> list[str]:
    """Task ids of a source and split.

    Raises:
        UIError: unknown source or split.
    """
    if source not in SOURCES:
        raise UIError(f"unknown task source {source!r}; allowed: {', '.join(SOURCES)}")
    if split not in SPLITS:
        raise UIError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    return [task.id for task in load_tasks(str(source), str(split))]


def _task(task_id: Any) -> Task:
    from spectool_app.tasks import TaskError

    if not task_id:
        raise UIError("no task chosen; pick a source, a split and a task")
    try:
        return get_task(str(task_id))
    except TaskError as exc:
        raise UIError(str(exc)) from None


def task_preview(task_id: Any) -> dict[str, Any]:
    """What a task asks: turns, back-ends, policy, gold step count.

    Raises:
        UIError: no task or an unknown id.
    """
    task = _task(task_id)
    return {"id": task.id, "turns": task.turns, "back_ends": task.involved_classes, "policy": task.policy,
            "safety_label": task.safety_label, "gold_steps": task.steps}


def written_task(base_id: Any, text: Any) -> Task:
    """A task with the tools, state and policy of ``base_id`` and one user turn per line of ``text``.

    Raises:
        UIError: no base task, empty text or too many turns.
    """
    base = _task(base_id)
    turns = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    if not turns:
        raise UIError("the written task is empty; type at least one user message (one turn per line)")
    if len(turns) > MAX_WRITTEN_TURNS:
        raise UIError(f"a written task holds at most {MAX_WRITTEN_TURNS} turns (lines), got {len(turns)}")
    digest = hashlib.sha1("\n".join(turns).encode()).hexdigest()[:8]
    return dataclasses.replace(base, id=f"{WRITTEN_PREFIX}{base.id}:{digest}", turns=turns,
                               gold=[[] for _ in turns], held_out_tools={}, meta=dict(base.meta))


@dataclass(frozen=True)
class LiveRequest:
    """What the Run tab asked for."""

    task_id: str  # the chosen task (or the base of a written one)
    written: str  # user turns of a written task, "" to run the chosen task itself
    modes: tuple[str, ...]  # one or two of loop.MODES, in MODES order with target_only last
    verifier: str  # verifier kind for modes that judge drafts
    threshold: float  # acceptance threshold
    preset: Optional[str]  # model preset, None: the configured one
    guard: bool = False  # the safety guard (models/guard) judges every tool call

    @classmethod
    def from_widgets(cls, task_id: Any, written: Any, preset: Any, modes: Any, verifier: Any,
                     threshold: Any, guard: Any = False) -> "LiveRequest":
        """Check page values.

        Raises:
            UIError: no task, no or too many modes, unknown mode or verifier, bad threshold.
        """
        from spectool_app.verifiers import VERIFIER_KINDS

        chosen = tuple(modes or ())
        if isinstance(modes, str):
            chosen = (modes,)
        if not chosen or len(chosen) > MAX_MODES:
            raise UIError(f"choose one or two modes; allowed: {', '.join(MODES)}")
        unknown = [m for m in chosen if m not in MODES]
        if unknown:
            raise UIError(f"unknown mode {unknown[0]!r}; allowed: {', '.join(MODES)}")
        chosen = tuple(sorted(set(chosen), key=lambda m: (m == "target_only", MODES.index(m))))  # baseline last
        if verifier not in VERIFIER_KINDS:
            raise UIError(f"unknown verifier {verifier!r}; allowed: {', '.join(VERIFIER_KINDS)}")
        if not task_id:
            raise UIError("no task chosen; pick a source, a split and a task")
        return cls(task_id=str(task_id), written=str(written or "").strip(), modes=chosen, verifier=str(verifier),
                   threshold=parse_threshold(threshold), preset=str(preset) if preset else None, guard=bool(guard))


def live_runs(engine: Engine, request: LiveRequest) -> Iterator[list[LiveLog]]:
    """Run the task once per mode, yielding every mode's log after each event.

    Raises:
        UIError: as :func:`written_task`.
        ModelUnavailableError: the preset's models are missing (the message says how to build them).
    """
    from spectool_app.guard import DEFAULT_GUARD_DIR
    from spectool_app.runner import RunRequest, stream_run

    written = written_task(request.task_id, request.written) if request.written else None
    if written is None:
        _task(request.task_id)
    logs = [LiveLog(mode) for mode in request.modes]
    yield logs
    notes = {"written_turns": written.turns, "base_task": request.task_id} if written else None
    for log in logs:
        run = RunRequest(task_set=request.task_id.partition(":")[0], mode=log.mode, verifier=request.verifier,
                         threshold=request.threshold, preset=request.preset,
                         task_ids=(written.id if written else request.task_id,),
                         guard=str(DEFAULT_GUARD_DIR) if request.guard else None)
        stream = stream_run(run, engine, tasks=[written] if written else None, notes=notes)
        for run_id, event in stream:
            log.run_id = run_id
            log.observe(event)
            yield logs
