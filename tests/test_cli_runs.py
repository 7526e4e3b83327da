"""The run CLI end to end on tiny saved models; bad names and bad databases fail before a run exists."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlmodel import Session, func, select

from db.engine import make_engine, open_store
from db.tables import Run
from spectool_app.cli import main
from tests.helpers import run_cli
from tests.tiny_models import tiny_model_env


@pytest.fixture(scope="session")
def tiny_env(tmp_path_factory):
    return tiny_model_env(tmp_path_factory.getbasetemp() / "tiny-models")


@pytest.fixture(scope="module")
def recorded(tiny_env, tmp_path_factory):
    """One speculative run of the first two synthetic test tasks through the real CLI."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-runs') / 'runs.db'}"
    result = run_cli("run", "--tasks", "synthetic:test", "--mode", "speculative", "--verifier", "exact_match",
                     "--limit", "2", "--json", "--db", url, env=tiny_env)
    assert result.returncode == 0, result.stderr
    return url, json.loads(result.stdout), result.stderr


def test_run_json_summary_on_tiny_models(recorded):
    _, summary, stderr = recorded
    assert {"run_id", "status", "pass_rate", "acceptance_rate", "target_call_savings", "steps", "episodes",
            "false_accept_rate", "speedup_bound", "stage_means_s", "tokens", "wall_s"} <= set(summary)
    # two tasks of two turns; the drafter's `ls` never equals the target's "Done.", which ends each turn
    assert (summary["status"], summary["episodes"], summary["steps"]) == ("done", 2, 4)
    assert (summary["acceptance_rate"], summary["target_call_savings"], summary["target_calls"]) == (0.0, 0.0, 4)
    assert summary["pass_rate"] == 0.0  # nothing the tasks asked for was done
    assert summary["tokens"]["drafter"] == 16  # <tool_call>, the call, </tool_call>, end of turn
    assert "run " in stderr and "2/2" in stderr  # the progress bar went to stderr


def test_runs_list_and_show_read_the_run_back(recorded, capsys):
    url, summary, _ = recorded
    assert main(["runs", "list", "--json", "--db", url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["steps"], r["episodes"]) for r in listed] == [(summary["run_id"], "done", 4, 2)]
    assert main(["runs", "show", str(summary["run_id"]), "--json", "--db", url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["task_id"] for e in shown["episodes"]] == ["synthetic:test-0", "synthetic:test-1"]
    assert shown["run"]["acceptance_rate"] == 0.0
    assert main(["runs", "show", str(summary["run_id"]), "--db", url]) == 0
    text = capsys.readouterr().out
    assert f"run {summary['run_id']} done (synthetic:test, mode speculative, verifier exact_match at 0.50" in text
    assert "synthetic:test-1" in text and "FAIL" in text


@pytest.mark.parametrize("arguments, message", [
    (["--mode", "fast"], "error: unknown mode 'fast'; valid modes: target_only, draft_only, speculative, "
                         "parallel, shadow"),
    (["--verifier", "oracle"], "error: unknown verifier 'oracle'; valid verifiers: always, never, confidence"),
    (["--preset", "huge"], "error: unknown model preset 'huge'; valid presets: embedded, qwen3"),
    (["--tasks", "web:test"], "error: unknown task source 'web'; valid sources: bfcl, synthetic, safety"),
    (["--tasks", "synthetic:final"], "error: unknown split 'final' in 'synthetic:final'; valid splits: "
                                     "train, dev, test"),
    (["--task", "bfcl:multi_turn_base_9999"], "error: unknown task id 'bfcl:multi_turn_base_9999'; list the ids"),
])
def test_unknown_names_are_one_line_and_exit_2(arguments, message, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    assert main(["run", *arguments, "--db", url]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
    assert not (tmp_path / "runs.db").exists()  # refused before the store was opened


def count_runs(url: str) -> int:
    engine = make_engine(url)
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Run)).one()


def test_read_only_database_fails_before_any_run_row(tmp_path, capsys):
    path = tmp_path / "runs.db"
    open_store(f"sqlite:///{path}").dispose()
    assert main(["run", "--limit", "1", "--db", f"sqlite:///file:{path}?mode=ro&uri=true"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: database is read-only: ")
    assert count_runs(f"sqlite:///{path}") == 0


def test_locked_database_fails_before_any_run_row(tmp_path, capsys):
    path = tmp_path / "runs.db"
    open_store(f"sqlite:///{path}").dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        assert main(["run", "--limit", "1", "--db", f"sqlite:///{path}"]) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: database is locked: ")
    assert count_runs(f"sqlite:///{path}") == 0


def test_bench_recorder_times_the_recorder_apart_from_the_loop():
    from spectool_app.commands.runs import measure_recorder_overhead
    from spectool_app.tasks.bfcl import load_task
    from tests.test_loop import GoldModel

    task = load_task("bfcl:multi_turn_base_0")  # the first task of bfcl:train, 14 steps
    models = {"drafter": GoldModel(task, "drafter"), "target": GoldModel(task, "target")}
    result = measure_recorder_overhead(5, "speculative", "exact_match", "bfcl:train", None, models=models)
    assert (result["steps"], result["episodes"], result["database"]) == (14, 1, "temporary SQLite file")
    assert result["recorder_ms_per_step"] > 0 and result["step_ms"] > 0
    assert result["overhead_pct"] == pytest.approx(100 * result["recorder_ms_per_step"] / result["step_ms"])
    assert result["within_limit"] == (result["overhead_pct"] <= 2.0)
    with pytest.raises(ValueError, match="--steps must be at least 1, got 0"):
        measure_recorder_overhead(0, "speculative", "exact_match", "bfcl:train", None, models=models)
