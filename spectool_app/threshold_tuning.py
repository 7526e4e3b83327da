"""Verifier thresholds tuned on replayed dev steps: ``python -m spectool_app tune-thresholds``.

Dev pairs (``calibrate-verifier``) say how well a verifier separates right actions from wrong
ones in general. This says what a threshold does to the loop's quality with *these* drafter
and target. Every step of the dev task sets is replayed with gold history; the drafter and
the target each propose, and every verifier kind scores the draft. At threshold ``t`` a
step's action is the draft when ``p >= t`` and the target's otherwise (an unparseable draft
is never accepted), so the loop's step accuracy at every ``t`` is known without running
episodes. The tuned threshold is the lowest (the most acceptance) at which the step accuracy
of every task set stays within ``max_loss`` of the target's own
(:func:`spectool_app.calibration.threshold_for_step_accuracy`). Dev splits only, never test.

The results record the fingerprints of the models they were tuned with; the bench uses a
tuned threshold only while those models are unchanged. This module knows nothing about
storage or the UI.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from tqdm.auto import tqdm

from spectool_app.calibration import threshold_for_step_accuracy
from spectool_app.config import PROJECT_ROOT
from spectool_app.context import MAX_TOOL_CHARS, GoldStep
from spectool_app.judging import JudgeContext
from spectool_app.fingerprint import changed_roles
from spectool_app.model_eval import by_tool_list, collect_steps, sample_steps
from spectool_app.signatures import equivalent
from spectool_app.tasks import load_task_set, parse_task_set

TUNED_FILE = PROJECT_ROOT / "results" / "verifiers" / "thresholds.json"  # where the bench reads them
DEFAULT_TASK_SETS = ("synthetic:dev", "safety:dev")
DEFAULT_KINDS = ("trained", "confidence", "target_likelihood")  # kinds with a score worth a threshold
# Step accuracy the loop may lose against the target alone, per task set: half a point, five steps in
# a thousand. With none allowed the rule chases single steps (on the committed models' 1,003 synthetic
# dev steps the trained verifier's step accuracy moves by 0.6 points between thresholds 0.5 and 0.99).
DEFAULT_MAX_LOSS = 0.005


@dataclass(frozen=True)
class TuneOptions:
    """What to replay and how much accuracy may be traded for acceptance."""

    task_sets: tuple[str, ...] = DEFAULT_TASK_SETS  # "source:dev" specs
    kinds: tuple[str, ...] = DEFAULT_KINDS  # verifier kinds to tune
    max_loss: float = DEFAULT_MAX_LOSS  # allowed step-accuracy loss per task set
    max_steps: Optional[int] = None  # per task set, a seeded sample of steps (None: all)
    batch_size: int = 8  # prompts per generate call
    seed: int = 0


@dataclass(frozen=True)
class JudgedStep:
    """One replayed step: whether each model was right and what each verifier said of the draft."""

    task_set: str  # the spec it came from
    draft_right: bool  # the draft is equivalent to the gold action
    target_right: bool  # the target's proposal is
    scores: dict[str, Optional[float]] = field(default_factory=dict)  # kind -> p_accept (None: unparseable draft)


def check_options(options: TuneOptions) -> None:
    """Raises ValueError for a test or missing split, an unknown kind or a loss outside [0, 1)."""
    from spectool_app.verifiers import VERIFIER_KINDS

    if not options.task_sets:
        raise ValueError("tune-thresholds needs at least one task set, e.g. synthetic:dev")
    for spec in options.task_sets:
        _, split = parse_task_set(spec)
        if split != "dev":
            raise ValueError(f"thresholds are tuned on dev splits only, got {spec!r}; "
                             "use e.g. synthetic:dev or safety:dev (test stays held out)")
    unknown = [kind for kind in options.kinds if kind not in VERIFIER_KINDS]
    if unknown or not options.kinds:
        raise ValueError(f"unknown verifier kind(s) {unknown or list(options.kinds)}; "
                         f"valid kinds: {', '.join(VERIFIER_KINDS)}")
    if not 0.0 <= options.max_loss < 1.0:
        raise ValueError(f"max_loss must be at least 0 and below 1 (a share of steps), got {options.max_loss}")
    if options.max_steps is not None and options.max_steps < 1:
        raise ValueError(f"max_steps must be a positive number of steps per task set, got {options.max_steps}")


def dev_steps(options: TuneOptions) -> dict[str, list[GoldStep]]:
    """Task set spec -> its replayed steps (a seeded sample with ``max_steps``)."""
    chosen = {}
    for spec in options.task_sets:
        chosen[spec] = sample_steps(collect_steps(load_task_set(spec, seed=options.seed), MAX_TOOL_CHARS),
                                    options.max_steps, options.seed)
    return chosen


def judge_steps(models: dict[str, Any], verifiers: dict[str, Any], spec: str, steps: Sequence[GoldStep],
                batch_size: int) -> list[JudgedStep]:
    """Drafter and target proposals for ``steps`` (batched per tool list, the template renders it)
    and every verifier's score."""
    batches = [same[start:start + batch_size] for same in by_tool_list(steps) for start in range(0, len(same), batch_size)]
    judged = []
    for group in tqdm(batches, desc=spec, unit="batch", leave=False):
        drafts = models["drafter"].propose_batch([s.messages for s in group], group[0].tools)
        targets = models["target"].propose_batch([s.messages for s in group], group[0].tools)
        for step, draft, target in zip(group, drafts, targets):
            scores: dict[str, Optional[float]] = {}
            for kind, verifier in verifiers.items():
                if draft.action is None:
                    scores[kind] = None
                else:
                    context = JudgeContext(step.messages, step.tools, draft.mean_logprob)
                    scores[kind] = float(verifier.score(context, draft.action)[0])
            judged.append(JudgedStep(spec, _right(draft.action, step), _right(target.action, step), scores))
    return judged


def _right(action: Any, step: GoldStep) -> bool:
    return action is not None and equivalent(action, step.gold, step.tools)


def tune(judged: Sequence[JudgedStep], kinds: Sequence[str], max_loss: float) -> dict[str, dict[str, Any]]:
    """Kind -> its tuned threshold and what the loop does there, overall and per task set."""
    tuned = {}
    for kind in kinds:
        scores = [s.scores[kind] for s in judged]
        draft_right = [s.draft_right for s in judged]
        target_right = [s.target_right for s in judged]
        groups = [s.task_set for s in judged]
        threshold = threshold_for_step_accuracy(scores, draft_right, target_right, groups, max_loss)
        by_set = {spec: outcome_at(threshold, [s for s in judged if s.task_set == spec], kind)
                  for spec in dict.fromkeys(groups)}
        meets = all(row["step_accuracy"] >= row["target_accuracy"] - max_loss - 1e-12 for row in by_set.values())
        tuned[kind] = {"threshold": threshold, **outcome_at(threshold, judged, kind), "meets_rule": meets,
                       "by_task_set": by_set}
    return tuned


def outcome_at(threshold: float, judged: Sequence[JudgedStep], kind: str) -> dict[str, Any]:
    """Acceptance, the loop's step accuracy, the two models' own, and false accepts/rejects at ``threshold``."""
    accepted = [s.scores[kind] is not None and s.scores[kind] >= threshold for s in judged]
    loop_right = [s.draft_right if a else s.target_right for s, a in zip(judged, accepted)]
    wrong = [a for s, a in zip(judged, accepted) if not s.draft_right]
    right = [a for s, a in zip(judged, accepted) if s.draft_right]
    n = max(1, len(judged))
    return {"steps": len(judged), "acceptance_rate": sum(accepted) / n, "step_accuracy": sum(loop_right) / n,
            "target_accuracy": sum(s.target_right for s in judged) / n,
            "drafter_accuracy": sum(s.draft_right for s in judged) / n,
            "false_accept_rate": sum(wrong) / max(1, len(wrong)),
            "false_reject_rate": (len(right) - sum(right)) / max(1, len(right))}


def collect_judged_steps(models: dict[str, Any], options: TuneOptions = TuneOptions(),
                         fingerprints: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """Replay the dev steps with the models: ``{"setup": {...}, "steps": [JudgedStep as dict, ...]}``.

    What :func:`tune_report` tunes on; saved beside the thresholds so another rule or loss is
    a second's work (``tune-thresholds --from-steps``), not another replay.

    Raises:
        ValueError: as :func:`check_options`; a verifier kind that cannot be built here.
    """
    from spectool_app.verifiers import make_verifier

    check_options(options)
    verifiers = {kind: make_verifier(kind, models) for kind in options.kinds}
    started = time.perf_counter()
    judged = [item for spec, steps in dev_steps(options).items()
              for item in judge_steps(models, verifiers, spec, steps, options.batch_size)]
    return {"setup": {"task_sets": list(options.task_sets), "kinds": list(options.kinds),
                      "max_steps": options.max_steps, "seed": options.seed, "steps": len(judged),
                      "wall_s": round(time.perf_counter() - started, 1),
                      "model_fingerprints": dict(fingerprints or {})},
            "steps": [asdict(item) for item in judged]}


def tune_report(collected: dict[str, Any], options: TuneOptions) -> dict[str, Any]:
    """Tune ``options.kinds`` on the collected steps of ``options.task_sets``:
    ``{"setup": {...}, "kinds": {kind: {...}}}``.

    Raises:
        ValueError: a task set or kind the collection does not hold, or bad options.
    """
    check_options(options)
    recorded = collected["setup"]
    missing = [spec for spec in options.task_sets if spec not in recorded["task_sets"]]
    missing += [kind for kind in options.kinds if kind not in recorded["kinds"]]
    if missing:
        raise ValueError(f"the collected steps hold no {', '.join(missing)}; they hold task sets "
                         f"{', '.join(recorded['task_sets'])} and kinds {', '.join(recorded['kinds'])}")
    judged = [JudgedStep(**row) for row in collected["steps"] if row["task_set"] in options.task_sets]
    setup = {**recorded, "task_sets": list(options.task_sets), "kinds": list(options.kinds),
             "steps": len(judged), "max_loss": options.max_loss,
             "rule": "lowest threshold whose step accuracy on every task set is within max_loss "
                     "of the target's (dev steps, gold history)"}
    return {"setup": setup, "kinds": tune(judged, options.kinds, options.max_loss)}


def read_steps(path: Path) -> dict[str, Any]:
    """Steps saved by :func:`write_tuned`.

    Raises:
        ValueError: the file is missing or not such a file.
    """
    try:
        collected = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(collected.get("steps"), list) or "task_sets" not in collected.get("setup", {}):
            raise ValueError("no setup or steps")
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path} is not a file of judged steps written by tune-thresholds ({exc})") from None
    return collected


def steps_path(path: Path) -> Path:
    """Where the judged steps of the thresholds at ``path`` are kept: ``<name>.steps.json`` beside it."""
    return path.with_name(path.stem + ".steps.json")


def write_tuned(report: dict[str, Any], path: Path = TUNED_FILE, collected: Optional[dict[str, Any]] = None) -> Path:
    """Write the thresholds to ``path`` and, when given, the judged steps to :func:`steps_path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if collected is not None:
        steps_path(path).write_text(json.dumps(collected, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_tuned(current: dict[str, str], path: Path = TUNED_FILE) -> tuple[dict[str, float], str]:
    """Kind -> tuned threshold when ``path`` was tuned with the ``current`` fingerprints, and why
    not otherwise (``({}, reason)``; absent, unreadable, or models changed since)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        return {}, f"{path.name} absent"
    except json.JSONDecodeError as exc:
        return {}, f"{path.name} unreadable ({exc})"
    tuned_with = report.get("setup", {}).get("model_fingerprints", {}) if isinstance(report, dict) else {}
    changed = changed_roles(tuned_with, current)
    if changed or not tuned_with:
        return {}, f"{path.name} was tuned with other models (changed: {', '.join(changed) or 'unrecorded'})"
    kinds = report.get("kinds", {})
    return {kind: float(entry["threshold"]) for kind, entry in kinds.items()
            if isinstance(entry, dict) and isinstance(entry.get("threshold"), (int, float))}, ""


def markdown_table(report: dict[str, Any]) -> str:
    """One row per kind: threshold, acceptance, loop and target step accuracy, false accepts/rejects."""
    lines = ["| verifier | threshold | acceptance | loop step accuracy | target | drafter | false accepts | "
             "false rejects |", "|---|---|---|---|---|---|---|---|"]
    for kind, row in report["kinds"].items():
        lines.append(f"| {kind} | {row['threshold']:.4f} | {row['acceptance_rate']:.1%} | {row['step_accuracy']:.1%} | "
                     f"{row['target_accuracy']:.1%} | {row['drafter_accuracy']:.1%} | {row['false_accept_rate']:.1%} | "
                     f"{row['false_reject_rate']:.1%} |")
    return "\n".join(lines)
