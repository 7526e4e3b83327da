"""The recorder: turns the loop's typed events into rows, one committed transaction per step.

Events of a step (proposals, verdict, policy decision, tool execution) are turned into row
values as they arrive and held in memory; when ``StepDone`` arrives the ``Step`` row and all of
them are written and committed in one transaction: a crash loses at most the step in flight.
The ``Episode`` row (``started_at`` taken at ``EpisodeStarted``) is written in the transaction
of the episode's first step, or at ``EpisodeDone`` when it has none, and completed at
``EpisodeDone``; so an episode killed before its first step ends leaves no row. An event that
arrives for a step already written (e.g. a parallel target's wasted proposal that finishes
late) is attached to that step in its own transaction. The run's ``heartbeat_at`` is refreshed
inside those transactions, at most every :data:`HEARTBEAT_EVERY_S` seconds.

Cost: one transaction per step on one connection the recorder holds from its first write
until ``finish_run``/``close``, no SELECT. The step's rows go in as an ``INSERT ... RETURNING
id`` and one executemany per child table, compiled once per dialect by SQLAlchemy and run on
the driver's cursor (:class:`_Insert`); transactions, runs and episodes use SQLAlchemy Core.
On a loaded 2-core machine, inside the loop: ORM objects cost 2-10 ms a step, Core statements
about 0.7 ms, this about 0.4 ms (most of it SQLAlchemy's transaction handling and the commit).

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
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from sqlalchemy import Connection, Dialect, Engine, Table, insert, update
from sqlalchemy.exc import SQLAlchemyError

from db.engine import StoreError, describe_failure, open_store, process_start, write_engine
from db.tables import (FALLBACK_PURPOSES, RUN_STATUSES, STEP_SOURCES, Draft, Episode, Fallback, PolicyCheck, Run,
                       Step, ToolExecution, Verdict, utcnow)
from spectool_app.actions import Answer, ToolCall, action_to_json
from spectool_app.events import (STAGES, EpisodeDone, EpisodeStarted, PolicyDecided, Proposed,
                                 StepDone, StepEvent, ToolExecuted, TurnDone, TurnStarted, VerdictGiven)

HEARTBEAT_EVERY_S = 10.0  # the run's heartbeat_at is refreshed at most this often (with a step commit)
PROPOSER_ROLES = ("drafter", "target")  # Proposed.role values

_RUNS, _EPISODES, _STEPS = Run.__table__, Episode.__table__, Step.__table__
_CHILD_TABLES: tuple[Table, ...] = tuple(model.__table__ for model in (Draft, Fallback, Verdict, PolicyCheck,
                                                                       ToolExecution))  # insert order
_RUN_INSERT = insert(_RUNS).returning(_RUNS.c.id)


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


def _action_json(action: Any) -> Optional[str]:
    return None if action is None else action_to_json(action)


def _proposal_row(event: Proposed) -> tuple[str, dict[str, Any]]:
    """``("drafts", values)`` for the drafter, ``("fallbacks", values)`` for the target.

    Raises:
        StoreError: unknown role or target purpose.
    """
    if event.role not in PROPOSER_ROLES:
        raise StoreError(f"unknown proposal role {event.role!r}; allowed: {', '.join(PROPOSER_ROLES)}")
    row = {"raw_text": event.raw_text, "action": _action_json(event.action), "parse_error": event.parse_error,
           "latency": event.latency_s, "prompt_tokens": event.prompt_tokens, "tokens": event.completion_tokens}
    if event.role == "drafter":
        row["mean_logprob"] = event.mean_logprob
        return "drafts", row
    if event.purpose not in FALLBACK_PURPOSES:
        raise StoreError(f"unknown target purpose {event.purpose!r}; allowed: {', '.join(FALLBACK_PURPOSES)}")
    row["purpose"] = event.purpose
    return "fallbacks", row


def _child_row(event: Proposed | VerdictGiven | PolicyDecided | ToolExecuted) -> tuple[str, dict[str, Any]]:
    """The table name and column values of one in-step event (``step_id`` is added at write time)."""
    if isinstance(event, Proposed):
        return _proposal_row(event)
    if isinstance(event, VerdictGiven):
        return "verdicts", {"verifier": event.verifier, "p_accept": event.p_accept, "threshold": event.threshold,
                            "accepted": event.accepted, "latency": event.latency_s, "detail": to_json(event.detail)}
    if isinstance(event, PolicyDecided):
        return "policy_checks", {"action": action_to_json(event.action), "allowed": event.allowed,
                                 "rule": event.rule, "latency": event.latency_s}
    return "tool_executions", {"call": action_to_json(event.call), "ok": event.ok, "content": event.content,
                               "error": event.error, "latency": event.latency_s}


def _step_values(done: StepDone, user_text: str) -> dict[str, Any]:
    """Column values of the Step row but its episode_id; raises StoreError for an unknown step source."""
    if done.source not in STEP_SOURCES:
        raise StoreError(f"unknown step source {done.source!r}; allowed: {', '.join(STEP_SOURCES)}")
    timings = {stage: float(done.timings.get(stage, 0.0)) for stage in STAGES}
    total = float(done.timings.get("total", sum(timings.values())))
    return {"turn": done.turn, "index": done.step, "user_text": user_text,
            "action": action_to_json(done.action), "action_kind": done.action.kind, "source": done.source,
            "t_draft": timings["draft"], "t_verify": timings["verify"], "t_fallback": timings["fallback"],
            "t_policy": timings["policy"], "t_tool": timings["tool"], "t_overhead": timings["overhead"],
            "t_total": total, "gold": _action_json(done.gold), "draft_correct": done.draft_correct,
            "created_at": utcnow()}


class _Insert:
    """An INSERT of every column but ``id``, compiled by SQLAlchemy for one dialect, run on the DBAPI cursor.

    SQLAlchemy writes the SQL (quoting, parameter style, casts) and each column type's bind
    processor converts the values, as ``Connection.execute`` does; skipped is its per-statement
    machinery (execution context, events, result objects, ``echo`` logging), which cost more
    than writing the row. Every row must hold every column but ``id``.
    """

    def __init__(self, table: Table, dialect: Dialect, returning: bool = False) -> None:
        columns = [column.name for column in table.columns if column.name != "id"]
        statement = insert(table).returning(table.c.id) if returning else insert(table)
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        self.sql = compiled.string  # the statement text in the driver's parameter style
        self.positional = bool(compiled.positional)  # parameters as a tuple (else a dict by name)
        self.names = tuple(compiled.positiontup) if self.positional else tuple(columns)  # parameter order
        if sorted(self.names) != sorted(columns) or set(compiled.binds) != set(columns) or compiled.escaped_bind_names:
            raise RuntimeError(f"unexpected parameter names for {table.name}: {sorted(compiled.binds)}")
        self.processors = tuple((index, processor) for index, name in enumerate(self.names)
                                if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)))

    def parameters(self, row: dict[str, Any]) -> Any:
        """The driver's parameters for one row (a tuple or a dict)."""
        values = [row[name] for name in self.names]
        for index, processor in self.processors:
            values[index] = processor(values[index])
        return tuple(values) if self.positional else dict(zip(self.names, values))


_COMPILED: "weakref.WeakKeyDictionary[Dialect, dict[str, _Insert]]" = weakref.WeakKeyDictionary()


def _inserts(dialect: Dialect) -> dict[str, _Insert]:
    """Episode and step inserts (``RETURNING id``) and one per child table, compiled once per dialect."""
    found = _COMPILED.get(dialect)
    if found is None:
        found = {table.name: _Insert(table, dialect) for table in _CHILD_TABLES}
        found.update({table.name: _Insert(table, dialect, returning=True) for table in (_EPISODES, _STEPS)})
        _COMPILED[dialect] = found
    return found


@contextmanager
def _cursor(connection: Connection) -> Iterator[Any]:
    """A DBAPI cursor of the connection, inside its current transaction."""
    cursor = connection.connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def _insert_row(cursor: Any, statement: _Insert, row: dict[str, Any]) -> int:
    """Insert one row with a ``RETURNING id`` statement; returns the new id."""
    cursor.execute(statement.sql, statement.parameters(row))
    return int(cursor.fetchone()[0])


def _insert_children(cursor: Any, inserts: dict[str, _Insert], step_id: int,
                     children: dict[str, list[dict[str, Any]]]) -> None:
    """The child rows of step ``step_id``, one executemany per table."""
    for name, rows in children.items():
        for row in rows:
            row["step_id"] = step_id
        statement = inserts[name]
        cursor.executemany(statement.sql, [statement.parameters(row) for row in rows])


class Recorder:
    """Consumes one run's events and writes them; one recorder per run, episodes one after another.

    Holds one database connection from its first write until :meth:`finish_run` or
    :meth:`close` (also released when the recorder is garbage-collected). It is not meant to
    be used from two threads at once.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine  # where rows go
        self._writer = write_engine(engine)  # same engine, SQLite transactions take the write lock at once
        self.run_id: Optional[int] = None  # the run being recorded
        self.episode_id: Optional[int] = None  # the episode being recorded, once its row is written
        self._episode: Optional[dict[str, Any]] = None  # Episode row values from EpisodeStarted; None outside one
        self.dropped_events = 0  # events of steps that never got a StepDone
        self._pending: dict[tuple[int, int], dict[str, list[dict[str, Any]]]] = {}  # (turn, step) -> table -> rows
        self._written: dict[tuple[int, int], int] = {}  # (turn, step) -> Step.id in this episode
        self._user_text: dict[int, str] = {}  # turn -> user message
        self._last_heartbeat = 0.0  # monotonic time of the last heartbeat update
        self._connection: Optional[Connection] = None  # held between writes; None until the first
        self._release: Optional[weakref.finalize] = None  # closes the connection if close() never runs
        self._driver_error: type = engine.dialect.loaded_dbapi.Error  # what the DBAPI driver raises
        self._inserts = _inserts(engine.dialect)  # episode, step and child inserts, compiled before the first step

    # -- connection -----------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One committed transaction on the held connection; database errors become StoreError.

        After any error the connection is dropped (the pool rolls back what it holds), so the next
        write starts on a fresh one: a Ctrl-C or SIGTERM that lands inside SQLAlchemy's ``begin``,
        after the database started its transaction, would otherwise leave that transaction open
        and the run could not be closed ("cannot start a transaction within a transaction").
        """
        try:
            if self._connection is None:
                self._connection = self._writer.connect()
                self._release = weakref.finalize(self, self._connection.close)
            with self._connection.begin():
                yield self._connection
        except (SQLAlchemyError, self._driver_error) as exc:  # the driver's own: from the cursor writes
            self.close()
            raise StoreError(describe_failure(self.engine, exc)) from exc
        except BaseException:  # an interrupt, or an error in the caller's rows
            self.close()
            raise

    def close(self) -> None:
        """Give the held connection back to the engine's pool (the next write takes one again)."""
        release, self._release, self._connection = self._release, None, None
        if release is not None:
            try:
                release()
            except SQLAlchemyError:
                pass  # a broken connection: nothing left to give back

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, *, mode: str = "", verifier: str = "", threshold: Optional[float] = None,
                  preset: str = "", task_set: str = "", config: Optional[dict[str, Any]] = None,
                  models: Optional[dict[str, Any]] = None, notes: str = "") -> int:
        """Insert a ``running`` Run row (with this process's pid and host) and return its id."""
        now = utcnow()
        values = {"created_at": now, "status": "running", "mode": mode, "verifier": verifier,
                  "threshold": threshold, "preset": preset, "task_set": task_set, "config": to_json(config or {}),
                  "models": to_json(models or {}), "notes": notes, "pid": os.getpid(), "host": socket.gethostname(),
                  "proc_start": process_start(os.getpid()), "heartbeat_at": now}
        with self._transaction() as connection:
            self.run_id = int(connection.execute(_RUN_INSERT, values).scalar_one())
        self._last_heartbeat = time.monotonic()
        return self.run_id

    def finish_run(self, run_id: Optional[int] = None, status: str = "done") -> None:
        """Set the run's final status (done, interrupted or failed) and finished_at, then :meth:`close`.

        Raises:
            StoreError: unknown status or unknown run id.
        """
        final = [s for s in RUN_STATUSES if s != "running"]
        if status not in final:
            raise StoreError(f"unknown final run status {status!r}; allowed: {', '.join(final)}")
        run_id = self.run_id if run_id is None else run_id
        if run_id is None:
            raise StoreError("no run to finish; call start_run first")
        now = utcnow()
        try:
            with self._transaction() as connection:
                result = connection.execute(update(_RUNS).where(_RUNS.c.id == run_id)
                                            .values(status=status, finished_at=now, heartbeat_at=now))
        finally:
            self.close()
        if result.rowcount == 0:
            raise StoreError(f"unknown run {run_id}; list runs with `python -m spectool_app runs list`")

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type: Any, exc: Any, _tb: Any) -> None:
        """Finish the run: done; failed on an exception; interrupted on Ctrl-C, SIGTERM (as
        KeyboardInterrupt), ``sys.exit`` or a generator closed by its consumer.

        While an exception propagates, a store that refuses the update does not replace it (the
        refusal becomes a note on it; the run is marked interrupted once its process is gone).
        """
        if self.run_id is None:
            self.close()
            return
        status = "done" if exc_type is None else "failed" if issubclass(exc_type, Exception) else "interrupted"
        try:
            self.finish_run(status=status)
        except StoreError as error:
            if exc is None:
                raise
            exc.add_note(f"run {self.run_id} could not be marked {status}: {error}")

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
        if self._episode is None:
            raise StoreError(f"{type(event).__name__} arrived before EpisodeStarted")
        if isinstance(event, (Proposed, VerdictGiven, PolicyDecided, ToolExecuted)):
            self._hold(event)
        elif isinstance(event, StepDone):
            self._write_step(event)
        elif isinstance(event, TurnStarted):
            self._user_text[event.turn] = event.user_text
        elif isinstance(event, EpisodeDone):
            self._finish_episode(event)
        elif not isinstance(event, TurnDone):
            raise StoreError(f"unknown event type {type(event).__name__}; expected one of spectool_app.events")

    def _hold(self, event: Proposed | VerdictGiven | PolicyDecided | ToolExecuted) -> None:
        """Turn an in-step event into row values now (bad values fail here, not at commit time)."""
        key = (event.turn, event.step)
        name, row = _child_row(event)
        if key in self._written:  # late event for a step already committed
            with self._transaction() as connection, _cursor(connection) as cursor:
                _insert_children(cursor, self._inserts, self._written[key], {name: [row]})
            return
        self._pending.setdefault(key, {}).setdefault(name, []).append(row)

    def _start_episode(self, event: EpisodeStarted) -> None:
        self.dropped_events += self._pending_count()
        self._pending, self._written, self._user_text, self.episode_id = {}, {}, {}, None
        self._episode = {"run_id": self.run_id, "task_id": event.task_id, "source": event.source,
                         "split": event.split, "mode": event.mode, "n_turns": event.n_turns, "passed": None,
                         "check_message": "", "wall_s": None, "steps": 0, "started_at": utcnow(), "finished_at": None}

    def _episode_row(self, connection: Connection, final: Optional[dict[str, Any]] = None) -> int:
        """The current episode's id, inserting its row first if needed; ``final`` values are written too."""
        if self.episode_id is None:
            with _cursor(connection) as cursor:
                return _insert_row(cursor, self._inserts[_EPISODES.name], {**self._episode, **(final or {})})
        if final:
            connection.execute(update(_EPISODES).where(_EPISODES.c.id == self.episode_id).values(**final))
        return self.episode_id

    def _write_step(self, done: StepDone) -> None:
        key = (done.turn, done.step)
        values = _step_values(done, self._user_text.get(done.turn, ""))
        rows = self._pending.pop(key, {})
        with self._transaction() as connection:
            values["episode_id"] = episode_id = self._episode_row(connection)
            with _cursor(connection) as cursor:
                step_id = _insert_row(cursor, self._inserts[_STEPS.name], values)
                _insert_children(cursor, self._inserts, step_id, rows)
            self._maybe_heartbeat(connection)
        self.episode_id = episode_id  # committed: later steps reuse the row
        self._written[key] = step_id

    def _finish_episode(self, event: EpisodeDone) -> None:
        self.dropped_events += self._pending_count()
        self._pending = {}
        final = {"passed": event.passed, "check_message": event.check_message, "wall_s": event.wall_s,
                 "steps": event.steps, "finished_at": utcnow()}
        with self._transaction() as connection:
            self._episode_row(connection, final)
            self._maybe_heartbeat(connection)
        self._episode, self.episode_id = None, None

    def _pending_count(self) -> int:
        return sum(len(rows) for tables in self._pending.values() for rows in tables.values())

    def _maybe_heartbeat(self, connection: Connection) -> None:
        """Refresh the run's heartbeat_at inside the caller's transaction, at most every HEARTBEAT_EVERY_S."""
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_EVERY_S:
            connection.execute(update(_RUNS).where(_RUNS.c.id == self.run_id).values(heartbeat_at=utcnow()))
            self._last_heartbeat = now


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
