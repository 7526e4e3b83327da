"""Run a task set through the loop into the store: the one service behind the CLI, the app and the bench.

``stream_run(request, engine)`` opens a run row, runs every task of the set through a
``SpeculativeLoop`` and records each event as it passes, yielding the events on so callers
can show progress. It knows nothing about the UI.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Optional

from sqlalchemy import Engine

from db.recorder import Recorder
from spectool_app.events import StepEvent
from spectool_app.loop import MODES, LoopConfig, SpeculativeLoop
from spectool_app.metrics import RunStats
from spectool_app.tasks import Task, get_task, load_task_set
from spectool_app.verifiers import VERIFIER_KINDS, make_verifier


@dataclass(frozen=True)
class RunRequest:
    """What to run."""

    task_set: str = "synthetic:test"  # "source[:split]"
    mode: str = "speculative"  # one of loop.MODES
    verifier: str = "exact_match"  # one of verifiers.VERIFIER_KINDS (ignored by target_only / draft_only)
    threshold: Optional[float] = None  # acceptance threshold in [0, 1]; None: the verifier's calibrated one, else 0.5
    preset: Optional[str] = None  # model preset (None: SPECTOOL_PRESET or embedded)
    limit: Optional[int] = None  # run only the first N tasks of the set
    task_ids: tuple[str, ...] = ()  # run exactly these tasks instead of the set
    seed: int = 0  # task generation seed
    guard: Optional[str] = None  # a safety guard folder (spectool_app.guard); None: no guard

    def validate(self) -> None:
        """Raise ValueError naming the valid choices for any bad field."""
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; valid modes: {', '.join(MODES)}")
        if self.verifier not in VERIFIER_KINDS:
            raise ValueError(f"unknown verifier {self.verifier!r}; valid verifiers: {', '.join(VERIFIER_KINDS)}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.guard is not None and not self.guard.strip():
            raise ValueError("guard must name a safety guard folder (e.g. models/guard), got an empty string")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be a positive number of tasks, got {self.limit}")


DEFAULT_THRESHOLD = 0.5  # for verifiers without a calibrated threshold


def resolved_threshold(request: RunRequest, verifier: Any) -> float:
    """The request's threshold, else the verifier's calibrated one (the trained kind has one), else 0.5."""
    if request.threshold is not None:
        return request.threshold
    return float(getattr(verifier, "threshold", DEFAULT_THRESHOLD))


def select_tasks(request: RunRequest) -> list[Task]:
    """The tasks a request names (its ids, else its set cut to ``limit``)."""
    if request.task_ids:
        return [get_task(task_id, seed=request.seed) for task_id in request.task_ids]
    tasks = load_task_set(request.task_set, seed=request.seed)
    return tasks[: request.limit] if request.limit else tasks


@functools.lru_cache(maxsize=2)
def load_models(preset: Optional[str]) -> dict[str, Any]:
    """The preset's drafter and target, loaded once per process."""
    from models.presets import load_preset

    return load_preset(preset)


@functools.lru_cache(maxsize=2)
def _load_guard(folder: str) -> Any:
    """The safety guard in ``folder``, loaded once per process."""
    from spectool_app.guard import SafetyGuard

    return SafetyGuard(folder)


def stream_run(request: RunRequest, engine: Engine, models: Optional[dict[str, Any]] = None,
               stats: Optional[RunStats] = None, tasks: Optional[list[Task]] = None,
               notes: Optional[dict[str, Any]] = None) -> Iterator[tuple[int, StepEvent]]:
    """Run and record ``request``; yields ``(run_id, event)`` for every event.

    ``tasks`` runs tasks no source holds (e.g. written in the app) instead of the request's
    selection; ``notes`` are stored in the run's config beside the request. The run ends
    ``done``, ``failed`` (an exception) or ``interrupted`` (the consumer stopped early or
    Ctrl-C); each step is committed as it ends.
    """
    request.validate()
    tasks = tasks if tasks is not None else select_tasks(request)
    models = models if models is not None else load_models(request.preset)
    needs_verifier = request.mode not in ("target_only", "draft_only")
    verifier = make_verifier(request.verifier, models) if needs_verifier else None
    threshold = resolved_threshold(request, verifier)
    guard = _load_guard(request.guard) if request.guard else None
    loop = SpeculativeLoop(models, verifier, LoopConfig(mode=request.mode, threshold=threshold), guard=guard)
    with Recorder(engine) as recorder:  # ends the run done, failed, or interrupted (Ctrl-C, SIGTERM, the consumer stopped)
        run_id = recorder.start_run(
            mode=request.mode, verifier=request.verifier if needs_verifier else "", threshold=threshold,
            preset=request.preset or "", task_set=",".join(request.task_ids) or request.task_set,
            config={**asdict(request), **(notes or {})},
            models={role: getattr(m, "name", role) for role, m in models.items()},
        )
        for task in tasks:
            for event in loop.run(task):
                recorder.consume(event)
                if stats is not None:
                    stats.observe(event)
                yield run_id, event
