"""Faults in the middle of a CLI run: kill -9 leaves an interrupted run with every committed step intact,
and Ctrl-C ends the run as interrupted with exit code 130."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from db import queries
from db.engine import open_store
from db.tables import Draft, Fallback, PolicyCheck, Step, ToolExecution, Verdict
from tests.helpers import ROOT
from tests.tiny_models import tiny_model_env

STEPS_BEFORE_SIGNAL = 12  # committed steps to wait for before the signal


@pytest.fixture(scope="session")
def tiny_env(tmp_path_factory):
    return tiny_model_env(tmp_path_factory.getbasetemp() / "tiny-models")


def start_run(path: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """A shadow run with the always-verifier: every step executes `ls` and records the target beside it."""
    command = [sys.executable, "-m", "spectool_app", "run", "--tasks", "synthetic:test", "--mode", "shadow",
               "--verifier", "always", "--db", f"sqlite:///{path}", "--no-progress"]
    with log.open("w") as handle:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
                                preexec_fn=_default_sigint)


def _default_sigint() -> None:
    """Ctrl-C as in a terminal: a shell starting pytest as a background job (``cmd &`` without job control)
    ignores SIGINT, children inherit that, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def committed_steps(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM steps").fetchone()[0]
    except sqlite3.OperationalError:  # no file or no tables yet
        return 0


def wait_for_steps(path: Path, child: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while committed_steps(path) < STEPS_BEFORE_SIGNAL:
        assert child.poll() is None, f"the run ended early: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"no {STEPS_BEFORE_SIGNAL} steps within {timeout} s"
        time.sleep(0.2)


def test_kill_9_leaves_an_interrupted_run_with_intact_steps(tiny_env, tmp_path):
    path, log = tmp_path / "runs.db", tmp_path / "run.log"
    child = start_run(path, tiny_env, log)
    try:
        wait_for_steps(path, child, log)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)  # reaped: its pid no longer exists
    assert child.returncode == -signal.SIGKILL
    with sqlite3.connect(path) as conn:  # nobody marked it: the killed process could not
        assert conn.execute("SELECT status FROM runs").fetchall() == [("running",)]
    engine = open_store(f"sqlite:///{path}")  # start-up: the dead process's run becomes interrupted
    try:
        (run,) = queries.list_runs(engine)
        assert run["status"] == "interrupted"
        with Session(engine) as session:
            steps = session.exec(select(Step).order_by(Step.id)).all()
            assert len(steps) >= STEPS_BEFORE_SIGNAL
            for step in steps:
                counts = [session.exec(select(func.count()).select_from(table).where(table.step_id == step.id)).one()
                          for table in (Draft, Verdict, Fallback, PolicyCheck, ToolExecution)]
                # draft, verdict, the target's shadow action, policy check, and the executed `ls`
                assert counts == [1, 1, 1, 1, 1 if step.action_kind == "tool_call" else 0], (step.id, counts)
            assert session.exec(select(func.count()).select_from(ToolExecution)).one() >= STEPS_BEFORE_SIGNAL - 1
            purposes = set(session.exec(select(Fallback.purpose)).all())
            assert purposes == {"shadow"}
    finally:
        engine.dispose()


def test_ctrl_c_ends_the_run_as_interrupted_with_exit_130(tiny_env, tmp_path):
    path, log = tmp_path / "runs.db", tmp_path / "run.log"
    child = start_run(path, tiny_env, log)
    try:
        wait_for_steps(path, child, log)
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 130, log.read_text()[-2000:]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    output = log.read_text()
    assert "run 1 interrupted: " in output
    engine = open_store(f"sqlite:///{path}")
    try:
        (run,) = queries.list_runs(engine)
        assert (run["status"], run["finished_at"] is not None) == ("interrupted", True)
        assert run["steps"] >= STEPS_BEFORE_SIGNAL
    finally:
        engine.dispose()
