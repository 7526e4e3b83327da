"""BFCL multi-turn tasks: loading, splits, and the gold through Episode and bfcl's checks."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict

import pytest

from spectool_app.actions import Answer, ToolCall
from spectool_app.envs import Episode
from spectool_app.task import Task, TaskError
from spectool_app.tasks.bfcl import CATEGORIES, load_task, load_tasks, scenario_number, split_of


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return load_tasks()


def run_gold(task: Task, skip: tuple[int, int] | None = None) -> Episode:
    """Execute the gold calls turn by turn; ``skip=(turn, index)`` leaves one call out."""
    episode = Episode(task)
    for turn, calls in enumerate(task.gold_calls):
        episode.begin_turn(turn)
        for index, call in enumerate(calls):
            if (turn, index) != skip:
                episode.execute(call)
    return episode


def test_counts_and_ids(tasks):
    # 4 categories x 200, ids "bfcl:<bfcl id>", unique
    assert len(tasks) == 800
    assert Counter(t.category for t in tasks) == {c: 200 for c in CATEGORIES}
    assert len({t.id for t in tasks}) == 800
    assert tasks[0].id == "bfcl:multi_turn_base_0"
    assert tasks[0].meta["bfcl_id"] == "multi_turn_base_0"
    assert {t.source for t in tasks} == {"bfcl"}


def test_split_rule():
    # n % 10 in 0..6 train, 7 dev, 8..9 test
    assert [split_of(n) for n in (0, 6, 7, 8, 9, 10, 17, 199)] == [
        "train", "train", "dev", "test", "test", "train", "dev", "test",
    ]
    assert scenario_number("multi_turn_long_context_123") == 123
    with pytest.raises(TaskError, match="does not end in '_<scenario number>'"):
        scenario_number("multi_turn_base")


def test_splits_are_disjoint_with_the_agreed_sizes(tasks):
    # 140 / 20 / 40 scenarios per category; a scenario sits in one split in every category
    for category in CATEGORIES:
        sizes = Counter(t.split for t in tasks if t.category == category)
        assert sizes == {"train": 140, "dev": 20, "test": 40}
    splits_of = defaultdict(set)
    for task in tasks:
        splits_of[task.meta["scenario"]].add(task.split)
    assert all(len(s) == 1 for s in splits_of.values())
    by_split = {s: {t.id for t in load_tasks(s)} for s in ("train", "dev", "test")}
    assert [len(v) for v in by_split.values()] == [560, 80, 160]
    assert not (by_split["train"] & by_split["dev"]) and not (by_split["dev"] & by_split["test"])
    assert not (by_split["train"] & by_split["test"])


def test_unknown_split():
    # the message names the allowed splits
    with pytest.raises(TaskError, match="unknown split 'val'; allowed: train, dev, test"):
        load_tasks("val")


def test_first_base_task_literally():
    # turns, gold with a positional argument bound to its name, excluded tools
    task = load_task("bfcl:multi_turn_base_0")
    assert task.split == "train" and task.category == "multi_turn_base" and not task.long_context
    assert task.turns[0].startswith("Move 'final_report.pdf' within document directory")
    assert task.involved_classes == ["TwitterAPI", "GorillaFileSystem"]
    assert task.excluded_tools == ["cp"]
    assert task.gold[0] == [
        ToolCall("cd", {"folder": "document"}),
        ToolCall("mkdir", {"dir_name": "temp"}),
        ToolCall("mv", {"source": "final_report.pdf", "destination": "temp"}),
        Answer(""),
    ]
    assert task.gold[2] == [ToolCall("sort", {"file_name": "final_report.pdf"}), Answer("")]


def test_every_turn_closes_with_one_answer(tasks):
    # gold = calls then exactly one Answer(""); empty bfcl gold -> [Answer("")]
    for task in tasks:
        assert len(task.gold) == len(task.turns)
        for turn in task.gold:
            assert turn[-1] == Answer("")
            assert all(isinstance(a, ToolCall) for a in turn[:-1])
            assert all(not k.startswith("$") for a in turn[:-1] for k in a.arguments)
    empty = Counter(t.category for t in tasks for turn in t.gold if turn == [Answer("")])
    # one per miss_param / miss_func task, plus 3 empty gold turns bfcl has in scenarios 167, 180
    assert empty == {
        "multi_turn_base": 3, "multi_turn_miss_param": 203,
        "multi_turn_miss_func": 203, "multi_turn_long_context": 3,
    }


def test_miss_func_and_miss_param():
    # the empty question turn is ""; the held-out tool arrives at its turn
    func = load_task("bfcl:multi_turn_miss_func_0")
    assert func.turns[3] == "" and func.held_out_tools == {3: ["sort"]}
    assert func.gold[2] == [Answer("")]
    param = load_task("bfcl:multi_turn_miss_param_0")
    assert param.gold[3] == [Answer("")] and param.held_out_tools == {}
    assert load_task("bfcl:multi_turn_long_context_5").long_context is True


def test_held_out_tool_used_early_by_the_gold_is_offered_from_that_turn():
    # bfcl's miss_func_49 gold calls tail in turn 1 though it is held out until turn 3
    task = load_task("bfcl:multi_turn_miss_func_49")
    assert task.held_out_tools == {1: ["tail"], 3: ["wc", "cat"]}
    assert task.meta["held_out_moved_to_first_gold_use"] == ["tail"]


def test_loaded_tasks_are_fresh_copies():
    # editing a returned task does not change the next load
    first = load_task("bfcl:multi_turn_base_1")
    first.gold[0].clear()
    first.initial_config.clear()
    again = load_task("bfcl:multi_turn_base_1")
    assert again.gold[0] and again.initial_config
    with pytest.raises(TaskError, match="unknown BFCL task id 'bfcl:nope'"):
        load_task("bfcl:nope")


def test_all_gold_passes_bfcl_checks(tasks):
    # the 800 gold runs pass state, response and irrelevance checks; tasks stay unchanged
    failed = []
    for task in tasks:
        before = copy.deepcopy(task)
        result = run_gold(task).check()
        if not result.passed:
            failed.append((task.id, result))
        assert task == before
    assert failed == []


WRONG_RUN_TASKS = [  # one per back-end block of 50 scenarios, and one long-context task
    "bfcl:multi_turn_base_4", "bfcl:multi_turn_base_60", "bfcl:multi_turn_base_110",
    "bfcl:multi_turn_base_160", "bfcl:multi_turn_long_context_160",
]


@pytest.mark.parametrize("task_id", WRONG_RUN_TASKS)
def test_wrong_run_leaks_nothing_into_the_next_run(task_id):
    # every gold call done twice (double posts, bookings, moves...), then a clean run passes
    task = load_task(task_id)
    wrong = Episode(task)
    for turn, calls in enumerate(task.gold_calls):
        wrong.begin_turn(turn)
        for call in calls + calls:
            wrong.execute(call)
    assert not wrong.check().passed
    assert run_gold(task).check().passed


def test_long_context_runs_leave_bfcl_module_data_alone():
    # bfcl's long-context padding lives in module globals; runs must not change it
    from bfcl_eval.eval_checker.multi_turn_eval.func_source_code import long_context

    names = [n for n in vars(long_context) if n.isupper()]
    before = {n: copy.deepcopy(getattr(long_context, n)) for n in names}
    for task in load_tasks():
        if task.long_context and "TravelAPI" in task.involved_classes:
            assert run_gold(task).check().passed
    assert {n: getattr(long_context, n) for n in names} == before


def _must_fail_drops(task: Task) -> list[tuple[int, int]]:
    """Gold calls that bfcl's checks cannot miss when they are left out.

    A call qualifies when, in the full gold run, it changes the public state (the state
    check compares it after the turn) or its result string is unique among all gold
    result strings of the task so far (the response check wants every gold result of the
    turn among the agent's results). Calls that only read a value shown elsewhere too, or
    only move the private working directory (``cd``) to a path printed before, may be left
    out without a failure, so they are not sampled.
    """
    episode = Episode(task)
    picked, seen = [], Counter()
    for turn, calls in enumerate(task.gold_calls):
        episode.begin_turn(turn)
        for index, call in enumerate(calls):
            before = episode.state()
            result = episode.execute(call)
            seen[result.content] += 1
            picked.append((turn, index, result.content, episode.state() != before))
    return [(t, i) for t, i, content, changed in picked if changed or seen[content] == 1]


def test_dropping_a_gold_call_fails(tasks):
    # one task in 10 scenarios of each category; every qualifying call left out in turn
    sample = [t for t in tasks if t.meta["scenario"] % 10 == 3]
    passed_anyway, tried = [], 0
    for task in sample:
        for skip in _must_fail_drops(task):
            tried += 1
            if run_gold(task, skip=skip).check().passed:
                passed_anyway.append((task.id, skip))
    assert tried > 300
    assert passed_anyway == []
