"""kill -9 in the middle of a run: the run shows as interrupted and every committed step is intact."""

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from db import queries
from db.engine import make_engine, mark_stale_runs_interrupted, open_store
from db.tables import Draft, Episode, PolicyCheck, Run, Step, ToolExecution, Verdict
from tests.helpers import ROOT
from tests.test_db import BACKENDS, fresh_url

STEPS_BEFORE_KILL = 25  # committed steps the child reports before it is killed

# The child records 6-step synthetic episodes forever, printing each committed step.
CHILD = """
import sys
from db.engine import open_store
from db.recorder import Recorder, synthetic_episode
from spectool_app.events import StepDone
recorder = Recorder(open_store(sys.argv[1]))
print("run", recorder.start_run(mode="speculative", verifier="always"), flush=True)
episode = 0
while True:
    for event in synthetic_episode(f"task-{episode}", 6, content=f"output of episode {episode}"):
        recorder.consume(event)
        if isinstance(event, StepDone):
            print("step", flush=True)
    episode += 1
"""


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    return fresh_url(request.param, tmp_path)


def run_child_and_kill(url: str) -> int:
    """Start the recording child, SIGKILL it after STEPS_BEFORE_KILL steps; returns its run id."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, url], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        run_id = int(child.stdout.readline().split()[1])
        seen, deadline = 0, time.monotonic() + 120
        while seen < STEPS_BEFORE_KILL and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, f"the child stopped early: {child.stderr.read()}"
            seen += line.strip() == "step"
        assert seen == STEPS_BEFORE_KILL
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)  # reap it, so its pid no longer exists
    assert child.returncode == -signal.SIGKILL
    return run_id


def test_killed_run_is_interrupted_and_committed_steps_are_intact(url):
    open_store(url).dispose()
    run_id = run_child_and_kill(url)
    engine = make_engine(url)
    assert queries.run_summary(engine, run_id)["status"] == "running"
    # start-up: the dead recorder's run becomes interrupted, nothing is deleted
    assert mark_stale_runs_interrupted(engine) == 1
    summary = queries.run_summary(engine, run_id)
    assert summary["status"] == "interrupted" and summary["finished_at"] is not None
    assert summary["steps"] >= STEPS_BEFORE_KILL
    with Session(engine) as session:
        steps = session.exec(select(Step).order_by(Step.id)).all()
        for step in steps:
            # every committed step has its whole set of rows (the last of an episode is an Answer)
            counts = [session.exec(select(func.count()).select_from(table).where(table.step_id == step.id)).one()
                      for table in (Draft, Verdict, PolicyCheck, ToolExecution)]
            assert counts == ([1, 1, 0, 0] if step.index == 5 else [1, 1, 1, 1])
            episode = session.get(Episode, step.episode_id)
            assert session.get(Run, episode.run_id).id == run_id
        contents = session.exec(select(ToolExecution.content, Episode.task_id)
                                .select_from(ToolExecution).join(Step).join(Episode)).all()
        assert all(content == f"output of episode {task[5:]}" for content, task in contents)
        # steps of an episode are numbered 0, 1, 2, ... without gaps
        for episode in session.exec(select(Episode)).all():
            indexes = [s.index for s in steps if s.episode_id == episode.id]
            assert indexes == list(range(len(indexes)))
            if episode.passed is not None:
                assert indexes == list(range(6))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    engine.dispose()
