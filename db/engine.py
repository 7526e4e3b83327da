"""Engines for the SpecTool store: SQLite (default, a file in WAL mode) or any SQLAlchemy URL.

- ``make_engine(url)``: SQLite gets WAL, foreign keys, a busy timeout, ``check_same_thread=False``
  (Gradio calls from worker threads) and SQLAlchemy-emitted ``BEGIN`` (so DDL is transactional);
  ``postgresql://`` URLs use the psycopg (3) driver.
- ``preflight(engine)``: a write in a rolled-back transaction, so a locked, unreachable or
  read-only database fails with :class:`StoreError` before a run starts.
- ``init_db(engine)`` creates the tables; ``mark_stale_runs_interrupted(engine)`` turns runs
  whose recording process is gone into ``interrupted`` (never deletes anything).

This module knows nothing about events, models or the UI.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Engine, create_engine, event, inspect, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, select

from db.tables import Run, utcnow
from spectool_app.config import load_config

PSYCOPG_PIN = "psycopg[binary]==3.3.9"  # the driver a PostgreSQL URL needs
DEFAULT_BUSY_TIMEOUT_S = 5.0  # how long SQLite waits for another writer before "locked"
STALE_AFTER_S = 3600.0  # a running run silent this long counts as stale even if its process lives
WRITE_OPTION = "spectool_write"  # execution option: SQLite starts the transaction with BEGIN IMMEDIATE
_PROBE_TABLE = "spectool_preflight_probe"  # created and rolled back by preflight


class StoreError(RuntimeError):
    """The store cannot do what was asked; the message says what is wrong and what to do."""


def default_url() -> str:
    """The configured URL: ``SPECTOOL_DB_URL`` or an SQLite file under the data folder."""
    return load_config().database_url


def _normalize_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` (psycopg2 by default) to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_file(url: str) -> Optional[Path]:
    """The database file of an SQLite URL, None for memory or ``file:`` URIs and other back-ends."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _setup_sqlite(engine: Engine) -> None:
    """Per-connection pragmas and explicit BEGIN (see SQLAlchemy's pysqlite transaction notes).

    The busy timeout is the driver's ``timeout`` connect argument.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            try:
                mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode and str(mode[0]).lower() == "wal":
                    # NORMAL in WAL mode: a commit is in the WAL file (the OS's cache) when it
                    # returns, fsynced only at checkpoints. Committed steps survive the process
                    # dying (kill -9, OOM), which is what the recorder promises. Not covered:
                    # power loss or an OS crash may roll back the last commits (the file stays
                    # consistent). Where WAL is refused (memory, some network file systems) FULL stays.
                    cursor.execute("PRAGMA synchronous = NORMAL")
            except Exception:  # noqa: BLE001 - a read-only or locked file; preflight reports it
                pass
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: Optional[str] = None, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
                echo: bool = False) -> Engine:
    """An engine for ``url`` (default: :func:`default_url`).

    Args:
        url: any SQLAlchemy URL; ``sqlite://`` is an in-memory database shared by all threads.
        busy_timeout_s: SQLite only: how long to wait for another writer's lock.
        echo: log SQL statements.

    Raises:
        StoreError: the URL is malformed or its driver is not installed.
    """
    url = _normalize_url(url or default_url())
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {url!r} ({exc}); "
                         "expected e.g. sqlite:///path/spectool.db or postgresql://user@host/db") from exc
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_s}
        if make_url(url).database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool  # one shared connection, or each thread gets its own empty DB
        path = _sqlite_file(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the database folder {path.parent}: {exc}") from exc
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = f"pip install '{PSYCOPG_PIN}'" if backend == "postgresql" else "install its driver"
        raise StoreError(f"no driver for {backend} URLs ({exc}); {hint}") from exc
    if backend == "sqlite":
        _setup_sqlite(engine)
    return engine


def write_engine(engine: Engine) -> Engine:
    """The same engine whose transactions take the write lock at once (SQLite ``BEGIN IMMEDIATE``)."""
    return engine.execution_options(**{WRITE_OPTION: True})


def init_db(engine: Engine) -> None:
    """Create any missing tables (existing tables and rows are left alone).

    Raises:
        StoreError: the database refused (locked, read-only, unreachable), or an existing table
            lacks columns this version needs (there are no migrations: the message says so).
    """
    try:
        SQLModel.metadata.create_all(engine)
        inspector = inspect(engine)
        missing = [f"{table.name}.{column.name}" for table in SQLModel.metadata.sorted_tables
                   for column in table.columns
                   if column.name not in {c["name"] for c in inspector.get_columns(table.name)}]
    except SQLAlchemyError as exc:
        raise StoreError(describe_failure(engine, exc)) from exc
    if missing:
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"database {where} was made by an older SpecTool and lacks columns "
                         f"{', '.join(missing)}; move it aside (runs are not migrated) or set SPECTOOL_DB_URL")


def describe_failure(engine: Engine, exc: BaseException) -> str:
    """One line naming what is wrong with the database and what to do about it."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    where = engine.url.render_as_string(hide_password=True)
    lowered = reason.lower()
    if any(word in lowered for word in ("locked", "could not obtain lock", "lock timeout")):
        return (f"database is locked: {where} ({reason}); another process is writing to it, "
                "wait for it to finish or point SPECTOOL_DB_URL elsewhere")
    if any(word in lowered for word in ("readonly", "read-only", "read only", "permission denied")):
        return (f"database is read-only: {where} ({reason}); make it writable or point "
                "SPECTOOL_DB_URL at a writable location")
    return (f"database is unreachable: {where} ({reason}); check that the file or server exists "
            "and SPECTOOL_DB_URL is right")


def preflight(engine: Engine) -> None:
    """Check that the database accepts writes, leaving nothing behind.

    Creates a probe table and inserts a row inside a transaction that is rolled back.

    Raises:
        StoreError: the database is locked, unreachable or read-only; the message says which.
    """
    try:
        with write_engine(engine).connect() as connection:
            transaction = connection.begin()
            try:
                connection.exec_driver_sql(f"CREATE TABLE {_PROBE_TABLE} (x INTEGER)")
                connection.exec_driver_sql(f"INSERT INTO {_PROBE_TABLE} (x) VALUES (1)")
            finally:
                transaction.rollback()
    except (DBAPIError, SQLAlchemyError, OSError) as exc:
        raise StoreError(describe_failure(engine, exc)) from exc


def open_store(url: Optional[str] = None, **engine_kwargs: Any) -> Engine:
    """make_engine, preflight, init_db and mark_stale_runs_interrupted: what a run or the app does first.

    Raises:
        StoreError: as :func:`make_engine` and :func:`preflight`.
    """
    engine = make_engine(url, **engine_kwargs)
    preflight(engine)
    init_db(engine)
    mark_stale_runs_interrupted(engine)
    return engine


def process_start(pid: int) -> str:
    """A token that tells a process apart from a later one with the same pid: its start time in
    clock ticks since boot (Linux ``/proc``), or "" where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22; the name before ")" may hold spaces


def process_alive(pid: int, start: str = "") -> bool:
    """Whether process ``pid`` exists on this machine and, when ``start`` is given, is the same
    process (not a later one that reused the pid). A zombie counts as alive."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    current = process_start(pid)
    return not (start and current and current != start)


def mark_stale_runs_interrupted(engine: Engine, *, stale_after_s: float = STALE_AFTER_S,
                                everything: bool = False) -> int:
    """Set ``status='interrupted'`` on running runs whose recorder is gone; returns how many.

    A running run is stale when it has no recorded process, when its process (pid and start
    token) no longer exists on this machine, or when nothing was committed for ``stale_after_s``
    seconds. "This machine" is any host for SQLite (a local file) and the same host name for
    other back-ends, whose runs from other hosts are judged by the silence alone.
    ``everything=True`` marks every running run. Nothing is ever deleted.

    Raises:
        StoreError: the database refused the update.
    """
    local_only = engine.dialect.name == "sqlite"
    here = socket.gethostname()
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    try:
        with Session(write_engine(engine)) as session:
            running = session.exec(select(Run).where(Run.status == "running")).all()
            stale_ids = [run.id for run in running
                         if everything or _is_stale(run, local_only or run.host == here, cutoff)]
            if stale_ids:
                session.execute(update(Run).where(Run.id.in_(stale_ids), Run.status == "running")
                                .values(status="interrupted", finished_at=utcnow()))
            session.commit()
    except SQLAlchemyError as exc:
        raise StoreError(describe_failure(engine, exc)) from exc
    return len(stale_ids)


def _is_stale(run: Run, same_machine: bool, cutoff: datetime) -> bool:
    last = run.heartbeat_at or run.created_at
    if run.pid is None or (last is not None and last < cutoff):
        return True
    return same_machine and not process_alive(run.pid, run.proc_start)
