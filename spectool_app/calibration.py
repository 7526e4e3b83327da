"""Verifier thresholds and the verifier card: ``python -m spectool_app calibrate-verifier``.

A threshold turns ``p_accept`` into a decision (``accept = p_accept >= threshold``). It is
picked on dev pairs, never on test, by one of two rules (RouteLLM calibrates its routers
the same way):

- a target false-accept rate (default 2%): the lowest threshold whose share of REJECT
  pairs accepted is at most the target, i.e. the most acceptance that rate allows;
- a target acceptance rate: the highest threshold that accepts at least that share.

Thresholds sit halfway between the two neighbouring scores that the rule separates. The
card (``card.json`` and a ``README.md`` generated from it) records accuracy, per-class
precision and recall, AUROC, ECE, false-accept and false-reject rates at the threshold,
the median judge latency and the command that produced it. This module knows nothing
about how scores are computed: it takes score lists and a scorer.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

DEFAULT_MAX_FAR = 0.02  # target false-accept rate
ECE_BINS = 10  # equal-width probability bins for the expected calibration error
CARD_NAME = "card.json"
README_NAME = "README.md"


def _check(scores: Sequence[float], labels: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("calibration needs a non-empty list of scores")
    if labels is None:
        return values, None
    truth = np.asarray(labels, dtype=int)
    if truth.shape != values.shape or not set(truth.tolist()) <= {0, 1}:
        raise ValueError("labels must be 0 (REJECT) or 1 (ACCEPT), one per score")
    return values, truth


def _between(low: float, values: np.ndarray) -> float:
    """Halfway from ``low`` to the next larger score (just above ``low`` when there is none), at most 1."""
    above = values[values > low]
    if len(above):
        return float((low + above.min()) / 2)
    return float(min(1.0, np.nextafter(low, math.inf)))


def threshold_for_false_accept(scores: Sequence[float], labels: Sequence[int],
                               max_far: float = DEFAULT_MAX_FAR) -> float:
    """The lowest threshold at which at most ``max_far`` of the REJECT pairs are accepted.

    With ``m = floor(max_far * n_reject)`` false accepts allowed, the threshold sits above
    the ``(m+1)``-th highest REJECT score. When that score is 1.0 no threshold reaches the
    target and 1.0 is returned (report the achieved rate with :func:`rates_at`).

    Raises:
        ValueError: no REJECT pair, ``max_far`` outside [0, 1], or malformed lists.
    """
    values, truth = _check(scores, labels)
    if not 0.0 <= max_far <= 1.0:
        raise ValueError(f"max_far must be between 0 and 1, got {max_far}")
    negatives = np.sort(values[truth == 0])[::-1]
    if len(negatives) == 0:
        raise ValueError("calibration needs REJECT pairs to measure false accepts")
    allowed = int(math.floor(max_far * len(negatives) + 1e-9))
    if allowed >= len(negatives):
        return float(max(0.0, values.min()))
    return _between(float(negatives[allowed]), values)


def threshold_for_acceptance(scores: Sequence[float], rate: float) -> float:
    """The highest threshold that accepts at least ``rate`` of all pairs.

    Raises:
        ValueError: ``rate`` outside [0, 1] or an empty list.
    """
    values, _ = _check(scores)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"acceptance rate must be between 0 and 1, got {rate}")
    ordered = np.sort(values)[::-1]
    k = int(math.ceil(rate * len(ordered) - 1e-9))
    if k == 0:
        return _between(float(ordered[0]), values)
    kth = float(ordered[k - 1])
    below = ordered[ordered < kth]
    return kth if len(below) == 0 else float((kth + below.max()) / 2)


def rates_at(scores: Sequence[float], labels: Sequence[int], threshold: float) -> dict[str, float]:
    """False-accept, false-reject and acceptance rates of ``p >= threshold`` (DESIGN.md definitions)."""
    values, truth = _check(scores, labels)
    accepted = values >= threshold
    negatives, positives = truth == 0, truth == 1
    far = float(accepted[negatives].mean()) if negatives.any() else 0.0
    frr = float((~accepted[positives]).mean()) if positives.any() else 0.0
    return {"false_accept_rate": far, "false_reject_rate": frr, "acceptance_rate": float(accepted.mean())}


def expected_calibration_error(scores: Sequence[float], labels: Sequence[int], bins: int = ECE_BINS) -> float:
    """Sum over equal-width bins of (bin share) * |mean label - mean score|.

    Written out (a few lines) because scikit-learn's ``calibration_curve`` returns the
    per-bin means but not the bin sizes the weighting needs.
    """
    values, truth = _check(scores, labels)
    index = np.minimum((values * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            total += members.mean() * abs(truth[members].mean() - values[members].mean())
    return float(total)


def metrics(scores: Sequence[float], labels: Sequence[int], threshold: float) -> dict[str, Any]:
    """Accuracy, per-class precision/recall, AUROC, ECE and the rates at ``threshold``."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

    values, truth = _check(scores, labels)
    decisions = (values >= threshold).astype(int)
    precision, recall, _, support = precision_recall_fscore_support(truth, decisions, labels=[1, 0], zero_division=0)
    auroc = float(roc_auc_score(truth, values)) if len(set(truth.tolist())) == 2 else None
    return {
        "accuracy": float(accuracy_score(truth, decisions)),
        "auroc": auroc,
        "ece": expected_calibration_error(values, truth),
        "precision": {"accept": float(precision[0]), "reject": float(precision[1])},
        "recall": {"accept": float(recall[0]), "reject": float(recall[1])},
        "support": {"accept": int(support[0]), "reject": int(support[1])},
        **rates_at(values, truth, threshold),
    }


def _groups(rows: Sequence[dict[str, Any]], scores: Sequence[float], key: str, threshold: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted({str(r.get(key, "")) for r in rows}):
        picked = [(s, r["label"]) for s, r in zip(scores, rows) if str(r.get(key, "")) == name]
        right = sum((s >= threshold) == bool(label) for s, label in picked)
        out[name] = {"pairs": len(picked), "accuracy": right / len(picked),
                     "accept_share": sum(label for _, label in picked) / len(picked)}
    return out


def median_latency_ms(score_one: Callable[[tuple[str, str]], Any], pairs: Sequence[tuple[str, str]]) -> float:
    """Median wall time of scoring one pair at a time (after one warm-up call), in milliseconds."""
    if not pairs:
        return float("nan")
    score_one(pairs[0])
    times = []
    for pair in pairs:
        started = time.perf_counter()
        score_one(pair)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def build_card(rows: Sequence[dict[str, Any]], scores: Sequence[float], *, max_far: Optional[float] = DEFAULT_MAX_FAR,
               accept_rate: Optional[float] = None, latency_ms: float, command: str,
               extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Pick the threshold on ``rows`` (dev pairs) with their ``scores`` and describe the verifier.

    Exactly one rule applies: ``accept_rate`` when given, else ``max_far``.
    """
    labels = [int(r["label"]) for r in rows]
    if accept_rate is not None:
        threshold, rule = threshold_for_acceptance(scores, accept_rate), {"acceptance_rate": accept_rate}
    else:
        far = DEFAULT_MAX_FAR if max_far is None else max_far
        threshold, rule = threshold_for_false_accept(scores, labels, far), {"max_false_accept_rate": far}
    return {
        "verifier": "trained", **(extra or {}),
        "threshold": threshold, "threshold_rule": rule,
        "dev_pairs": len(rows), "metrics": metrics(scores, labels, threshold),
        "by_kind": _groups(rows, scores, "kind", threshold), "by_source": _groups(rows, scores, "source", threshold),
        "median_judge_ms": latency_ms, "command": command,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def card_markdown(card: dict[str, Any]) -> str:
    """The README.md of a verifier folder, generated from its card (no hand-typed numbers)."""
    m = card["metrics"]
    rule = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in card["threshold_rule"].items())
    auroc = "n/a" if m["auroc"] is None else f"{m['auroc']:.4f}"
    lines = [
        "# SpecTool trained verifier", "",
        f"Model kind `{card.get('kind', '?')}`, weights `{card.get('weights', '?')}`, base `{card.get('base', '?')}`.",
        "Generated from `card.json` by the calibration step; do not edit by hand.", "",
        f"Threshold **{card['threshold']:.4f}** ({rule}) on {card['dev_pairs']} dev pairs.", "",
        "| metric | value |", "|---|---|",
        f"| accuracy | {_pct(m['accuracy'])} |", f"| AUROC | {auroc} |", f"| ECE | {m['ece']:.4f} |",
        f"| false-accept rate | {_pct(m['false_accept_rate'])} |",
        f"| false-reject rate | {_pct(m['false_reject_rate'])} |",
        f"| acceptance rate | {_pct(m['acceptance_rate'])} |",
        f"| precision ACCEPT / REJECT | {_pct(m['precision']['accept'])} / {_pct(m['precision']['reject'])} |",
        f"| recall ACCEPT / REJECT | {_pct(m['recall']['accept'])} / {_pct(m['recall']['reject'])} |",
        f"| median judge latency | {card['median_judge_ms']:.1f} ms |", "",
        "| pair kind | pairs | ACCEPT share | accuracy |", "|---|---|---|---|",
    ]
    lines += [f"| {k} | {v['pairs']} | {_pct(v['accept_share'])} | {_pct(v['accuracy'])} |"
              for k, v in card["by_kind"].items()]
    training = card.get("training") or {}
    if training:
        settings = training.get("config", {})
        lines += ["", "| training | value |", "|---|---|",
                  f"| pairs (ACCEPT share) | {training.get('train_pairs')} ({_pct(training.get('train_accept_share'))}),"
                  f" {training.get('extra_pairs', 0)} human-labelled |",
                  f"| optimiser steps / epochs | {training.get('steps')} / {settings.get('epochs')} |",
                  f"| final training loss | {training.get('train_loss')} |",
                  f"| trainable / total parameters | {training.get('trainable_params'):,} / "
                  f"{training.get('total_params'):,} |",
                  f"| saved | {training.get('saved_bytes', 0) / 1e6:.1f} MB |",
                  f"| wall time | {training.get('wall_s')} s |"]
    if training.get("command") and training["command"] != card["command"]:
        lines += ["", f"Trained by: `{training['command']}`"]
    lines += ["", f"Produced by: `{card['command']}`"]
    earlier = training.get("init")
    while earlier:  # trained further from an earlier verifier (train-verifier --init): its runs, newest first
        lines += ["", f"Started from the verifier in `{earlier.get('from')}`: {earlier.get('steps')} steps, "
                      f"{earlier.get('epochs')} epochs on {earlier.get('train_pairs')} pairs, "
                      f"{earlier.get('wall_s')} s, by `{earlier.get('command') or '?'}`."]
        earlier = earlier.get("init")
    return "\n".join(lines + [""])


def write_card(folder: str | Path, card: dict[str, Any]) -> Path:
    """Write ``card.json`` and ``README.md`` and store the threshold in ``verifier_config.json``."""
    from spectool_app.trained_verifier import CONFIG_NAME

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / CARD_NAME).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (path / README_NAME).write_text(card_markdown(card), encoding="utf-8")
    config_path = path / CONFIG_NAME
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config["threshold"] = card["threshold"]
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path / CARD_NAME


def calibrate_scorer(scorer: Any, rows: Sequence[dict[str, Any]], *, command: str,
                     max_far: Optional[float] = DEFAULT_MAX_FAR, accept_rate: Optional[float] = None,
                     latency_pairs: int = 50, extra: Optional[dict[str, Any]] = None,
                     batch_size: int = 32) -> dict[str, Any]:
    """Score dev ``rows`` with a :class:`~spectool_app.trained_verifier.PairScorer` and build its card."""
    from spectool_app.pairs import pair_texts

    texts = pair_texts(rows)
    scores = scorer.scores(texts, batch_size)
    latency = median_latency_ms(lambda pair: scorer.scores([pair], 1), texts[:latency_pairs])
    return build_card(rows, scores, max_far=max_far, accept_rate=accept_rate, latency_ms=latency,
                      command=command, extra=extra)


def calibrate_folder(folder: str | Path | None, dev_file: str | Path, *, command: str,
                     max_far: Optional[float] = DEFAULT_MAX_FAR, accept_rate: Optional[float] = None,
                     latency_pairs: int = 50) -> dict[str, Any]:
    """Load a verifier folder, calibrate it on ``dev_file`` and write its card; returns the card."""
    from spectool_app.pairs import load_pairs
    from spectool_app.trained_verifier import load_scorer, verifier_dir

    scorer, config = load_scorer(folder)
    path = verifier_dir(folder)
    old = json.loads((path / CARD_NAME).read_text(encoding="utf-8")) if (path / CARD_NAME).is_file() else {}
    training = old.get("training")
    extra = {k: config.get(k) for k in ("kind", "weights", "base")}
    if training:  # the command that trained it stays on the card once this one replaces "command"
        extra["training"] = {"command": old.get("command"), **training}
    card = calibrate_scorer(scorer, load_pairs(dev_file), command=command, max_far=max_far,
                            accept_rate=accept_rate, latency_pairs=latency_pairs, extra=extra)
    write_card(path, card)
    return card


def threshold_for_step_accuracy(scores: Sequence[Optional[float]], draft_right: Sequence[bool],
                                target_right: Sequence[bool], groups: Sequence[str], max_loss: float) -> float:
    """The lowest threshold at which the loop's step accuracy in every group is within
    ``max_loss`` of the target's own.

    At threshold ``t`` a step's action is the draft when its score is at least ``t`` (a None
    score, an unparseable draft, never is) and the target's otherwise. Candidates sit halfway
    between neighbouring scores; just above the highest score every draft is rejected and the
    loop is the target. Thresholds are capped at 1, so where the highest score is 1.0 and only
    rejecting everything holds, 1.0 is returned and the rule is not met (report it with the
    outcome at that threshold).

    Raises:
        ValueError: lists of different lengths, no steps, or ``max_loss`` outside [0, 1).
    """
    n = len(scores)
    if n == 0 or not n == len(draft_right) == len(target_right) == len(groups):
        raise ValueError("step-accuracy tuning needs one score, draft verdict, target verdict and group per step")
    if not 0.0 <= max_loss < 1.0:
        raise ValueError(f"max_loss must be at least 0 and below 1, got {max_loss}")
    values = np.array([-np.inf if s is None else float(s) for s in scores])
    draft, target = np.asarray(draft_right, dtype=bool), np.asarray(target_right, dtype=bool)
    names = np.asarray(groups)
    members = {name: names == name for name in dict.fromkeys(groups)}
    floor = {name: target[mask].mean() - max_loss - 1e-12 for name, mask in members.items()}
    finite = np.unique(values[np.isfinite(values)])  # ascending
    if len(finite) == 0:
        return 1.0  # no draft could be judged: nothing to accept
    candidates = [float(finite[0])] + [float((a + b) / 2) for a, b in zip(finite[:-1], finite[1:])]
    for threshold in candidates:  # ascending: the first that holds accepts the most
        loop = np.where(values >= threshold, draft, target)
        if all(loop[mask].mean() >= floor[name] for name, mask in members.items()):
            return threshold
    return _between(float(finite[-1]), finite)
