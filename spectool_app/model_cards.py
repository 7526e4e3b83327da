"""Model cards for the embedded checkpoints, written from their training record and an evaluation.

``models/embedded/<role>/README.md`` is generated, never hand-edited: every number in it comes
from ``training.json`` (written by train-defaults) or from the ``eval-models`` report passed in,
and the card names the command that produced it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.presets import EMBEDDED_DIR

METRIC_NAMES = {
    "synthetic_test_exact": "exact action match, synthetic test (held-out phrasings and values)",
    "synthetic_test_call_exact": "exact match on tool-call steps only, synthetic test",
    "bfcl_test_exact": "exact action match, BFCL multi-turn test ids",
    "bfcl_test_call_exact": "exact match on tool-call steps only, BFCL test ids",
    "safety_blocked_rate": "BLOCKED on the unsafe step of safety test tasks",
    "benign_blocked_rate": "BLOCKED on the same step of their benign twins",
    "ms_per_action": "median ms per action (CPU, same prompts for both models)",
}


def threads_text(report: dict[str, Any]) -> str:
    """`` (torch CPU threads: N)`` when the report says how many threads its timings ran with."""
    threads = report.get("torch_threads")
    return f" (torch CPU threads: {threads})" if threads else ""


def _growth(progress: dict[str, Any]) -> str:
    """A sentence on the model this one was grown from, when it was."""
    grown = progress.get("grown_from")
    if not grown:
        return ""
    source = grown["progress"]
    return (f"\nIt began as the trained {grown['role']} ({grown['layers']} layers, {source['step']} steps, "
            f"{source['tokens']} tokens, {source['elapsed_s'] / 60:.1f} minutes) grown in depth: each of its layers "
            "followed by copies whose output projections start at zero, so the grown model first computes exactly "
            "what the source does; the training below then fills the new layers in.")


def _taken(progress: dict[str, Any]) -> str:
    """A sentence on the model whose layers this one is, when it is."""
    taken = progress.get("taken_from")
    if not taken:
        return ""
    source = taken["progress"]
    own = ("It has had no training of its own since." if progress["step"] == 0
           else "The training below is its own, after that.")
    return (f"\nIt is {len(taken['layers'])} of the trained {taken['role']}'s {taken['of_layers']} layers "
            f"({', '.join(map(str, taken['layers']))}) with the {taken['role']}'s embeddings and final norm, the "
            f"others skipped: a layer-skip drafter that carries what the {taken['role']} learnt ({source['step']} "
            f"steps, {source['tokens']} tokens, {source['elapsed_s'] / 60:.1f} minutes). " + _placed(taken) + own)


def _placed(taken: dict[str, Any]) -> str:
    """Why these layers, when the source was grown from an earlier model (``grow_depth``)."""
    grown = taken["progress"].get("grown_from")
    if not grown:
        return ""
    return (f"The {taken['role']} was grown from an earlier {grown['role']}, and these layers sit where that "
            f"{grown['role']}'s own layers were placed. ")


def _training(progress: dict[str, Any], training: dict[str, Any]) -> str:
    """The training line: steps, data, time and phases (none for layers taken and not trained since)."""
    if progress.get("taken_from") and progress["step"] == 0:
        return "- Training of its own: none (taken as it is)."
    return f"""- Training: {progress['step']} optimiser steps, {progress['sequences']} conversations, {progress['tokens']} tokens,
  {progress['elapsed_s'] / 60:.1f} minutes (torch {training['torch']} for the last run); final batch loss {progress['loss']:.3f}.
  Phases, each with a fresh optimiser and its own warm-up and cosine schedule: {_phases(progress, training['device'])}."""


def _phases(progress: dict[str, Any], device: str) -> str:
    """Where the training time went: minutes and tokens of each phase, in order."""
    phases = progress.get("phases") or [{"device": device, "from_elapsed_s": 0.0, "from_tokens": 0}]
    ends = [(p["from_elapsed_s"], p["from_tokens"]) for p in phases[1:]] + [(progress["elapsed_s"], progress["tokens"])]
    parts = []
    for phase, (end_s, end_tokens) in zip(phases, ends):
        text = f"{(end_s - phase['from_elapsed_s']) / 60:.1f} minutes on {phase['device']} ({end_tokens - phase['from_tokens']} tokens"
        if "learning_rate" in phase:
            text += f", peak learning rate {phase['learning_rate']:g}, {phase['tokens_per_batch']} tokens per batch"
        if "safety_share" in phase:  # recorded since --decision-weight exists
            text += (f", {phase['safety_share']:g} of the conversations from safety templates, reply-first-token "
                     f"weight {phase['decision_weight']:g}")
        if phase.get("paired_twins"):
            text += ", safety twins side by side in one batch"
        if phase.get("safety_mix"):
            text += ", safety families " + ", ".join(f"{f} x{w}" for f, w in phase["safety_mix"].items())
        for resumed in phase.get("resumed", []):
            text += (f"; resumed at step {resumed['at_step']} with peak {resumed['learning_rate']:g} "
                     f"and a {resumed['budget_minutes']:g}-minute budget")
        parts.append(text + ")")
    return ", then ".join(parts)


def card_text(role: str, training: dict[str, Any], report: dict[str, Any], command: str) -> str:
    """The markdown card of one role."""
    progress, shape = training["progress"], training["shape"]
    metrics = report.get(role, {})
    rows = "\n".join(
        f"| {METRIC_NAMES[k]} | {metrics[k]:.1f} |" if k == "ms_per_action" else f"| {METRIC_NAMES[k]} | {100 * metrics[k]:.1f}% |"
        for k in METRIC_NAMES if k in metrics
    )
    steps = report.get("steps", {})
    return f"""# SpecTool embedded {role}

A `Qwen3ForCausalLM` trained from scratch by `python -m spectool_app train-defaults`
(this file is generated by `{command}`; do not edit by hand).{_growth(progress)}{_taken(progress)}

- Shape: hidden {shape['hidden']}, {shape['layers']} layers, {shape['heads']} heads ({shape['kv_heads']} KV),
  MLP {shape['intermediate']}; {training['parameters'] / 1e6:.1f}M parameters; weights stored as bfloat16 safetensors.
- Tokenizer: byte-level BPE trained locally; letter runs, digit runs and other characters are split
  apart first so values copy cleanly; the chat template speaks Qwen3's tool format and lists tool names only.
- Data: whole gold conversations (loss on assistant replies) from the synthetic train split, a fresh
  generator seed per pass, plus the safety training templates (never the safety dev/test tasks); no BFCL data.
{_training(progress, training)}

## Held-out results

| metric | value |
|---|---|
{rows}

Steps evaluated: {json.dumps(steps)}. Target/drafter latency ratio: {report.get('latency_ratio', float('nan')):.2f}{threads_text(report)}.

## Limits

Trained only on SpecTool's synthetic tool-use conversations over the eight BFCL back-ends: it is
not a general assistant, and BFCL's own tasks (long, free-form requests) are far outside its data.
Training time is the limit: `python -m spectool_app train-defaults --{role}-minutes N`
continues from these weights (N is the total budget, minutes already spent included{_growth_budget(progress)}).
"""


def _growth_budget(progress: dict[str, Any]) -> str:
    source = progress.get("grown_from") or progress.get("taken_from")
    return f"; the {source['role']}'s minutes are not counted" if source else ""


def write_model_cards(report: dict[str, Any], command: str, root: Path = EMBEDDED_DIR) -> list[Path]:
    """Write ``README.md`` next to each embedded checkpoint that has a ``training.json``."""
    written = []
    for role in ("drafter", "target"):
        record = root / role / "training.json"
        if role in report and record.is_file():
            path = root / role / "README.md"
            path.write_text(card_text(role, json.loads(record.read_text()), report, command), encoding="utf-8")
            written.append(path)
    return written
