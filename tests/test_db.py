"""The store: events -> rows, commits per step, faithful tool output, labels, faults, queries.

Every store test runs on a temporary SQLite file and, when ``SPECTOOL_TEST_PG_URL`` is set,
on that PostgreSQL database too (its tables are dropped and recreated for each test).
"""

import os
import socket
import sqlite3
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from db import queries
from db.engine import (StoreError, init_db, make_engine, mark_stale_runs_interrupted, open_store, preflight,
                       process_start)
from db.recorder import Recorder, recorder_overhead, synthetic_episode
from db.tables import Annotation, Episode, Run, Step, ToolExecution, utcnow
from spectool_app.actions import Answer, Blocked, ToolCall, action_to_json
from spectool_app.events import (EpisodeDone, EpisodeStarted, PolicyDecided, Proposed, StepDone, ToolExecuted,
                                 TurnDone, TurnStarted, VerdictGiven)

PG_URL = os.environ.get("SPECTOOL_TEST_PG_URL", "")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="set SPECTOOL_TEST_PG_URL to run the store tests on PostgreSQL"))]
needs_pg = pytest.mark.skipif(not PG_URL, reason="set SPECTOOL_TEST_PG_URL to run PostgreSQL tests")

LS = ToolCall("ls", {"a": True})
CAT = ToolCall("cat", {"file_name": "notes.txt"})
RM = ToolCall("rm", {"file_name": "notes.txt"})


def fresh_url(backend: str, tmp_path) -> str:
    """An empty database of ``backend``: a new SQLite file, or the test PostgreSQL with no tables."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(PG_URL)
    SQLModel.metadata.drop_all(engine)
    engine.dispose()
    return PG_URL


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    return fresh_url(request.param, tmp_path)


@pytest.fixture
def engine(url):
    engine = open_store(url)
    yield engine
    engine.dispose()


def hand_episode():
    """Two turns: accepted draft; unparsable draft -> target; accepted answer; rm denied by policy."""
    return [
        EpisodeStarted("synthetic-7", "synthetic", "test", "speculative", 2),
        TurnStarted(0, "list my files, then show notes"),
        Proposed(0, 0, "drafter", '<tool_call>{"name": "ls"}</tool_call>', LS, None, 0.03, 120, 14, -0.2),
        VerdictGiven(0, 0, "trained", 0.52, 0.5, True, 0.012, {"logit": 2.3}),
        PolicyDecided(0, 0, LS, True, None, 0.0002),
        ToolExecuted(0, 0, LS, True, "notes.txt  todo.md", None, 0.004),
        StepDone(0, 0, LS, "draft", {"draft": 0.03, "verify": 0.012, "policy": 0.0002, "tool": 0.004,
                                     "overhead": 0.001}, gold=LS, draft_correct=True),
        # the parallel target finishes after the step was committed
        Proposed(0, 0, "target", "late", LS, None, 0.35, 120, 14, purpose="wasted"),
        Proposed(0, 1, "drafter", "cat(notes", None, "unbalanced parenthesis", 0.02, 130, 5, -1.5),
        VerdictGiven(0, 1, "trained", 0.0, 0.5, False, 0.0, {}),
        Proposed(0, 1, "target", "<tool_call>cat</tool_call>", CAT, None, 0.4, 130, 20, purpose="fallback"),
        PolicyDecided(0, 1, CAT, True, None, 0.0001),
        ToolExecuted(0, 1, CAT, False, "", "No such file", 0.002),
        StepDone(0, 1, CAT, "target", {"draft": 0.02, "fallback": 0.4, "tool": 0.002}, gold=CAT,
                 draft_correct=False),
        Proposed(0, 2, "drafter", "Done.", Answer("Done."), None, 0.01, 140, 3, -0.05),
        VerdictGiven(0, 2, "trained", 0.7, 0.5, True, 0.011, {}),
        Proposed(0, 2, "target", "Bye.", Answer("Bye."), None, 0.3, 140, 4, purpose="shadow"),
        StepDone(0, 2, Answer("Done."), "draft", {"draft": 0.01, "verify": 0.011}),
        TurnDone(0, 3, "answer"),
        TurnStarted(1, "delete notes.txt"),
        Proposed(1, 0, "drafter", "rm", RM, None, 0.02, 150, 15, -0.3),
        VerdictGiven(1, 0, "trained", 0.55, 0.5, True, 0.01, {}),
        PolicyDecided(1, 0, RM, False, "deny_tools: rm", 0.0003),
        StepDone(1, 0, Blocked("deny_tools: rm"), "blocked", {"draft": 0.02, "verify": 0.01, "policy": 0.0003},
                 gold=Blocked("destructive"), draft_correct=False),
        TurnDone(1, 1, "blocked"),
        EpisodeDone("synthetic-7", False, "state differs: notes.txt", 0.52, 4),
    ]


def record(engine, events, **run_fields):
    recorder = Recorder(engine)
    run_id = recorder.start_run(**{"mode": "speculative", "verifier": "trained", "threshold": 0.5, **run_fields})
    for event in events:
        recorder.consume(event)
    recorder.finish_run()
    return run_id


def by_position(rows):
    return [(row["turn"], row["index"]) for row in rows]


# -- round trip --------------------------------------------------------------------------------
def test_hand_built_events_round_trip_into_rows(engine):
    run_id = record(engine, hand_episode(), task_set="synthetic:test", config={"limit": 1})
    steps = queries.run_steps(engine, run_id)
    # one row per StepDone, in order, with the executed action and its source
    assert by_position(steps) == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert [s["source"] for s in steps] == ["draft", "target", "draft", "blocked"]
    assert steps[3]["action"] == '{"kind": "blocked", "reason": "deny_tools: rm"}'
    assert steps[0]["gold"] == action_to_json(LS) and steps[2]["gold"] is None
    # stage timings as columns; total = sum of stages
    assert steps[0]["t_draft"] == 0.03 and steps[1]["t_fallback"] == 0.4
    assert steps[0]["t_total"] == pytest.approx(0.0472)
    # an unparsable draft is recorded with its error, the target's fallback beside it
    assert steps[1]["draft_action"] is None and steps[1]["draft_parse_error"] == "unbalanced parenthesis"
    assert steps[1]["target_action"] == action_to_json(CAT) and steps[1]["target_purpose"] == "fallback"
    assert steps[1]["tool_ok"] is False and steps[3]["policy_rule"] == "deny_tools: rm"
    detail = queries.step_detail(engine, steps[0]["step_id"])
    assert detail["user_text"] == "list my files, then show notes"
    assert detail["verdicts"][0]["detail"] == {"logit": 2.3}
    # the late wasted proposal is attached to the step already written
    assert [f["purpose"] for f in detail["fallbacks"]] == ["wasted"]
    assert detail["tool_executions"][0]["content"] == "notes.txt  todo.md"
    assert detail["drafts"][0]["mean_logprob"] == -0.2
    assert detail["run"]["config"] == {"limit": 1} and detail["episode"]["task_id"] == "synthetic-7"


def test_run_summary_metrics_from_recorded_steps(engine):
    run_id = record(engine, hand_episode())
    summary = queries.run_summary(engine, run_id)
    # 3 of 4 drafts accepted; one target call was needed (the shadow and wasted ones are apart)
    assert summary["steps"] == 4 and summary["accepted_drafts"] == 3 and summary["acceptance_rate"] == 0.75
    assert (summary["target_calls"], summary["shadow_calls"], summary["wasted_calls"]) == (1, 1, 1)
    assert summary["target_call_savings"] == 0.75
    # gold known on 3 steps, 2 drafts wrong, 1 of them accepted
    assert (summary["gold_known"], summary["wrong_drafts"], summary["false_accepts"]) == (3, 2, 1)
    assert summary["false_accept_rate"] == 0.5 and summary["false_reject_rate"] == 0.0
    assert summary["parse_errors"] == 1 and summary["blocked_steps"] == 1 and summary["policy_blocks"] == 1
    assert summary["episodes"] == 1 and summary["pass_rate"] == 0.0 and summary["status"] == "done"
    assert summary["tokens"] == {"drafter": {"prompt": 540, "completion": 37},
                                 "target": {"prompt": 390, "completion": 38}}
    # bound = t_T / (t_d + t_v + (1 - a) t_T) with t_T = 0.35, t_d = 0.02, t_v = 0.00825
    assert summary["latency_means"]["target"] == pytest.approx(0.35)
    assert summary["speedup_bound"] == pytest.approx(0.35 / (0.02 + 0.00825 + 0.25 * 0.35))


def test_each_step_is_committed_when_it_ends(url, engine):
    recorder = Recorder(engine)
    run_id = recorder.start_run(mode="speculative")
    reader = make_engine(url)
    try:
        events = hand_episode()
        for event in events[:7]:  # up to and including the first StepDone
            recorder.consume(event)
        # a second engine sees the finished step while the episode is still running
        assert by_position(queries.run_steps(reader, run_id)) == [(0, 0)]
        assert queries.run_episodes(reader, run_id)[0]["passed"] is None
        for event in events[7:12]:  # the next step's events, without its StepDone
            recorder.consume(event)
        assert by_position(queries.run_steps(reader, run_id)) == [(0, 0)]
        for event in events[12:]:
            recorder.consume(event)
        assert len(queries.run_steps(reader, run_id)) == 4
        assert queries.list_runs(reader)[0]["status"] == "running"
    finally:
        reader.dispose()


def test_tool_output_of_any_size_and_content_is_stored_as_given(engine):
    # 1 MB of markup, control characters (no NUL: PostgreSQL text cannot hold it), high bytes, unicode
    piece = "<script>alert('x')</script><img src=x onerror=alert(1)>" + "".join(map(chr, range(1, 256)))
    piece += "é漢字🙂\r\n\r'\"\\"
    content = (piece * (1_000_000 // len(piece) + 1))[:1_000_000]
    call = ToolCall("cat", {"file_name": "<b>x</b>"})
    events = [EpisodeStarted("t", "synthetic", "test", "speculative", 1), TurnStarted(0, "show it"),
              Proposed(0, 0, "drafter", content[:5000], call, None, 0.01, 1, 1),
              ToolExecuted(0, 0, call, True, content, None, 0.1),
              StepDone(0, 0, call, "draft", {"draft": 0.01, "tool": 0.1}),
              EpisodeDone("t", True, "", 0.2, 1)]
    run_id = record(engine, events)
    step_id = queries.run_steps(engine, run_id)[0]["step_id"]
    detail = queries.step_detail(engine, step_id)
    stored = detail["tool_executions"][0]["content"]
    assert len(stored) == 1_000_000 and stored == content
    assert stored.encode("utf-8") == content.encode("utf-8")
    assert detail["drafts"][0]["raw_text"] == content[:5000]
    assert detail["tool_executions"][0]["call"] == '{"arguments": {"file_name": "<b>x</b>"}, "kind": "tool_call", "name": "cat"}'


# -- labels -------------------------------------------------------------------------------------
def test_annotation_upsert_keeps_one_row_per_verdict_and_annotator(engine):
    run_id = record(engine, hand_episode())
    verdict_id = queries.run_steps(engine, run_id)[3]["verdict_id"]
    first = queries.upsert_annotation(engine, verdict_id, "false_accept", "ana", note="rm is destructive")
    second = queries.upsert_annotation(engine, verdict_id, "should_block", " ana ",
                                       corrected_action={"kind": "blocked", "reason": "destructive"})
    queries.upsert_annotation(engine, verdict_id, "correct", "bo")
    # same id, updated in place; a second annotator gets a row of their own
    assert second["id"] == first["id"] and second["label"] == "should_block" and second["note"] == ""
    assert second["corrected_action"] == '{"kind": "blocked", "reason": "destructive"}'
    with Session(engine) as session:
        rows = session.exec(select(Annotation).order_by(Annotation.annotator)).all()
    assert [(r.annotator, r.label) for r in rows] == [("ana", "should_block"), ("bo", "correct")]
    # the database itself refuses a duplicate (verdict, annotator)
    with Session(engine) as session, pytest.raises(IntegrityError):
        session.add(Annotation(verdict_id=verdict_id, annotator="bo", label="correct"))
        session.commit()


def test_annotation_bad_input_names_what_is_allowed(engine):
    run_id = record(engine, hand_episode())
    verdict_id = queries.run_steps(engine, run_id)[0]["verdict_id"]
    # unknown label
    with pytest.raises(StoreError, match="unknown label 'wrong'; allowed: correct, false_accept, "
                                         "false_reject, should_block"):
        queries.upsert_annotation(engine, verdict_id, "wrong", "ana")
    # empty annotator
    with pytest.raises(StoreError, match="annotator name is empty"):
        queries.upsert_annotation(engine, verdict_id, "correct", "   ")
    # unknown verdict
    with pytest.raises(StoreError, match="unknown verdict 999"):
        queries.upsert_annotation(engine, 999, "correct", "ana")
    # a corrected action that is not an action
    with pytest.raises(StoreError, match="corrected action is not an action.*kinds: tool_call, answer, blocked"):
        queries.upsert_annotation(engine, verdict_id, "false_accept", "ana", corrected_action='{"kind": "dance"}')


def test_verdict_queue_orders_and_filters(engine):
    run_id = record(engine, hand_episode())
    # margins |p - t|: (0,0) 0.02, (1,0) 0.05, (0,2) 0.2, (0,1) 0.5
    assert by_position(queries.verdict_queue(engine, run_id)) == [(0, 0), (1, 0), (0, 2), (0, 1)]
    # disagreements first: (1,0) accepted a wrong draft (gold), (0,2) differs from the shadow target
    queue = queries.verdict_queue(engine, run_id, order="disagreement")
    assert by_position(queue) == [(1, 0), (0, 2), (0, 0), (0, 1)]
    assert [(q["reference"], q["disagreement"]) for q in queue] == [("gold", True), ("shadow", True),
                                                                     ("gold", False), ("gold", False)]
    queries.upsert_annotation(engine, queue[0]["verdict_id"], "false_accept", "ana")
    assert by_position(queries.verdict_queue(engine, run_id, labeled=True)) == [(1, 0)]
    assert len(queries.verdict_queue(engine, run_id, labeled=False)) == 3
    # "labeled" is per annotator when one is named
    assert queries.verdict_queue(engine, run_id, labeled=True, annotator="bo") == []
    with pytest.raises(StoreError, match="unknown queue order 'random'; allowed: uncertainty, disagreement"):
        queries.verdict_queue(engine, run_id, order="random")


def test_export_pairs_turns_labels_into_accept_reject_rows(engine, tmp_path):
    run_id = record(engine, hand_episode())
    steps = queries.run_steps(engine, run_id)
    queries.upsert_annotation(engine, steps[3]["verdict_id"], "false_accept", "ana",
                              corrected_action=Blocked("destructive"))
    queries.upsert_annotation(engine, steps[0]["verdict_id"], "correct", "ana")
    queries.upsert_annotation(engine, steps[1]["verdict_id"], "correct", "ana")  # its draft did not parse
    rows = queries.export_pairs(engine, tmp_path / "out" / "pairs.jsonl", run_id=run_id)
    # accepted + correct -> ACCEPT; false_accept -> REJECT; the correction -> ACCEPT
    assert [(r["step"], r["turn"], r["label"], r["origin"]) for r in rows] == [
        (0, 0, "ACCEPT", "annotation"), (0, 1, "REJECT", "annotation"), (0, 1, "ACCEPT", "correction")]
    assert rows[1]["draft"] == {"kind": "tool_call", "name": "rm", "arguments": {"file_name": "notes.txt"}}
    assert rows[2]["draft"] == {"kind": "blocked", "reason": "destructive"}
    assert rows[0]["task_id"] == "synthetic-7" and rows[0]["user_text"] == "list my files, then show notes"
    lines = (tmp_path / "out" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and '"label": "REJECT"' in lines[1]


# -- queries ------------------------------------------------------------------------------------
def test_list_runs_filters(engine):
    failed_run = record(engine, hand_episode(), mode="speculative")
    passing_run = record(engine, synthetic_episode("ok-1", 3), mode="target_only", verifier="")
    assert [r["id"] for r in queries.list_runs(engine)] == [passing_run, failed_run]
    # mode, pass/fail, labeled, status, date
    assert [r["id"] for r in queries.list_runs(engine, mode="target_only")] == [passing_run]
    assert [r["id"] for r in queries.list_runs(engine, passed=False)] == [failed_run]
    assert [r["id"] for r in queries.list_runs(engine, passed=True)] == [passing_run]
    assert queries.list_runs(engine, labeled=True) == []
    assert queries.list_runs(engine, status="running") == []
    assert queries.list_runs(engine, since="2999-01-01") == []
    row = queries.list_runs(engine, mode="speculative")[0]
    assert (row["episodes"], row["episodes_passed"], row["steps"], row["pass_rate"]) == (1, 0, 4, 0.0)
    with pytest.raises(StoreError, match="unknown run status 'paused'; allowed: running, done, interrupted"):
        queries.list_runs(engine, status="paused")
    with pytest.raises(StoreError, match="since must be an ISO date"):
        queries.list_runs(engine, since="yesterday")


def test_unknown_ids_are_store_errors(engine):
    # unknown run, unknown step
    for call in (queries.run_summary, queries.run_steps, queries.run_episodes):
        with pytest.raises(StoreError, match="unknown run 42; list runs with"):
            call(engine, 42)
    with pytest.raises(StoreError, match="unknown run 42"):
        queries.verdict_queue(engine, 42)
    with pytest.raises(StoreError, match="unknown step 7"):
        queries.step_detail(engine, 7)
    with pytest.raises(StoreError, match="unknown run 42"):
        Recorder(engine).finish_run(42)


def test_recorder_refuses_bad_events(engine):
    recorder = Recorder(engine)
    # events before a run, before an episode; an unknown step source; an unknown target purpose
    with pytest.raises(StoreError, match="no run started"):
        recorder.consume(TurnStarted(0, "hi"))
    recorder.start_run(mode="speculative")
    with pytest.raises(StoreError, match="TurnStarted arrived before EpisodeStarted"):
        recorder.consume(TurnStarted(0, "hi"))
    recorder.consume(EpisodeStarted("t", "synthetic", "test", "speculative", 1))
    with pytest.raises(StoreError, match="unknown step source 'oracle'; allowed: draft, target, blocked, limit"):
        recorder.consume(StepDone(0, 0, LS, "oracle", {}))
    with pytest.raises(StoreError, match="unknown target purpose 'maybe'; allowed: execute, fallback, verify, shadow, wasted"):
        recorder.consume(Proposed(0, 0, "target", "", LS, None, 0.1, 1, 1, purpose="maybe"))
    with pytest.raises(StoreError, match="unknown final run status 'running'; allowed: done, interrupted, failed"):
        recorder.finish_run(status="running")


def test_recorder_context_marks_a_crashed_run_failed(engine):
    # an exception inside the block -> failed; KeyboardInterrupt (Ctrl-C, SIGTERM) or SystemExit -> interrupted
    for error, status in ((RuntimeError, "failed"), (KeyboardInterrupt, "interrupted"), (SystemExit, "interrupted")):
        with pytest.raises(error):
            with Recorder(engine) as recorder:
                run_id = recorder.start_run(mode="speculative")
                raise error("boom")
        assert queries.run_summary(engine, run_id)["status"] == status


def test_recorder_overhead_is_small():
    # seconds per recorded step (draft, verdict, policy, tool rows and a commit) on a temporary SQLite file
    seconds = recorder_overhead(50)
    assert 0 < seconds < 0.05


# -- engine and faults --------------------------------------------------------------------------
def test_stale_running_run_becomes_interrupted_at_start(url):
    engine = open_store(url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = utcnow() - timedelta(hours=2)
    with Session(engine) as session:
        me, my_start = os.getpid(), process_start(os.getpid())
        for notes, pid, start, heartbeat in (
                ("dead process", dead.pid, "", utcnow()), ("no process", None, "", utcnow()),
                ("pid reused by a later process", me, "1", utcnow()), ("alive, silent 2 h", me, my_start, old),
                ("alive", me, my_start, utcnow())):
            session.add(Run(mode="speculative", notes=notes, pid=pid, proc_start=start,
                            host=socket.gethostname(), heartbeat_at=heartbeat))
        session.add(Run(mode="speculative", notes="finished", status="done"))
        session.commit()
    engine.dispose()
    engine = open_store(url)  # start-up marks stale runs
    status = {r["notes"]: r["status"] for r in queries.list_runs(engine)}
    assert status == {"dead process": "interrupted", "no process": "interrupted",
                      "pid reused by a later process": "interrupted", "alive, silent 2 h": "interrupted",
                      "alive": "running", "finished": "done"}
    assert all(r["finished_at"] for r in queries.list_runs(engine, status="interrupted"))
    # never deleted; a second pass finds nothing new; everything=True takes the live one too
    assert mark_stale_runs_interrupted(engine) == 0
    assert mark_stale_runs_interrupted(engine, everything=True) == 1
    assert len(queries.list_runs(engine)) == 6
    engine.dispose()


def test_sqlite_engine_uses_wal_and_enforces_foreign_keys(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    # a step of an episode that does not exist
    with Session(engine) as session, pytest.raises(IntegrityError):
        session.add(Step(episode_id=12345, turn=0, index=0, action="{}"))
        session.commit()
    engine.dispose()


def test_old_schema_is_named_not_silently_used(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # a runs table from before the heartbeat columns
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, status VARCHAR)")
    with pytest.raises(StoreError, match="made by an older SpecTool and lacks columns runs.created_at"):
        open_store(f"sqlite:///{path}")


def test_default_url_is_a_file_in_the_data_dir_created_on_demand(tmp_path, monkeypatch):
    monkeypatch.delenv("SPECTOOL_DB_URL", raising=False)
    monkeypatch.setenv("SPECTOOL_DATA_DIR", str(tmp_path / "not" / "yet"))
    engine = make_engine()
    init_db(engine)
    assert (tmp_path / "not" / "yet" / "spectool.db").is_file()
    engine.dispose()


def test_read_only_database_fails_preflight(tmp_path):
    path = tmp_path / "store.db"
    open_store(f"sqlite:///{path}").dispose()
    # root ignores file modes, so open the file read-only through SQLite's URI
    engine = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(StoreError, match="database is read-only: .*attempt to write a readonly database"):
        preflight(engine)
    engine.dispose()


def test_locked_database_fails_preflight_and_writes_nothing(tmp_path):
    path = tmp_path / "store.db"
    open_store(f"sqlite:///{path}").dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        engine = make_engine(f"sqlite:///{path}", busy_timeout_s=0.2)
        with pytest.raises(StoreError, match="database is locked: .*another process is writing"):
            preflight(engine)
        with pytest.raises(StoreError, match="database is locked"):
            Recorder(engine).start_run(mode="speculative")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # no half-written run, and the probe table was rolled back
    assert queries.list_runs(engine) == []
    preflight(engine)
    with engine.connect() as conn:
        tables = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    assert "spectool_preflight_probe" not in tables and "runs" in tables
    engine.dispose()


def test_unreachable_database_fails_preflight(tmp_path):
    # an SQLite "file" that is a folder
    engine = make_engine(f"sqlite:///{tmp_path}")
    with pytest.raises(StoreError, match="database is unreachable: .*unable to open database file"):
        preflight(engine)


def test_bad_url_and_missing_driver_name_the_fix():
    with pytest.raises(StoreError, match="not a database URL: 'nowhere'"):
        make_engine("nowhere")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        with pytest.raises(StoreError, match=r"no driver for postgresql URLs .*pip install 'psycopg\[binary\]==3.3.9'"):
            make_engine("postgresql://user@localhost/spectool")


@needs_pg
def test_read_only_postgresql_fails_preflight():
    read_only = make_url(PG_URL).update_query_dict({"options": "-c default_transaction_read_only=on"})
    engine = make_engine(read_only.render_as_string(hide_password=False))
    with pytest.raises(StoreError, match="database is read-only"):
        preflight(engine)
    engine.dispose()


@needs_pg
def test_unreachable_postgresql_fails_preflight():
    closed = make_url(PG_URL).difference_update_query(["host", "port"]).set(host="127.0.0.1", port=1)
    engine = make_engine(closed.render_as_string(hide_password=False))
    with pytest.raises(StoreError, match="database is unreachable"):
        preflight(engine)
    engine.dispose()


def test_open_store_leaves_existing_rows_alone(url):
    engine = open_store(url)
    run_id = record(engine, synthetic_episode("keep", 2))
    engine.dispose()
    engine = open_store(url)
    with Session(engine) as session:
        assert session.exec(select(Episode.task_id)).all() == ["keep"]
        assert len(session.exec(select(ToolExecution)).all()) == 1
    assert queries.run_summary(engine, run_id)["steps"] == 2
    engine.dispose()


def test_record_passes_events_on_and_counts_unfinished_steps(engine):
    recorder = Recorder(engine)
    run_id = recorder.start_run(mode="speculative")
    events = synthetic_episode("a", 2)
    # record() yields every event unchanged, in order
    assert list(recorder.record(events)) == events
    # a step whose StepDone never came is not written; its events are counted as dropped
    unfinished = [EpisodeStarted("b", "synthetic", "test", "speculative", 1), TurnStarted(0, "hi"),
                  Proposed(0, 0, "drafter", "x", LS, None, 0.01, 1, 1),
                  VerdictGiven(0, 0, "always", 1.0, 0.5, True, 0.0), EpisodeDone("b", False, "stopped", 0.1, 0)]
    for event in unfinished:
        recorder.consume(event)
    recorder.finish_run()
    assert recorder.dropped_events == 2
    assert [(e["task_id"], e["steps"]) for e in queries.run_episodes(engine, run_id)] == [("a", 2), ("b", 0)]
    assert queries.run_summary(engine, run_id)["steps"] == 2
