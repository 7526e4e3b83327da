"""How the recorder writes: one transaction per step, no reads, one held connection, atomic steps.

Runs on a temporary SQLite file and, when ``SPECTOOL_TEST_PG_URL`` is set, on PostgreSQL too
(the statement trace is SQLite's own and runs there only).
"""

import pytest
from sqlalchemy import event, func, text
from sqlmodel import Session, select

import db.recorder
from db.engine import StoreError, init_db, make_engine, open_store
from db.recorder import Recorder, synthetic_episode
from db.tables import Draft, Step, ToolExecution, Verdict
from spectool_app.commands.runs import _overhead_figures
from spectool_app.events import StepDone
from tests.test_db import BACKENDS, fresh_url


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    engine = open_store(fresh_url(request.param, tmp_path))
    yield engine
    engine.dispose()


def _counts(engine, *tables):
    with Session(engine) as session:
        return [session.exec(select(func.count()).select_from(table)).one() for table in tables]


def _statement_kinds(statements):
    """'BEGIN IMMEDIATE', 'COMMIT' or the first three words ('INSERT INTO steps')."""
    return [" ".join(statement.split()[:3]) if statement.split()[0] in ("INSERT", "UPDATE") else statement
            for statement in statements]


def test_each_step_is_one_transaction_without_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(db.recorder, "HEARTBEAT_EVERY_S", 1e9)  # no heartbeat update inside this test
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    statements = []
    event.listen(engine, "checkout", lambda dbapi, _record, _proxy: dbapi.set_trace_callback(statements.append))
    recorder = Recorder(engine)
    recorder.start_run(mode="speculative")
    statements.clear()
    for item in synthetic_episode("a", 2):
        recorder.consume(item)
    # tool step (with the episode row), answer step, episode end: three transactions, no SELECT
    assert _statement_kinds(statements) == [
        "BEGIN IMMEDIATE", "INSERT INTO episodes", "INSERT INTO steps", "INSERT INTO drafts", "INSERT INTO verdicts",
        "INSERT INTO policy_checks", "INSERT INTO tool_executions", "COMMIT",
        "BEGIN IMMEDIATE", "INSERT INTO steps", "INSERT INTO drafts", "INSERT INTO verdicts", "COMMIT",
        "BEGIN IMMEDIATE", "UPDATE episodes SET", "COMMIT"]
    recorder.finish_run()
    engine.dispose()


def test_sqlite_file_commits_without_fsync_but_memory_keeps_full(tmp_path):
    # WAL + synchronous NORMAL (1) on a file; an in-memory database keeps SQLite's default FULL (2)
    for url, expected in ((f"sqlite:///{tmp_path / 'store.db'}", ("wal", 1)), ("sqlite://", ("memory", 2))):
        engine = make_engine(url)
        with engine.connect() as conn:
            assert (conn.execute(text("PRAGMA journal_mode")).scalar(),
                    conn.execute(text("PRAGMA synchronous")).scalar()) == expected
        engine.dispose()


def test_recorder_holds_one_connection_and_gives_it_back(engine):
    moves = []
    event.listen(engine, "checkout", lambda *_: moves.append("out"))
    event.listen(engine, "checkin", lambda *_: moves.append("in"))
    recorder = Recorder(engine)
    recorder.start_run(mode="speculative")
    for task in ("a", "b"):
        for item in synthetic_episode(task, 3):
            recorder.consume(item)
    # one checkout for the run start, two episodes and six steps; given back at finish_run
    assert moves == ["out"]
    recorder.finish_run()
    assert moves == ["out", "in"]


def test_a_failed_step_write_leaves_no_part_of_it_and_the_recorder_recovers(engine):
    recorder = Recorder(engine)
    recorder.start_run(mode="speculative")
    events = synthetic_episode("a", 3)
    done = [index for index, item in enumerate(events) if isinstance(item, StepDone)]
    for item in events[:done[0] + 1]:
        recorder.consume(item)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE tool_executions"))
    for item in events[done[0] + 1:done[1]]:
        recorder.consume(item)
    # the second step's tool row cannot be written: its Step, Draft and Verdict rows are rolled back too
    with pytest.raises(StoreError, match='no such table: tool_executions|relation "tool_executions" does not exist'):
        recorder.consume(events[done[1]])
    assert _counts(engine, Step, Draft, Verdict) == [1, 1, 1]
    # once the table is back, the next step is written on a fresh connection
    init_db(engine)
    for item in events[done[1] + 1:]:
        recorder.consume(item)
    recorder.finish_run()
    assert _counts(engine, Step, Draft, Verdict, ToolExecution) == [2, 2, 2, 0]
    with Session(engine) as session:
        assert session.exec(select(Step.index).order_by(Step.id)).all() == [0, 2]


def test_overhead_figures_from_literal_step_times():
    # three steps of 50, 100 and 150 ms; the recorder took 1, 2 and 3 ms: 2% on average and at the median
    figures = _overhead_figures([0.05, 0.1, 0.15], [0.001, 0.002, 0.003])
    assert figures["recorder_ms_per_step"] == pytest.approx(2.0) and figures["step_ms"] == pytest.approx(100.0)
    assert figures["overhead_pct"] == pytest.approx(2.0) and figures["overhead_pct_median"] == pytest.approx(2.0)
    assert (figures["recorder_ms_median"], figures["step_ms_median"]) == (pytest.approx(2.0), pytest.approx(100.0))
    assert figures["within_limit"] is True and figures["limit_pct"] == 2.0
    # one slow commit: the mean goes over the limit, the median does not
    figures = _overhead_figures([0.05, 0.1, 0.15], [0.001, 0.002, 0.009])
    assert figures["overhead_pct"] == pytest.approx(4.0) and figures["within_limit"] is False
    assert figures["overhead_pct_median"] == pytest.approx(2.0)
    # nothing measured
    assert _overhead_figures([], [])["overhead_pct"] is None


def _interrupt_after_the_next_begin(engine):
    """A Ctrl-C that lands just after the database started a write transaction (before the
    first row): the moment a SIGTERM hit a bench in CI."""
    def _raise(_connection):
        event.remove(engine, "begin", _raise)
        raise KeyboardInterrupt

    event.listen(engine, "begin", _raise)  # after the store's own listener, which sent BEGIN


def test_an_interrupt_inside_a_write_leaves_the_run_closable(engine):
    recorder = Recorder(engine)
    run_id = recorder.start_run(mode="speculative")
    events = synthetic_episode("a", 2)
    _interrupt_after_the_next_begin(engine)
    with pytest.raises(KeyboardInterrupt):
        for item in events:
            recorder.consume(item)
    recorder.finish_run(status="interrupted")  # a fresh connection: no transaction left half open
    with Session(engine) as session:
        assert session.exec(select(db.recorder.Run.status).where(db.recorder.Run.id == run_id)).one() == "interrupted"
    assert _counts(engine, Step) == [0]
