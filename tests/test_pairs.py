"""ACCEPT/REJECT pairs: the compact verifier input, labelling, hard negatives, dedup, JSONL."""

from __future__ import annotations

import json
import random

import pytest

from models.base import Proposal
from spectool_app.actions import Answer, Blocked, ToolCall, action_from_json, action_to_json
from spectool_app.pairs import (
    PairOptions,
    agreement_label,
    build_pairs,
    class_balance,
    compact_context,
    context_policy,
    copy_slips,
    dedupe,
    gold_label,
    hard_negatives,
    listed_values,
    load_pairs,
    merge_texts,
    pair_texts,
    parameter_text,
    perturb_value,
    policy_values,
    refresh_contexts,
    render_draft,
    replay_states,
    twin_reasons,
    unseen_values,
    verifier_input,
    write_pairs,
)
from spectool_app.tasks import load_tasks, safety


class ScriptedDrafter:
    """Proposes the same action for every prompt; records the temperatures and generation caps asked for."""

    name = "scripted"

    def __init__(self, action):
        self.action = action
        self.temperature = 0.0
        self.max_new_tokens = 256
        self.seen_temperatures = []
        self.seen_caps = []

    def propose_batch(self, batch, tools):
        self.seen_temperatures.append(self.temperature)
        self.seen_caps.append(self.max_new_tokens)
        return [Proposal(raw_text="", actions=[self.action]) for _ in batch]


@pytest.fixture(scope="module")
def dev_tasks():
    tasks = load_tasks("synthetic", "dev")
    return {t.id: t for t in tasks if t.id in {"synthetic:dev-0", "synthetic:dev-3", "synthetic:dev-14"}}


@pytest.fixture(scope="module")
def twins():
    return safety.training_tasks(seed=0, n=1)  # fs_protected: cd into a folder, then rm (or Blocked)


def state_at(task, turn, index):
    return next(s for s in replay_states(task) if (s.turn, s.index) == (turn, index))


def test_compact_context_keeps_policy_user_calls_and_clipped_result(dev_tasks, twins):
    state = state_at(dev_tasks["synthetic:dev-3"], 0, 2)
    assert compact_context(state.messages) == (
        "user: Log in as fessok with password Babo!4708 and create a ticket 'Chensugir broken build'. | "
        "done: ticket_login, create_ticket | result: {\"id\": 66312, \"title\": \"Chensugir broken build\", "
        "\"description\": \"\", \"status\": \"Open\", \"priority\": 1, \"created_by\": \"fessok\"}")
    unsafe = state_at(twins[0], 0, 1)
    assert compact_context(unsafe.messages).startswith("policy: " + twins[0].policy[:40])  # the stated policy
    # a long tool result is cut to 240 characters
    long = [{"role": "user", "content": "read it"}, {"role": "tool", "content": "x" * 1000}]
    assert compact_context(long) == "user: read it | done: nothing | result: " + "x" * 240 + "..."


def test_verifier_input_names_positional_arguments(twins):
    state = state_at(twins[0], 0, 0)
    # positional vs keyword spelling renders the same
    context, draft = verifier_input(state.messages, state.tools, ToolCall("cd", {"$0": "mise"}))
    named = " | policy names: mise" if "mise" in context_policy(context) else ""  # the twin's policy guards it
    assert draft == "call cd(folder='mise') | unseen: " + ("none" if "mise" in context else "mise") + named
    assert verifier_input(state.messages, state.tools, Blocked("no"))[1] == "blocked: no"


def test_grounding_note_lists_values_missing_from_the_context():
    context = "user: Could you bump ticket #46081 to priority level 2? | done: nothing"
    right = ToolCall("edit_ticket", {"ticket_id": 46081, "updates": {"priority": 2.0}, "notify": True})
    assert render_draft(right, context) == ("call edit_ticket(ticket_id=46081, updates={'priority': 2.0}, notify=True)"
                                            " | unseen: none")  # 2.0 is written 2; booleans are not values
    wrong = ToolCall("edit_ticket", {"ticket_id": 4608, "updates": {"priority": 3}, "title": "Level"})
    assert unseen_values(wrong, context) == ["4608", "3"]  # a cut number is not a whole-word match
    assert render_draft(wrong, context).endswith("| unseen: 4608, 3")
    assert render_draft(wrong) == "call edit_ticket(ticket_id=4608, updates={'priority': 3}, title='Level')"
    assert render_draft(Answer("It is 7."), context) == "answer: It is 7."  # answers and refusals get no note


def test_grounding_note_names_values_the_policy_names():
    context = ("policy: Booking 8137435 is a company-paid trip and must never be cancelled. | "
               "user: Please cancel my booking 8137435. | done: nothing")
    forbidden = ToolCall("cancel_booking", {"access_token": "tk_1", "booking_id": "8137435"})
    assert policy_values(forbidden, context) == ["8137435"]
    assert render_draft(forbidden, context).endswith("| unseen: tk_1 | policy names: 8137435")
    other = ToolCall("cancel_booking", {"booking_id": "8137436"})  # a whole-word match only
    assert policy_values(other, context) == [] and "policy names" not in render_draft(other, context)
    assert context_policy("user: cancel 8137435 | done: nothing") == ""  # no policy, no note
    assert policy_values(forbidden, "user: cancel 8137435 | done: nothing") == []


def test_grounding_note_names_cut_and_repeated_copies():
    context = 'user: Can you rename nilnor_receipt.json so it is tasks_socha.txt? | result: {"zipcode": "74532"}'
    cut = ToolCall("mv", {"source": "receipt.json", "destination": "tasks_socha"})
    assert unseen_values(cut, context) == []  # both texts are in the context, as parts of longer names
    assert copy_slips(cut, context) == (["receipt.json", "tasks_socha"], [])
    assert render_draft(cut, context).endswith("| unseen: none | cut: receipt.json, tasks_socha")
    whole = ToolCall("mv", {"source": "nilnor_receipt.json", "destination": "tasks_socha.txt"})
    assert copy_slips(whole, context) == ([], []) and render_draft(whole, context).endswith("| unseen: none")
    twice = ToolCall("estimate_distance", {"cityA": "74532", "cityB": "74532"})
    assert render_draft(twice, context).endswith("| unseen: none | repeated: 74532")
    doors = ToolCall("lockDoors", {"door": ["passenger", "passenger"]})
    assert copy_slips(doors, "user: lock the driver's and passenger doors")[1] == ["passenger"]
    assert copy_slips(doors, "user: lock the passenger door, yes the passenger one")[1] == []  # named twice
    share = ToolCall("mean", {"numbers": [2116.0, 1711.0, 1711.0]})
    assert copy_slips(share, "user: compute 1711 as a share of 2116")[1] == ["1711.0"]
    assert copy_slips(ToolCall("add", {"a": 5, "b": 5}), "user: add 5 and 5")[1] == []


SELL_TOOL = {"type": "function", "function": {"name": "place_order", "parameters": {"type": "object", "properties": {
    "symbol": {"type": "string", "description": "Ticker of the stock."},
    "order_type": {"type": "string", "description": "Buy or sell. [Enum]: [\"Buy\", \"Sell\"]"},
    "unit": {"type": "string", "enum": ["ft", "m"]},
    "amount": {"type": "integer", "description": "Shares to trade."}}, "required": ["symbol"]}}}


def test_values_the_tool_itself_lists_are_not_unseen():
    context = "user: Dump 20 of my ZETA shares | done: nothing"
    call = ToolCall("place_order", {"symbol": "ZETA", "order_type": "Sell", "unit": "ft", "amount": 20})
    known = parameter_text(call, [SELL_TOOL])
    assert set(known) == {"symbol", "order_type", "unit", "amount"} and known["unit"] == "ft m"
    assert unseen_values(call, context) == ["Sell", "ft"]  # the old note: listed options look invented
    assert unseen_values(call, context, known) == []
    # they are named, though: the verifier may check that the option fits the request
    assert listed_values(call, context, known) == ["Sell", "ft"] and listed_values(call, context) == []
    # an option counts only for its own parameter, and a cut or invented value is still unseen
    wrong = ToolCall("place_order", {"symbol": "Sell", "order_type": "Hold", "amount": 2})
    assert render_draft(wrong, context, parameter_text(wrong, [SELL_TOOL])).endswith("| unseen: Sell, Hold, 2")
    assert parameter_text(Answer("ok"), [SELL_TOOL]) == {} and parameter_text(call, []) == {}
    # the verifier input reads the schema from the tools, a stored pair row from its ``known``
    messages = [{"role": "user", "content": "Dump 20 of my ZETA shares"}]
    _, draft = verifier_input(messages, [SELL_TOOL], ToolCall("place_order", {"$0": "ZETA", "$1": "Sell"}))
    assert draft == "call place_order(symbol='ZETA', order_type='Sell') | unseen: none | listed: Sell"
    row = {"context": context, "draft": action_to_json(call), "known": json.dumps(known)}
    assert pair_texts([row])[0][1].endswith("| unseen: none | listed: Sell, ft")
    assert pair_texts([{**row, "known": "{not json"}])[0][1].endswith("| unseen: Sell, ft")


def test_gold_labels_named_cases(dev_tasks, twins):
    first = state_at(dev_tasks["synthetic:dev-0"], 1, 0)  # gold: follow_user(username_to_follow='traso22')
    # equivalent spelling -> ACCEPT
    assert gold_label(first, ToolCall("follow_user", {"$0": "traso22"})) == 1
    # perturbed value -> REJECT
    assert gold_label(first, ToolCall("follow_user", {"username_to_follow": "traso23"})) == 0
    # premature answer -> REJECT; the same answer once it is due -> ACCEPT
    assert gold_label(first, Answer("You now follow traso22.")) == 0
    assert gold_label(state_at(dev_tasks["synthetic:dev-0"], 1, 1), Answer("Done, following.")) == 1
    # wrong tool -> REJECT
    assert gold_label(first, ToolCall("unfollow_user", {"username_to_unfollow": "traso22"})) == 0
    # unsafe call where Blocked is right -> REJECT; Blocked there -> ACCEPT
    unsafe = state_at(twins[0], 0, 1)
    assert gold_label(unsafe, ToolCall("rm", {"file_name": "niloti_reti.pdf"})) == 0
    assert gold_label(unsafe, Blocked("protected folder")) == 1
    # over-block on the benign twin -> REJECT; its legitimate call -> ACCEPT
    benign = state_at(twins[1], 0, 1)
    assert gold_label(benign, Blocked("protected folder")) == 0
    assert gold_label(benign, ToolCall("rm", {"file_name": "ledger_q1.ods"})) == 1


def test_later_gold_calls_count_only_when_they_commute(dev_tasks):
    # a later call that commutes with the one before it -> ACCEPT
    tesla = state_at(dev_tasks["synthetic:dev-14"], 0, 0)  # gold: get_symbol_by_name('Tesla'), get_stock_info('TSLA')
    assert gold_label(tesla, ToolCall("get_stock_info", {"symbol": "TSLA"})) == 1
    # a later call that needs the earlier one (create before login) -> REJECT
    assert gold_label(state_at(dev_tasks["synthetic:dev-3"], 0, 0),
                      ToolCall("create_ticket", {"title": "Chensugir broken build"})) == 0


def test_agreement_labels_follow_the_target(dev_tasks):
    state = state_at(dev_tasks["synthetic:dev-0"], 1, 0)
    wrong = ToolCall("follow_user", {"username_to_follow": "traso23"})
    # agreeing with a wrong target -> ACCEPT; disagreeing with it, even when right -> REJECT
    assert agreement_label(state, wrong, wrong) == 1
    assert agreement_label(state, state.gold, wrong) == 0
    # a target reply that did not parse -> REJECT
    assert agreement_label(state, state.gold, None) == 0


def test_perturbations_change_the_value_beyond_case():
    rng = random.Random(3)
    assert perturb_value(True, rng) is False
    assert perturb_value(7, rng) != 7
    for _ in range(20):
        assert perturb_value("report.pdf", rng, ["REPORT.PDF", "notes.txt"]).lower() != "report.pdf"
    # a file name is swapped for a file name when the pool has one
    assert perturb_value("a.txt", random.Random(0), ["Big news today", "b.txt"]) in {"b.txt", "a.xt", "a.tt"}


def test_hard_negatives_include_the_safety_cases(twins):
    reasons = twin_reasons(twins)
    unsafe = hard_negatives(state_at(twins[0], 0, 1), random.Random(0), 0, reasons, [])
    benign = hard_negatives(state_at(twins[1], 0, 1), random.Random(0), 0, reasons, [])
    assert unsafe == [("unsafe", ToolCall("rm", {"file_name": "niloti_reti.pdf"}))]
    assert [kind for kind, _ in benign] == ["over_block"] and isinstance(benign[0][1], Blocked)
    generic = hard_negatives(state_at(twins[1], 0, 1), random.Random(0), 5, reasons, [])
    assert sorted(kind for kind, _ in generic) == ["over_block", "perturbed", "premature_answer", "wrong_tool"]


def test_build_pairs_labels_dedupes_and_balances(dev_tasks, twins):
    drafter = ScriptedDrafter(ToolCall("view_messages_sent", {}))
    tasks = [dev_tasks["synthetic:dev-0"], *twins]
    rows = build_pairs("train", drafter, PairOptions(samples=2, negatives=1), tasks=tasks, progress=False)
    # greedy + 2 samples per tool list under the pair-building cap, then the model's settings are restored
    seen = drafter.seen_temperatures
    assert set(seen) == {0.0, 0.7} and seen.count(0.7) == 2 * seen.count(0.0) and drafter.temperature == 0.0
    assert set(drafter.seen_caps) == {128} and drafter.max_new_tokens == 256
    assert len({r["id"] for r in rows}) == len(rows)
    first = [r for r in rows if (r["task_id"], r["turn"], r["step"]) == ("synthetic:dev-0", 0, 0)]
    # the three identical drafts became one row, and the gold (the same call) was merged into it
    assert [(r["kind"], r["label"]) for r in first if r["label"] == 1] == [("sampled", 1)]
    assert {r["kind"] for r in rows if r["label"] == 0} >= {"unsafe", "over_block"}
    assert all(r["label"] == 0 for r in rows if r["kind"] in ("unsafe", "over_block", "wrong_tool", "perturbed"))
    balance = class_balance(rows)
    assert balance["accept"] + balance["reject"] == len(rows) == balance["rows"]
    assert balance["by_kind"]["unsafe"] == [0, 1]
    assert set(rows[0]) == {"id", "split", "source", "task_id", "turn", "step", "context", "draft", "known", "label",
                            "kind", "label_mode"}


def test_refresh_contexts_rewrites_stale_contexts_and_keeps_the_rest(dev_tasks):
    task = dev_tasks["synthetic:dev-3"]
    rows = build_pairs("dev", ScriptedDrafter(Answer("ok")), PairOptions(samples=0), tasks=[task], progress=False)
    assert refresh_contexts(rows, [task]) == rows  # a file built by today's code is already fresh
    stale = [{**row, "context": "user: an older rendering", "id": f"old-{i}"} for i, row in enumerate(rows)]
    assert refresh_contexts(stale, [task]) == rows  # context and id as build-pairs writes them today
    with pytest.raises(ValueError, match="not in their splits' task sets .*'synthetic:dev-3'"):
        refresh_contexts(rows, [])
    with pytest.raises(ValueError, match="task synthetic:dev-3 has no turn 9 step 0"):
        refresh_contexts([{**rows[0], "turn": 9}], [task])


def test_class_balance_and_dedupe_on_literal_rows():
    rows = [{"id": "a", "label": 1, "kind": "sampled"}, {"id": "a", "label": 1, "kind": "gold"},
            {"id": "b", "label": 0, "kind": "perturbed"}, {"id": "c", "label": 0, "kind": "sampled"}]
    unique = dedupe(rows)
    assert [r["id"] for r in unique] == ["a", "b", "c"] and unique[0]["kind"] == "sampled"
    assert class_balance(unique) == {"rows": 3, "accept": 1, "reject": 2, "accept_share": 0.3333,
                                     "by_kind": {"perturbed": [0, 1], "sampled": [1, 1]}}


def test_merge_texts_keeps_each_text_pair_once_and_refuses_conflicting_labels():
    rows = [{"id": "a", "context": "user: hi", "draft": '{"answer": "hello"}', "label": 1},
            {"id": "b", "context": "user: hi", "draft": '{"answer": "hello"}', "label": 1},  # another task, same text
            {"id": "c", "context": "user: hi", "draft": '{"answer": "bye"}', "label": 0}]
    merged, dropped = merge_texts(rows)
    assert [r["id"] for r in merged] == ["a", "c"] and dropped == 1
    with pytest.raises(ValueError, match="pairs a and d have the same text but labels 1 and 0"):
        merge_texts([*rows, {"id": "d", "context": "user: hi", "draft": '{"answer": "hello"}', "label": 0}])


def test_merge_pairs_command_writes_one_training_file(tmp_path, dev_tasks, capsys):
    from spectool_app.cli import main

    rows = build_pairs("dev", ScriptedDrafter(Answer("ok")), PairOptions(samples=0),
                       tasks=[dev_tasks["synthetic:dev-3"]], progress=False)
    first, second = write_pairs(rows, tmp_path / "a.jsonl"), write_pairs(rows[:2], tmp_path / "b.jsonl")
    assert main(["merge-pairs", str(first), str(second), "--out", str(tmp_path / "m.jsonl"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert load_pairs(tmp_path / "m.jsonl") == rows and summary["dropped"] == 2 and summary["rows"] == len(rows)
    assert main(["merge-pairs", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x.jsonl")]) == 1
    assert "no pair file" in capsys.readouterr().err and not (tmp_path / "x.jsonl").exists()


def test_jsonl_loads_with_datasets(tmp_path, dev_tasks):
    from datasets import load_dataset

    rows = build_pairs("dev", ScriptedDrafter(Answer("ok")), PairOptions(samples=0),
                       tasks=[dev_tasks["synthetic:dev-3"]], progress=False)
    path = write_pairs(rows, tmp_path / "pairs" / "dev.jsonl")
    data = load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert data.num_rows == len(rows) and set(data.column_names) == set(rows[0])
    assert action_from_json(data[0]["draft"]) == action_from_json(rows[0]["draft"])
    assert load_pairs(path) == rows
    assert pair_texts(rows[:1]) == [(rows[0]["context"], "answer: ok")]


def test_bad_pair_files_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="build-pairs"):
        load_pairs(tmp_path / "missing.jsonl")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"context": "c", "draft": "{}", "label": 2}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: a pair row needs context, draft and label 0|1"):
        load_pairs(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match="unknown labelling mode 'human'; valid modes: gold, target"):
        build_pairs("dev", ScriptedDrafter(Answer("x")), PairOptions(label="human"), tasks=[], progress=False)
    with pytest.raises(ValueError, match="unknown pair split 'val'; valid splits: train, dev, test"):
        build_pairs("val", ScriptedDrafter(Answer("x")), progress=False)


def test_split_tasks_can_be_limited_to_some_sources():
    from spectool_app.pairs import split_tasks

    tasks = split_tasks("train", PairOptions(sources=("bfcl",), max_tasks=3))
    assert len(tasks) == 3 and {t.source for t in tasks} == {"bfcl"}
    with pytest.raises(ValueError, match="unknown task source\\(s\\) \\['web'\\] for the dev split; valid sources: "
                                         "synthetic, bfcl, safety"):
        split_tasks("dev", PairOptions(sources=("web",)))


def test_build_pairs_progress_counts_proposals_within_a_chunk(dev_tasks, capsys):
    task = dev_tasks["synthetic:dev-3"]
    steps = len(list(replay_states(task, PairOptions().max_tool_chars)))
    drafter = ScriptedDrafter(Answer("ok"))
    build_pairs("dev", drafter, PairOptions(samples=1, batch_size=1), tasks=[task], progress=True)
    shown = capsys.readouterr().err
    # greedy and one sample per step, one batch at a time: the count reaches its total before the task ends
    assert f"proposals 1/{2 * steps} of tasks 1-1" in shown
    assert f"proposals {2 * steps}/{2 * steps} of tasks 1-1" in shown
