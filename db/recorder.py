"""The recorder: turns the loop's typed events into rows, one committed transaction per step.

Events of a step (proposals, verdict, policy decision, tool execution) are buffered in memory
and written together with their ``Step`` row when ``StepDone`` arrives, then committed: a crash
loses at most the step in flight. ``EpisodeStarted``/``EpisodeDone`` write and complete the
``Episode`` row. An event that arrives for a step already written (e.g. a parallel target's
wasted proposal that finishes late) is attached to that step in its own transaction.

This module knows nothing about models, the loop's internals or the UI: only the event types
of ``spectool_app.events`` and the action JSON of ``spectool_app.actions``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from db.engine import StoreError, describe_failure, open_store, process_start, write_engine
from db.tables import (FALLBACK_PURPOSES, RUN_STATUSES, STEP_SOURCES, Draft, Episode, Fallback,
                       PolicyCheck, Run, Step, ToolExecution, Verdict, utcnow)
from spectool_app.actions import Answer, ToolCall, action_to_json
from spectool_app.events import (STAGES, EpisodeDone, EpisodeStarted, PolicyDecided, Proposed,
                                 StepDone, StepEvent, ToolExecuted, TurnDone, TurnStarted, VerdictGiven)

HEARTBEAT_EVERY_S = 10.0  # the run's heartbeat_at is refreshed at most this often (with a step commit)
PROPOSER_ROLES = ("drafter", "target")  # Proposed.role values


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def to_json(value: Any) -> str:
    """JSON text of a dict/list that may hold actions, dataclasses or sets (others become strings)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, sort_keys=True)


@dataclasses.dataclass
class _StepBuffer:
    """Events of one step, held until its StepDone."""

    proposals: list[Proposed] = dataclasses.field(default_factory=list)  # drafter and target proposals
    verdicts: list[VerdictGiven] = dataclasses.field(default_factory=list)
    policies: list[PolicyDecided] = dataclasses.field(default_factory=list)
    tools: list[ToolExecuted] = dataclasses.field(default_factory=list)


def _action_json(action: Any) -> Optional[str]:
    return None if action is None else action_to_json(action)


def _proposal_row(event: Proposed) -> Draft | Fallback:
    """A Draft (drafter) or Fallback (target) row; raises StoreError for unknown role/purpose."""
    if event.role not in PROPOSER_ROLES:
        raise StoreError(f"unknown proposal role {event.role!r}; allowed: {', '.join(PROPOSER_ROLES)}")
    common = dict(raw_text=event.raw_text, action=_action_json(event.action), parse_error=event.parse_error,
                  latency=event.latency_s, prompt_tokens=event.prompt_tokens, tokens=event.completion_tokens)
    if event.role == "drafter":
        return Draft(mean_logprob=event.mean_logprob, **common)
    if event.purpose not in FALLBACK_PURPOSES:
        raise StoreError(f"unknown target purpose {event.purpose!r}; allowed: {', '.join(FALLBACK_PURPOSES)}")
    return Fallback(purpose=event.purpose, **common)


def _child_rows(buffer: _StepBuffer) -> list[Any]:
    """Rows for every buffered event of a step (step_id filled in by the caller)."""
    rows: list[Any] = [_proposal_row(p) for p in buffer.proposals]
    rows += [Verdict(verifier=v.verifier, p_accept=v.p_accept, threshold=v.threshold, accepted=v.accepted,
                     latency=v.latency_s, detail=to_json(v.detail)) for v in buffer.verdicts]
    rows += [PolicyCheck(action=action_to_json(p.action), allowed=p.allowed, rule=p.rule, latency=p.latency_s)
             for p in buffer.policies]
    rows += [ToolExecution(call=action_to_json(t.call), ok=t.ok, content=t.content, error=t.error,
                           latency=t.latency_s) for t in buffer.tools]
    return rows


def _step_row(done: StepDone, episode_id: int, user_text: str) -> Step:
    if done.source not in STEP_SOURCES:
        raise StoreError(f"unknown step source {done.source!r}; allowed: {', '.join(STEP_SOURCES)}")
    timings = {stage: float(done.timings.get(stage, 0.0)) for stage in STAGES}
    total = float(done.timings.get("total", sum(timings.values())))
    return Step(episode_id=episode_id, turn=done.turn, index=done.step, user_text=user_text,
                action=action_to_json(done.action), action_kind=done.action.kind, source=done.source,
                t_draft=timings["draft"], t_verify=timings["verify"], t_fallback=timings["fallback"],
                t_policy=timings["policy"], t_tool=timings["tool"], t_overhead=timings["overhead"],
                t_total=total, gold=_action_json(done.gold), draft_correct=done.draft_correct)


class Recorder:
    """Consumes one run's events and writes them; one recorder per run, episodes one after another."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine  # where rows go
        self._writer = write_engine(engine)  # same engine, SQLite transactions take the write lock at once
        self.run_id: Optional[int] = None  # the run being recorded
        self.episode_id: Optional[int] = None  # the episode being recorded
        self.dropped_events = 0  # events of steps that never got a StepDone
        self._buffers: dict[tuple[int, int], _StepBuffer] = {}  # (turn, step) -> pending events
        self._written: dict[tuple[int, int], int] = {}  # (turn, step) -> Step.id in this episode
        self._user_text: dict[int, str] = {}  # turn -> user message
        self._last_heartbeat = 0.0  # monotonic time of the last heartbeat update

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, *, mode: str = "", verifier: str = "", threshold: Optional[float] = None,
                  preset: str = "", task_set: str = "", config: Optional[dict[str, Any]] = None,
                  models: Optional[dict[str, Any]] = None, notes: str = "") -> int:
        """Insert a ``running`` Run row (with this process's pid and host) and return its id."""
        run = Run(mode=mode, verifier=verifier, threshold=threshold, preset=preset, task_set=task_set,
                  config=to_json(config or {}), models=to_json(models or {}), notes=notes,
                  pid=os.getpid(), host=socket.gethostname(), proc_start=process_start(os.getpid()),
                  heartbeat_at=utcnow())
        with self._session() as session:
            session.add(run)
            session.commit()
            self.run_id = run.id
        self._last_heartbeat = time.monotonic()
        return int(self.run_id)

    def finish_run(self, run_id: Optional[int] = None, status: str = "done") -> None:
        """Set the run's final status (done, interrupted or failed) and finished_at.

        Raises:
            StoreError: unknown status or unknown run id.
        """
        final = [s for s in RUN_STATUSES if s != "running"]
        if status not in final:
            raise StoreError(f"unknown final run status {status!r}; allowed: {', '.join(final)}")
        run_id = self.run_id if run_id is None else run_id
        if run_id is None:
            raise StoreError("no run to finish; call start_run first")
        with self._session() as session:
            result = session.execute(update(Run).where(Run.id == run_id)
                                     .values(status=status, finished_at=utcnow(), heartbeat_at=utcnow()))
            if result.rowcount == 0:
                raise StoreError(f"unknown run {run_id}; list runs with `python -m spectool_app runs list`")
            session.commit()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type: Any, exc: Any, _tb: Any) -> None:
        """Finish the run: done, interrupted on KeyboardInterrupt, failed on another exception."""
        if self.run_id is None:
            return
        status = "done" if exc_type is None else "interrupted" if exc_type is KeyboardInterrupt else "failed"
        self.finish_run(status=status)

    # -- events -------------------------------------------------------------------------------
    def record(self, events: Iterable[StepEvent]) -> Iterator[StepEvent]:
        """Consume every event and pass it on: ``for event in recorder.record(loop(...)): ...``."""
        for event in events:
            self.consume(event)
            yield event

    def consume(self, event: StepEvent) -> None:
        """Record one event (see the module docstring for when rows are written).

        Raises:
            StoreError: no run started, no episode started, an unknown event type or a bad field value.
        """
        if self.run_id is None:
            raise StoreError("no run started; call Recorder.start_run before consuming events")
        if isinstance(event, EpisodeStarted):
            self._start_episode(event)
            return
        if self.episode_id is None:
            raise StoreError(f"{type(event).__name__} arrived before EpisodeStarted")
        if isinstance(event, TurnStarted):
            self._user_text[event.turn] = event.user_text
        elif isinstance(event, (Proposed, VerdictGiven, PolicyDecided, ToolExecuted)):
            self._buffer_event(event)
        elif isinstance(event, StepDone):
            self._write_step(event)
        elif isinstance(event, EpisodeDone):
            self._finish_episode(event)
        elif not isinstance(event, TurnDone):
            raise StoreError(f"unknown event type {type(event).__name__}; expected one of spectool_app.events")

    def _buffer_event(self, event: Proposed | VerdictGiven | PolicyDecided | ToolExecuted) -> None:
        key = (event.turn, event.step)
        if key in self._written:  # late event for a step already committed
            buffer = _StepBuffer()
            self._add(buffer, event)
            self._write_children(self._written[key], buffer)
            return
        self._add(self._buffers.setdefault(key, _StepBuffer()), event)

    @staticmethod
    def _add(buffer: _StepBuffer, event: Any) -> None:
        if isinstance(event, Proposed):
            _proposal_row(event)  # validates role and purpose now, not at commit time
            buffer.proposals.append(event)
        elif isinstance(event, VerdictGiven):
            buffer.verdicts.append(event)
        elif isinstance(event, PolicyDecided):
            buffer.policies.append(event)
        else:
            buffer.tools.append(event)

    def _start_episode(self, event: EpisodeStarted) -> None:
        self.dropped_events += sum(self._pending_counts())
        self._buffers, self._written, self._user_text = {}, {}, {}
        episode = Episode(run_id=self.run_id, task_id=event.task_id, source=event.source, split=event.split,
                          mode=event.mode, n_turns=event.n_turns)
        with self._session() as session:
            session.add(episode)
            session.commit()
            self.episode_id = episode.id

    def _write_step(self, done: StepDone) -> None:
        key = (done.turn, done.step)
        buffer = self._buffers.pop(key, _StepBuffer())
        step = _step_row(done, int(self.episode_id), self._user_text.get(done.turn, ""))
        with self._session() as session:
            session.add(step)
            session.flush()
            for row in _child_rows(buffer):
                row.step_id = step.id
                session.add(row)
            self._maybe_heartbeat(session)
            session.commit()
            self._written[key] = int(step.id)

    def _write_children(self, step_id: int, buffer: _StepBuffer) -> None:
        with self._session() as session:
            for row in _child_rows(buffer):
                row.step_id = step_id
                session.add(row)
            session.commit()

    def _finish_episode(self, event: EpisodeDone) -> None:
        self.dropped_events += sum(self._pending_counts())
        self._buffers = {}
        with self._session() as session:
            session.execute(update(Episode).where(Episode.id == self.episode_id).values(
                passed=event.passed, check_message=event.check_message, wall_s=event.wall_s,
                steps=event.steps, finished_at=utcnow()))
            self._maybe_heartbeat(session, force=True)
            session.commit()
        self.episode_id = None

    def _pending_counts(self) -> Iterator[int]:
        for buffer in self._buffers.values():
            yield len(buffer.proposals) + len(buffer.verdicts) + len(buffer.policies) + len(buffer.tools)

    def _maybe_heartbeat(self, session: Session, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_heartbeat >= HEARTBEAT_EVERY_S:
            session.execute(update(Run).where(Run.id == self.run_id).values(heartbeat_at=utcnow()))
            self._last_heartbeat = now

    def _session(self) -> "_GuardedSession":
        return _GuardedSession(self._writer)


class _GuardedSession(Session):
    """A write session whose database errors become StoreError naming the cause."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._engine = engine

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        super().__exit__(exc_type, exc, tb)
        if isinstance(exc, SQLAlchemyError):
            raise StoreError(describe_failure(self._engine, exc)) from exc


def synthetic_episode(task_id: str, n_steps: int, *, content: str = "ok") -> list[StepEvent]:
    """A made-up episode of one turn: ``n_steps - 1`` accepted tool calls and a closing Answer.

    Every tool step has one draft, one verdict, one policy check and one tool execution whose
    output is ``content``; for tests and :func:`recorder_overhead`, not for metrics.
    """
    events: list[StepEvent] = [EpisodeStarted(task_id, "synthetic", "test", "speculative", 1),
                               TurnStarted(0, "please do the thing")]
    for index in range(n_steps):
        last = index == n_steps - 1
        action = Answer("done") if last else ToolCall("ls", {"a": index})
        events.append(Proposed(0, index, "drafter", f"<tool_call>{index}</tool_call>", action, None,
                               0.01, 100, 12, -0.1))
        events.append(VerdictGiven(0, index, "always", 0.9, 0.5, True, 0.002, {"n": index}))
        if not last:
            events.append(PolicyDecided(0, index, action, True, None, 0.0001))
            events.append(ToolExecuted(0, index, action, True, content, None, 0.001))
        events.append(StepDone(0, index, action, "draft", {"draft": 0.01, "verify": 0.002, "tool": 0.001},
                               gold=action, draft_correct=True))
    events += [TurnDone(0, n_steps, "answer"), EpisodeDone(task_id, True, "", 0.02 * n_steps, n_steps)]
    return events


def recorder_overhead(n_steps: int = 500, url: Optional[str] = None) -> float:
    """Seconds the recorder spends per recorded step (draft, verdict, policy, tool rows, commit).

    Args:
        n_steps: steps to record (one episode).
        url: database to record into; default a fresh SQLite file in a temporary folder.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    with tempfile.TemporaryDirectory(prefix="spectool-bench-") as folder:
        engine = open_store(url or f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            events = synthetic_episode("bench-0", n_steps, content="x" * 200)
            recorder = Recorder(engine)
            recorder.start_run(mode="speculative", verifier="always", task_set="bench")
            start = time.perf_counter()
            for event in events:
                recorder.consume(event)
            elapsed = time.perf_counter() - start
            recorder.finish_run()
        finally:
            engine.dispose()
    return elapsed / n_steps
