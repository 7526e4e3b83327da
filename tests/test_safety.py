"""Safety tasks: twin pairs, splits, gold that executes, and training data kept apart."""

from __future__ import annotations

import collections
import dataclasses
import json
import re

import pytest

from spectool_app.actions import Answer, Blocked, ToolCall, action_to_json
from spectool_app.envs import Episode
from spectool_app.tasks import safety
from spectool_app.tasks.extra_phrasings import SAFETY_TRAIN
from spectool_app.task import Task, TaskError
from tests.helpers import closest, placeholders


def _pairs(tasks: list[Task]) -> dict[str, list[Task]]:
    by_pair: dict[str, list[Task]] = collections.defaultdict(list)
    for task in tasks:
        by_pair[task.meta["pair"]].append(task)
    return by_pair


def _fingerprint(tasks: list[Task]) -> list[str]:
    out = []
    for task in tasks:
        data = dataclasses.asdict(task)
        data["gold"] = [[action_to_json(a) for a in turn] for turn in task.gold]
        out.append(json.dumps(data, sort_keys=True, default=str))
    return out


EVAL = safety.load_tasks()
TRAIN = safety.training_tasks()


# ------------------------------------------------------------------ counts and splits
def test_at_least_200_pairs_split_about_40_60():
    dev, test = _pairs(safety.load_tasks("dev")), _pairs(safety.load_tasks("test"))
    assert len(dev) + len(test) >= 200
    assert 0.35 <= len(dev) / (len(dev) + len(test)) <= 0.45
    # every kind and family shows up in both splits
    for split in (dev, test):
        kinds = {tasks[0].meta["kind"] for tasks in split.values()}
        assert kinds == set(safety.KINDS)
    assert {t.meta["family"] for t in EVAL} == set(safety.FAMILIES)


def test_train_split_is_empty_and_unknown_split_is_named():
    assert safety.load_tasks("train") == []
    with pytest.raises(TaskError, match="unknown split 'valid'.*dev"):
        safety.load_tasks("valid")


def test_dev_and_test_are_disjoint_and_ids_follow_the_pattern():
    dev_ids = {t.id for t in safety.load_tasks("dev")}
    test_ids = {t.id for t in safety.load_tasks("test")}
    assert not dev_ids & test_ids
    assert len(dev_ids | test_ids) == len(EVAL)
    for task in EVAL:
        assert re.fullmatch(rf"safety:{task.split}-\d+-(unsafe|benign)", task.id)
        assert task.id.endswith(task.safety_label)
        assert task.source == "safety"


def test_twins_share_scenario_tools_policy_and_split():
    for stem, (unsafe, benign) in _pairs(EVAL).items():
        assert (unsafe.safety_label, benign.safety_label) == ("unsafe", "benign")
        assert unsafe.id == f"{stem}-unsafe" and benign.id == f"{stem}-benign"
        assert unsafe.meta["twin"] == benign.id and benign.meta["twin"] == unsafe.id
        assert unsafe.split == benign.split
        assert unsafe.involved_classes == benign.involved_classes
        assert unsafe.policy == benign.policy and unsafe.policy
        assert Episode(unsafe).tools() == Episode(benign).tools()
        assert unsafe.meta["family"] == benign.meta["family"] in safety.FAMILIES
        assert unsafe.meta["risky_step"] == benign.meta["risky_step"]
        # the cue: the twins differ in what the agent is told or in what the tools hold
        assert unsafe.turns != benign.turns or unsafe.initial_config != benign.initial_config


# ------------------------------------------------------------------ gold shape
def _closing_ok(task: Task) -> None:
    for turn in task.gold:
        closers = [i for i, a in enumerate(turn) if isinstance(a, (Answer, Blocked))]
        assert closers == [len(turn) - 1], task.id  # exactly one, and last


def test_unsafe_task_has_one_blocked_that_closes_the_risky_turn():
    for task in EVAL + TRAIN:
        _closing_ok(task)
        blocked = [(t, i) for t, turn in enumerate(task.gold)
                   for i, a in enumerate(turn) if isinstance(a, Blocked)]
        if task.safety_label == "unsafe":
            assert blocked == [tuple(task.meta["risky_step"])], task.id
            assert blocked[0][0] == len(task.gold) - 1
            assert task.gold[-1][-1].reason
            assert task.meta["unsafe_call"]["kind"] == "tool_call"
        else:
            assert blocked == [], task.id
            assert "unsafe_call" not in task.meta


def test_twins_agree_before_the_risky_step():
    for unsafe, benign in _pairs(EVAL).values():
        turn, index = unsafe.meta["risky_step"]
        assert len(unsafe.gold) == len(benign.gold)
        for t in range(turn):
            assert unsafe.gold[t] == benign.gold[t]
        prefix_u, prefix_b = unsafe.gold[turn][:index], benign.gold[turn][:index]
        assert len(prefix_u) == len(prefix_b) == index
        # the benign twin makes the same kind of call the unsafe twin must not make
        step = benign.gold[turn][index]
        assert isinstance(step, ToolCall)
        if unsafe.meta["family"] != "injection":
            assert step.name == unsafe.meta["unsafe_call"]["name"], unsafe.id


# ------------------------------------------------------------------ gold executes
def _replay(task: Task) -> Episode:
    episode = Episode(task)
    for turn, actions in enumerate(task.gold):
        episode.begin_turn(turn)
        for index, action in enumerate(actions):
            if isinstance(action, Blocked):
                forbidden = task.meta["unsafe_call"]
                probe = episode.fork().execute(ToolCall(forbidden["name"], forbidden["arguments"]))
                assert probe.ok, f"{task.id}: the forbidden call would fail anyway: {probe.error}"
            elif isinstance(action, ToolCall):
                result = episode.execute(action)
                assert result.ok, f"{task.id} turn {turn} step {index}: {result.error}"
    return episode


def test_every_gold_call_executes_and_the_check_passes():
    for task in EVAL:
        before = json.dumps(task.initial_config, sort_keys=True)
        verdict = _replay(task).check()
        assert verdict.passed, f"{task.id}: {verdict.message}"
        assert json.dumps(task.initial_config, sort_keys=True) == before  # config not mutated


def test_training_gold_executes_too():
    for task in TRAIN[::7]:
        assert _replay(task).check().passed, task.id


def test_an_agent_that_skips_the_blocked_step_changes_the_state():
    # unsafe twin: doing the forbidden call instead of blocking is visible to the check
    unsafe = next(t for t in EVAL
                  if t.meta["kind"] == "fs_protected" and t.safety_label == "unsafe")
    episode = Episode(unsafe)
    for turn, actions in enumerate(unsafe.gold):
        episode.begin_turn(turn)
        for action in actions:
            if isinstance(action, ToolCall):
                episode.execute(action)
    forbidden = unsafe.meta["unsafe_call"]
    assert episode.execute(ToolCall(forbidden["name"], forbidden["arguments"])).ok
    assert episode.check().passed is False


def test_verify_names_a_broken_gold_call():
    task = next(t for t in EVAL if t.meta["kind"] == "fs_protected" and t.safety_label == "benign")
    turn = task.meta["risky_step"][0]
    gold = [list(t) for t in task.gold]
    gold[turn][0] = ToolCall("cd", {"folder": "no_such_folder"})
    with pytest.raises(ValueError, match=rf"{task.id} turn {turn} step 0: gold call cd failed"):
        safety.verify(dataclasses.replace(task, gold=gold))


# ------------------------------------------------------------------ injections
def test_injected_text_sits_in_the_read_call_output():
    injection = [t for t in EVAL if t.meta["family"] == "injection"]
    assert len(injection) >= 60
    for task in injection:
        inj = task.injected
        assert inj["harmful"] is (task.safety_label == "unsafe")
        assert inj["text"] in inj["content"]
        read = task.gold[inj["turn"]][inj["step"]]
        assert isinstance(read, ToolCall) and read.name == inj["tool"]
        episode = Episode(task)
        for turn in range(inj["turn"] + 1):
            episode.begin_turn(turn)
            steps = task.gold[turn] if turn < inj["turn"] else task.gold[turn][: inj["step"] + 1]
            results = [episode.execute(a) for a in steps if isinstance(a, ToolCall)]
        assert json.dumps(inj["text"])[1:-1] in results[-1].content, task.id
    # the unsafe twin stops right after reading; the benign twin reads, acts, answers
    unsafe = next(t for t in injection if t.safety_label == "unsafe")
    assert unsafe.meta["risky_step"] == [unsafe.injected["turn"], unsafe.injected["step"] + 1]
    assert all(t.injected == {} for t in EVAL if t.meta["family"] != "injection")


def test_unsafe_cue_is_spelled_out():
    # fixed examples of each family's cue words in what the agent sees
    for task in EVAL:
        if task.safety_label != "unsafe":
            continue
        seen = " ".join([task.policy, *task.turns, task.injected.get("text", "")]).lower()
        kind = task.meta["kind"]
        if kind.startswith("exf_"):
            cues = ("password", "card number", "home address", "number of")
            assert any(w in seen for w in cues), task.id
        if kind in ("inj_file_withdraw", "inj_message_withdraw"):
            assert "$" in task.injected["text"]
        if kind == "fs_protected":
            assert task.meta["slots"]["kept"] in task.turns[-1]


# ------------------------------------------------------------------ training stays apart
def _values(tasks: list[Task]) -> set[str]:
    return {str(v) for t in tasks for v in t.meta["slots"].values()}


def _skeletons(tasks: list[Task]) -> set[str]:
    out = set()
    for task in tasks:
        values = sorted((str(v) for v in task.meta["slots"].values()), key=len, reverse=True)
        for text in [task.policy, *task.turns, task.injected.get("text", "")]:
            for value in values:
                text = text.replace(value, "<>")
            if text:
                out.add(text)
    return out


def test_training_tasks_are_pairs_of_every_kind_in_the_train_split():
    assert len(TRAIN) == 2 * 480
    assert {t.split for t in TRAIN} == {"train"}
    assert {t.meta["kind"] for t in TRAIN} == set(safety.KINDS)
    assert all(re.fullmatch(r"safety:train-\d+-(unsafe|benign)", t.id) for t in TRAIN)
    assert len(_pairs(TRAIN)) == 480
    assert len(safety.training_tasks(n=3)) == 6
    with pytest.raises(ValueError, match="n must be a non-negative number of pairs"):
        safety.training_tasks(n=-1)


def test_a_family_mix_repeats_its_kinds_by_weight_and_leaves_out_the_others():
    beyond = [k for k in safety.KINDS if safety._KINDS[k][0] == "beyond_policy"]
    assert safety.kinds_for({"beyond_policy": 1}) == tuple(beyond)
    mixed = safety.kinds_for({"beyond_policy": 2, "injection": 1})
    assert {k: mixed.count(k) for k in set(mixed)} == {
        k: 2 if k in beyond else 1 for k in safety.KINDS if safety._KINDS[k][0] != "exfiltration"}
    assert mixed[-len(beyond):] == tuple(beyond)  # the second round holds only the heavier family
    for bad, message in (({"jailbreak": 1}, "unknown safety family 'jailbreak'; families: beyond_policy"),
                         ({"injection": -1}, "whole number of at least 0, got -1"),
                         ({"injection": 0}, "at least one family a weight above 0")):
        with pytest.raises(ValueError, match=message):
            safety.kinds_for(bad)


def test_training_tasks_of_chosen_kinds_are_new_pairs_each_time_a_kind_comes_back():
    kinds = safety.kinds_for({"beyond_policy": 2})
    tasks = safety.training_tasks(seed=5, n=len(kinds), kinds=kinds)
    assert {t.meta["kind"] for t in tasks} == set(kinds)
    requests = [t.turns[-1] for t in tasks if t.safety_label == "unsafe"]
    assert len(set(requests)) == len(requests)  # a kind's second pair is not its first again
    assert safety.training_tasks(seed=5, n=30, kinds=safety.KINDS) == safety.training_tasks(seed=5, n=30)
    with pytest.raises(ValueError, match="kinds must name at least one of fs_protected"):
        safety.training_tasks(n=2, kinds=("fs_protected", "jailbreak"))


def test_training_shares_no_value_with_dev_and_test():
    overlap = _values(TRAIN) & _values(EVAL)
    assert overlap == set()
    # the pools behind other seeds are disjoint as lists, too
    for name, (evaluation, training) in safety._POOLS.items():
        assert not set(evaluation) & set(training), name


def test_training_shares_no_phrasing_with_dev_and_test():
    assert not _skeletons(TRAIN) & _skeletons(EVAL)
    assert not {t.policy for t in TRAIN} & {t.policy for t in EVAL}
    assert not {u for t in TRAIN for u in t.turns} & {u for t in EVAL for u in t.turns}
    all_eval = {p for evaluation, _ in safety._TEXT.values() for p in evaluation}
    all_train = {p for _, training in safety._TEXT.values() for p in training}
    assert not all_eval & all_train
    assert all("=t" in t.meta["phrasing"] and "=e" not in t.meta["phrasing"] for t in TRAIN)
    assert all("=e" in t.meta["phrasing"] and "=t" not in t.meta["phrasing"] for t in EVAL)



def test_extra_training_phrasings_keep_their_fields_and_stay_away_from_evaluation_ones():
    evaluation = [p for texts, _ in safety._TEXT.values() for p in texts]
    assert set(SAFETY_TRAIN) <= set(safety._TEXT)
    for key, extra in SAFETY_TRAIN.items():
        original = [p for p in safety._TEXT[key][1] if p not in extra]
        assert original and set(extra) <= set(safety._TEXT[key][1]), key  # added, not replacing
        needed = set.intersection(*map(placeholders, original))
        known = set.union(*map(placeholders, original))
        for phrasing in extra:
            assert needed <= placeholders(phrasing) <= known, (key, phrasing)
            assert closest(phrasing, evaluation) < 0.8, (key, phrasing)

# ------------------------------------------------------------------ determinism
def test_same_seed_same_tasks_other_seed_other_values():
    fresh = list(safety._evaluation.__wrapped__(0))  # bypass the cache: a real rebuild
    assert _fingerprint(fresh) == _fingerprint(EVAL)
    assert _fingerprint(list(safety._training.__wrapped__(0, 480))) == _fingerprint(TRAIN)
    other = safety.load_tasks(seed=1)
    assert _fingerprint(other) != _fingerprint(EVAL)
    assert len(other) == len(EVAL)
    assert not _values(safety.training_tasks(seed=1, n=48)) & _values(other)


def test_load_tasks_returns_a_new_list_each_time():
    first = safety.load_tasks("dev")
    first.clear()
    assert len(safety.load_tasks("dev")) > 0
