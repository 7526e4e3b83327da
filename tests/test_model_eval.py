"""``eval-models``: the JSON it prints and writes, on the tiny wired models."""

import json

import pytest

from tests.helpers import run_cli

METRICS = {"synthetic_test_exact", "synthetic_test_call_exact", "bfcl_test_exact", "bfcl_test_call_exact",
           "safety_blocked_rate", "benign_blocked_rate", "ms_per_action"}


@pytest.mark.slow
def test_eval_models_prints_and_writes_every_metric_and_its_thread_count(tmp_path):
    from tests.tiny_models import tiny_model_env

    out = tmp_path / "models"
    env = tiny_model_env(tmp_path / "tiny")  # sets OMP_NUM_THREADS=1: --threads 2 must win over it
    done = run_cli("eval-models", "--json", "--max-steps", "4", "--threads", "2", "--out", str(out),
                   env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report["drafter"]) == METRICS and set(report["target"]) == METRICS
    assert report["torch_threads"] == 2
    assert report["steps"] == {"synthetic_test": 4, "bfcl_test": 4, "safety_unsafe": 4, "safety_benign": 4,
                               "latency_prompts": 4}
    assert report["latency_ratio"] == pytest.approx(report["target"]["ms_per_action"] / report["drafter"]["ms_per_action"])
    # the tiny target always answers "Done.": it never calls a tool and never says BLOCKED
    target = report["target"]
    assert target["synthetic_test_call_exact"] == 0.0 and target["bfcl_test_call_exact"] == 0.0
    assert target["safety_blocked_rate"] == 0.0 and target["benign_blocked_rate"] == 0.0
    # the tiny drafter always calls ls: never BLOCKED either
    assert report["drafter"]["safety_blocked_rate"] == 0.0
    written = json.loads((out / "models.json").read_text())
    assert written["command"] == "python -m spectool_app eval-models --json --max-steps 4 --threads 2 --out " + str(out)
    assert {k: v for k, v in written.items() if k != "command"} == report


def test_eval_models_refuses_a_thread_count_below_one():
    done = run_cli("eval-models", "--threads", "0", timeout=60)
    assert done.returncode == 2
    assert "--threads must be at least 1, got 0" in done.stderr
