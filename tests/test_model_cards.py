"""Model cards written from training records and eval-models reports."""

from spectool_app.model_cards import card_text

PROGRESS = {"step": 10, "sequences": 40, "tokens": 5000, "elapsed_s": 120.0, "loss": 0.5}
SHAPE = {"hidden": 32, "layers": 4, "heads": 2, "kv_heads": 1, "intermediate": 64}
REPORT = {"target": {"synthetic_test_exact": 0.5, "ms_per_action": 12.0}, "latency_ratio": 5.5, "steps": {"synthetic_test": 9}}


def record(progress):
    return {"progress": progress, "shape": SHAPE, "parameters": 1e5, "device": "cpu", "torch": "x"}


def test_card_reports_training_and_held_out_results():
    card = card_text("target", record(PROGRESS), REPORT, "eval-models")
    assert "| exact action match, synthetic test (held-out phrasings and values) | 50.0% |" in card
    assert "4 layers" in card and "2.0 minutes" in card and "5.50" in card
    assert "grown" not in card
    assert "threads" not in card  # an older report that does not say how many threads it timed with


def test_card_says_how_many_threads_the_timings_ran_with():
    card = card_text("target", record(PROGRESS), dict(REPORT, torch_threads=1), "eval-models")
    assert "Target/drafter latency ratio: 5.50 (torch CPU threads: 1)." in card


def test_card_of_a_grown_model_names_its_source():
    grown = dict(PROGRESS, grown_from={"role": "drafter", "layers": 2, "progress": dict(PROGRESS, step=7)})
    card = card_text("target", record(grown), REPORT, "eval-models")
    assert "began as the trained drafter (2 layers, 7 steps" in card
    assert "the drafter's minutes are not counted" in card


def test_card_splits_training_time_by_phase():
    phases = [{"device": "cpu", "from_step": 0, "from_elapsed_s": 0.0, "from_tokens": 0},
              {"device": "cuda", "from_step": 6, "from_elapsed_s": 60.0, "from_tokens": 1000, "learning_rate": 1e-3,
               "tokens_per_batch": 65536, "budget_minutes": 1.5,
               "resumed": [{"at_step": 8, "learning_rate": 5e-4, "budget_minutes": 2.0}]}]
    card = card_text("target", record(dict(PROGRESS, phases=phases)), REPORT, "eval-models")
    assert "1.0 minutes on cpu (1000 tokens), then 1.0 minutes on cuda (4000 tokens, peak learning rate 0.001" in card
    assert "resumed at step 8 with peak 0.0005 and a 2-minute budget" in card
    assert "safety templates" not in card  # phases recorded before the data mix was
    phases.append({"device": "cpu", "from_step": 9, "from_elapsed_s": 120.0, "from_tokens": 5000, "learning_rate": 3e-4,
                   "tokens_per_batch": 4096, "budget_minutes": 3.0, "safety_share": 0.5, "decision_weight": 10.0})
    card = card_text("target", record(dict(PROGRESS, phases=phases, elapsed_s=180.0, tokens=6000)), REPORT, "eval-models")
    assert ("then 1.0 minutes on cpu (1000 tokens, peak learning rate 0.0003, 4096 tokens per batch, 0.5 of the "
            "conversations from safety templates, reply-first-token weight 10)") in card
    phases[-1]["paired_twins"] = True
    card = card_text("target", record(dict(PROGRESS, phases=phases, elapsed_s=180.0, tokens=6000)), REPORT, "eval-models")
    assert "reply-first-token weight 10, safety twins side by side in one batch)" in card
    phases[-1]["safety_mix"] = {"beyond_policy": 3, "injection": 1}
    card = card_text("target", record(dict(PROGRESS, phases=phases, elapsed_s=180.0, tokens=6000)), REPORT, "eval-models")
    assert "side by side in one batch, safety families beyond_policy x3, injection x1)" in card


def test_card_of_layers_taken_from_the_target_names_them_and_its_own_training():
    taken = {"role": "target", "layers": [0, 2], "of_layers": 4, "progress": dict(PROGRESS, step=9)}
    untrained = dict(PROGRESS, step=0, taken_from=taken)
    card = card_text("drafter", record(untrained), REPORT, "eval-models")
    assert "It is 2 of the trained target's 4 layers (0, 2)" in card and "9 steps" in card
    assert "no training of its own" in card and "Training of its own: none" in card
    assert "the target's minutes are not counted" in card
    trained = card_text("drafter", record(dict(PROGRESS, taken_from=taken)), REPORT, "eval-models")
    assert "The training below is its own" in trained and "10 optimiser steps" in trained
    assert "grown from" not in card  # only a grown source explains why these layers
    grown_source = dict(taken, progress=dict(PROGRESS, grown_from={"role": "drafter", "layers": 2, "progress": PROGRESS}))
    placed = card_text("drafter", record(dict(PROGRESS, step=0, taken_from=grown_source)), REPORT, "eval-models")
    assert "The target was grown from an earlier drafter, and these layers sit where that drafter's own" in placed
