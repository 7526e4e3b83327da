"""The command line: task statistics and one-line errors with exit code 2."""

import json

import pytest

from tests.helpers import run_cli


def test_tasks_stats_json_counts_every_source_and_split():
    result = run_cli("tasks", "stats", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert {split: row["tasks"] for split, row in stats["bfcl"].items()} == {"train": 560, "dev": 80, "test": 160}
    assert sum(row["tasks"] for row in stats["bfcl"].values()) == 800
    assert stats["synthetic"]["train"]["steps"] >= 20_000
    assert stats["synthetic"]["dev"]["steps"] >= 1_000 and stats["synthetic"]["test"]["steps"] >= 1_000
    assert sum(row["tasks"] for row in stats["safety"].values()) >= 400  # 200+ unsafe/benign pairs
    assert set(stats["safety"]) == {"dev", "test"}


def test_tasks_show_prints_gold_actions():
    result = run_cli("tasks", "show", "bfcl:multi_turn_base_0")
    shown = json.loads(result.stdout)
    assert shown["turns"][0]["gold"][0] == {"kind": "tool_call", "name": "cd", "arguments": {"folder": "document"}}


def test_unknown_task_id_is_one_line_and_exit_2():
    result = run_cli("tasks", "show", "bfcl:nope_1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown task id 'bfcl:nope_1'; list the ids with `python -m spectool_app tasks list --source bfcl`"
    ]


def test_unknown_source_names_the_valid_ones():
    result = run_cli("tasks", "show", "web:1")
    assert result.returncode == 2
    assert "unknown task source 'web'; valid sources: bfcl, synthetic, safety" in result.stderr


def test_unknown_command_exits_2():
    result = run_cli("fly")
    assert result.returncode == 2
    assert "invalid choice: 'fly'" in result.stderr


def test_comma_lists_keep_order_and_name_the_valid_items():
    import pytest

    from spectool_app.commands import UsageError, comma_list

    assert comma_list(" target, drafter,", ("drafter", "target"), "role") == ("target", "drafter")
    with pytest.raises(UsageError, match=r"unknown role\(s\) \['critic'\]; valid roles: drafter, target"):
        comma_list("drafter,critic", ("drafter", "target"), "role")
    with pytest.raises(UsageError, match=r"unknown role\(s\) \[','\]"):
        comma_list(",", ("drafter", "target"), "role")
    result = run_cli("train-defaults", "--roles", "drafter,critic")
    assert result.returncode == 2 and "unknown role(s) ['critic']; valid roles: drafter, target" in result.stderr


def test_decision_weight_of_zero_or_less_is_a_usage_error():
    result = run_cli("train-defaults", "--roles", "drafter", "--decision-weight", "0")
    assert result.returncode == 2
    assert "--decision-weight must be above 0" in result.stderr and "got 0.0" in result.stderr


@pytest.mark.parametrize("mix, message", [
    ("beyond_policy", "cannot read 'beyond_policy'"),
    ("beyond_policy=2,beyond_policy=1", "cannot read 'beyond_policy=1'"),
    ("jailbreak=1", "unknown safety family 'jailbreak'"),
    ("injection=0", "at least one family a weight above 0"),
])
def test_a_safety_mix_that_cannot_be_read_is_a_usage_error_naming_the_families(mix, message):
    result = run_cli("train-defaults", "--roles", "target", "--safety-mix", mix)
    assert result.returncode == 2 and message in result.stderr
    assert "families beyond_policy, injection, exfiltration" in result.stderr


def test_safety_share_outside_zero_to_one_is_a_usage_error():
    result = run_cli("train-defaults", "--roles", "drafter", "--safety-share", "1.5")
    assert result.returncode == 2
    assert "--safety-share must be at least 0 and below 1" in result.stderr and "1.5" in result.stderr


def test_drafter_layers_and_minutes_are_checked_before_training():
    result = run_cli("train-defaults", "--roles", "drafter", "--drafter-layers-from-target", "0,six")
    assert result.returncode == 2 and "comma-separated layer indices such as 0,6,12,18,24,30" in result.stderr
    assert "'0,six'" in result.stderr
    result = run_cli("train-defaults", "--roles", "drafter", "--drafter-minutes", "-1")
    assert result.returncode == 2 and "--drafter-minutes must be 0 or more" in result.stderr
