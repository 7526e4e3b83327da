"""Synthetic task generator: determinism, split hygiene, sizes, intents, verified gold."""

from __future__ import annotations

import collections
import copy
import json
import random

import pytest

from spectool_app.actions import Answer, ToolCall
from spectool_app.envs import Episode
from spectool_app.tasks import TaskError
from spectool_app.tasks import load_tasks as load_source
from spectool_app.tasks import synthetic
from spectool_app.task import Task
from spectool_app.tasks.extra_phrasings import SYNTHETIC_TRAIN
from spectool_app.tasks.slot_values import Plan, Pool, split_of
from spectool_app.tasks.synthetic_intents import BACKENDS, DEFAULTS, INTENTS, Intent, call
from tests.helpers import closest, placeholders

SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="module")
def tasks() -> dict[str, list[Task]]:
    return {split: synthetic.load_tasks(split) for split in SPLITS}


def _gold_key(task: Task) -> tuple:
    return (task.id, tuple(task.turns), tuple(tuple(turn) for turn in task.gold),
            json.dumps(task.initial_config, sort_keys=True))


def _run(task: Task, drop_first: bool = False):
    """Execute the gold turn by turn (optionally without the task's first call); check."""
    episode = Episode(task)
    results = []
    for turn, actions in enumerate(task.gold):
        episode.begin_turn(turn)
        calls = [a for a in actions if isinstance(a, ToolCall)]
        if drop_first and turn == 0:
            calls = calls[1:]
        results.extend(episode.execute(c) for c in calls)
    return results, episode.check()


# ------------------------------------------------------------------ determinism
def test_same_seed_same_tasks_and_other_seed_differs():
    # fresh generation (bypassing the cache) equals the cached one; seed 1 differs
    cached = synthetic.generate("dev", 0, 300)
    fresh = synthetic._generate.__wrapped__("dev", 0, 300)
    assert [_gold_key(t) for t in cached] == [_gold_key(t) for t in fresh]
    other = synthetic.generate("dev", 1, 300)
    assert [t.turns for t in other] != [t.turns for t in cached]
    assert [t.gold for t in other] != [t.gold for t in cached]


def test_generate_is_cached_and_returns_a_new_list():
    # the cache is per (split, seed, size); callers get their own list of shared tasks
    first, second = synthetic.generate("test", 0), synthetic.generate("test", 0)
    assert first is not second and first[0] is second[0]


# ------------------------------------------------------------------ sizes and shape
def test_sizes(tasks):
    steps = {split: sum(t.steps for t in tasks[split]) for split in SPLITS}
    assert steps["train"] >= 20_000 and steps["dev"] >= 1_000 and steps["test"] >= 1_000
    # the generator stops as soon as the minimum is reached
    assert steps["dev"] - tasks["dev"][-1].steps < 1_000


def test_load_tasks_all_splits_and_through_the_package(tasks):
    # split None = train, dev, test in that order; the package dispatches to this module
    every = synthetic.load_tasks()
    assert len(every) == sum(len(tasks[s]) for s in SPLITS)
    assert [t.split for t in every][:1] == ["train"] and every[-1].split == "test"
    assert load_source("synthetic", "dev")[0].id == "synthetic:dev-0"


def test_task_shape(tasks):
    for split in SPLITS:
        for n, task in enumerate(tasks[split]):
            assert task.id == f"synthetic:{split}-{n}"
            assert task.source == "synthetic" and task.split == split
            assert 1 <= len(task.turns) <= 3 and len(task.gold) == len(task.turns)
            assert task.category == task.meta["intent"] == task.meta["intents"][0]
            assert task.meta["backend"] == task.meta["backends"][0] == task.involved_classes[0]
            assert len(task.meta["phrasings"]) == len(task.turns)
            for actions in task.gold:
                # 1-3 tool calls, then exactly one closing Answer with text
                assert 1 <= len(actions) - 1 <= 3
                assert all(isinstance(a, ToolCall) for a in actions[:-1])
                assert isinstance(actions[-1], Answer) and actions[-1].text
            json.dumps(task.initial_config)  # storable as JSON


def test_turns_mix_backends_and_lengths(tasks):
    train = tasks["train"]
    assert {len(t.turns) for t in train} == {1, 2, 3}
    assert any(len(t.involved_classes) == 2 for t in train)
    assert {t.meta["backend"] for t in train} == set(BACKENDS)
    # every intent is used in train
    assert {i for t in train for i in t.meta["intents"]} == {i.name for i in INTENTS}


# ------------------------------------------------------------------ intents and phrasings
def test_intent_counts_and_phrasings():
    assert len(INTENTS) >= 40
    per_backend = collections.Counter(i.backend for i in INTENTS)
    assert set(per_backend) == set(BACKENDS) and min(per_backend.values()) >= 4
    assert len({i.name for i in INTENTS}) == len(INTENTS)
    for item in INTENTS:
        assert len(item.train) >= 4 and len(item.test) >= 2 and len(item.dev) >= 1, item.name
        assert len(set(item.train + item.dev + item.test)) == len(item.train + item.dev + item.test)


def test_phrasing_templates_disjoint_across_splits(tasks):
    templates = {s: {p for i in INTENTS for p in i.phrasings(s)} for s in SPLITS}
    assert not templates["train"] & templates["test"]
    assert not templates["train"] & templates["dev"]
    assert not templates["dev"] & templates["test"]
    # a task's turn is its recorded phrasing, filled with its recorded slots
    by_name = {i.name: i for i in INTENTS}
    for task in tasks["test"][:50]:
        for turn, name, index, slots in zip(task.turns, task.meta["intents"],
                                            task.meta["phrasings"], task.meta["slots"]):
            assert turn.endswith(synthetic.tidy(by_name[name].test[index].format(**slots)))



def test_extra_train_phrasings_keep_their_intent_and_stay_away_from_held_out_ones():
    by_name = {i.name: i for i in INTENTS}
    held_out = [p for i in INTENTS for p in i.dev + i.test]
    assert set(SYNTHETIC_TRAIN) <= set(by_name)
    for name, extra in SYNTHETIC_TRAIN.items():
        intent = by_name[name]
        original = [p for p in intent.train if p not in extra]
        assert len(original) >= 4 and set(extra) <= set(intent.train), name  # added, not replacing
        needed = set.intersection(*map(placeholders, original))
        known = set.union(*map(placeholders, original))
        for phrasing in extra:
            assert needed <= placeholders(phrasing) <= known, (name, phrasing)
            assert closest(phrasing, held_out) < 0.8, (name, phrasing)

def test_tidy_drops_only_a_doubled_full_stop():
    # a value ending in punctuation inside a sentence that ends with a full stop
    assert synthetic.tidy("Record it as 'Replaced it.'.") == "Record it as 'Replaced it.'"
    assert synthetic.tidy("Tell Bo: see you Friday?.") == "Tell Bo: see you Friday?"
    assert synthetic.tidy("Move a.txt to b. Then 3.5.") == "Move a.txt to b. Then 3.5."


def test_phrasings_vary_in_structure():
    # questions, requests and terse commands all occur among train phrasings
    train = [p for i in INTENTS for p in i.train]
    assert sum(p.rstrip().endswith("?") for p in train) >= 40
    assert sum(p.startswith(("Could you", "Can you", "Please")) for p in train) >= 40
    assert sum(p[:1].islower() or p.startswith("{") for p in train) >= 40


# ------------------------------------------------------------------ slot values
def test_slot_values_disjoint_across_splits(tasks):
    values = {s: {v for t in tasks[s] for v in t.meta["values"]} for s in SPLITS}
    assert len(values["train"]) > 20_000  # value diversity, not a small fixed set
    assert not values["train"] & values["test"]
    assert not values["train"] & values["dev"]
    assert not values["dev"] & values["test"]


def test_values_and_words_belong_to_their_split():
    # every made-up word, and every value built on one, is owned by the pool's split
    for split in SPLITS:
        pool = Pool(random.Random(7), split)
        assert {split_of(pool.word()) for _ in range(50)} == {split}
        first, last = pool.full_name().lower().split()
        assert split_of(first) == split_of(last) == split
        assert split_of(pool.tag()[1:]) == split
        assert split_of(pool.date()) == split and split_of(str(pool.number(1, 10**6))) == split


def test_split_of_literal_values():
    # stable across processes (a fixed hash, not Python's salted hash())
    assert split_of("kavo") == "train"
    assert split_of("Velora") == "dev"
    assert split_of("tovi") == "test"


def test_pool_rejects_unknown_split():
    with pytest.raises(ValueError, match="allowed: train, dev, test"):
        Pool(random.Random(0), "validation")


def test_slot_values_exist_in_the_initial_config(tasks):
    # the file a request names is in the file system, the ticket in the queue, ...
    checked = 0
    for task in tasks["train"][:400]:
        config = json.dumps(task.initial_config)
        for name, slots in zip(task.meta["intents"], task.meta["slots"]):
            key = {"fs_move_to_folder": "file", "fs_rename": "file", "fs_grep": "pattern",
                   "tk_close": "ticket_id", "tw_comment": "tweet_id", "tr_cancel_order": "order_id",
                   "tv_cancel_booking": "booking_id", "msg_send": "name"}.get(name)
            if key:
                assert str(slots[key]) in config, (task.id, key)
                checked += 1
    assert checked > 50


# ------------------------------------------------------------------ verified gold
def _sample(tasks, k=200):
    every = [t for s in SPLITS for t in tasks[s]]
    return random.Random(3).sample(every, k)


def test_gold_runs_and_passes_the_check(tasks):
    for task in _sample(tasks):
        config = copy.deepcopy(task.initial_config)
        results, verdict = _run(task)
        assert all(r.ok for r in results), task.id
        assert verdict.passed, (task.id, verdict)
        assert task.initial_config == config  # running never changes the task


def test_gold_fails_without_its_first_call(tasks):
    for task in _sample(tasks):
        _, verdict = _run(task, drop_first=True)
        assert not verdict.passed, task.id
        assert verdict.turn == 0


def test_chained_arguments_come_from_results(tasks):
    # the buy order uses the price get_stock_info returned, not a value from the request
    task = next(t for t in tasks["train"] if t.meta["intent"] == "tr_buy_at_market")
    info, order = task.gold[0][0], task.gold[0][1]
    price = task.initial_config["TradingBot"]["stocks"][info.arguments["symbol"]]["price"]
    assert order.name == "place_order" and order.arguments["price"] == price
    assert str(price) not in task.turns[0]


# ------------------------------------------------------------------ errors
def test_unknown_split_and_bad_size():
    with pytest.raises(TaskError, match="valid splits: train, dev, test"):
        synthetic.load_tasks("validation")
    with pytest.raises(ValueError, match="non-negative integer"):
        synthetic.generate("dev", 0, -1)


def test_failing_gold_call_raises_instead_of_dropping():
    # a script whose call fails on the back-end is a generator bug
    plan = Plan(Pool(random.Random(0), "train"), DEFAULTS)
    plan.state("GorillaFileSystem")
    task = Task(id="synthetic:train-x", source="synthetic", split="train", turns=["read it"],
                involved_classes=["GorillaFileSystem"], initial_config=plan.config, gold=[[]])
    broken = Intent("broken", "GorillaFileSystem", lambda p: {},
                    lambda s: iter([call("cat", file_name="missing.txt")]), "Done.",
                    ("a", "b", "c", "d"), ("e",), ("f", "g"))
    with pytest.raises(synthetic.GenerationError, match="broken gold call .*cat.* failed"):
        synthetic._run_turn(Episode(task), broken, {}, "synthetic:train-x turn 0")


def test_plan_facts_fix_the_config_once():
    # the first reader fixes the initial value; later changes do not touch the config
    plan = Plan(Pool(random.Random(0), "train"), DEFAULTS)
    assert plan.get("TwitterAPI", "authenticated", False) is False
    plan.put("TwitterAPI", "authenticated", True)
    assert plan.get("TwitterAPI", "authenticated", False) is True
    assert plan.config["TwitterAPI"]["authenticated"] is False
    assert plan.classes == ["TwitterAPI"]
