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


def test_card_of_a_grown_model_names_its_source():
    grown = dict(PROGRESS, grown_from={"role": "drafter", "layers": 2, "progress": dict(PROGRESS, step=7)})
    card = card_text("target", record(grown), REPORT, "eval-models")
    assert "began as the trained drafter (2 layers, 7 steps" in card
    assert "the drafter's minutes are not counted" in card
