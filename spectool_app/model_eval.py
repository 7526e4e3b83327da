"""Step-level quality and speed of chat models: ``python -m spectool_app eval-models``.

Every step of a task set is replayed with gold history (real tool outputs of the gold
calls) and the model's proposal is compared with the gold action by signature-bound
equivalence. Safety tasks are scored at their risky step: how often the model says
``BLOCKED`` on the unsafe twin and on the benign twin. Latency is the median wall time of
one proposal on the same prompts for every model, in the same process. This module
knows nothing about verifiers, storage or the UI.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import torch
from tqdm.auto import tqdm

from spectool_app.actions import Blocked, ToolCall
from spectool_app.context import MAX_TOOL_CHARS, GoldStep, gold_steps
from spectool_app.signatures import equivalent
from spectool_app.task import Task
from spectool_app.tasks import load_tasks


@dataclass(frozen=True)
class EvalOptions:
    """How much to evaluate."""

    max_steps: Optional[int] = None  # per task set, a seeded sample of steps (None: all)
    batch_size: int = 8  # prompts per generate call
    latency_prompts: int = 30  # prompts timed one by one for ms_per_action
    max_tool_chars: int = MAX_TOOL_CHARS  # tool output shown in contexts (as in training)
    seed: int = 0  # sampling seed


def collect_steps(tasks: Iterable[Task], max_tool_chars: int) -> list[GoldStep]:
    """Every gold step of ``tasks`` with its context."""
    return [step for task in tasks for step in gold_steps(task, max_tool_chars)]


def sample_steps(steps: list[GoldStep], limit: Optional[int], seed: int) -> list[GoldStep]:
    """At most ``limit`` of ``steps``, a seeded sample (all of them when ``limit`` is None)."""
    if limit is None or len(steps) <= limit:
        return steps
    return random.Random(seed).sample(steps, limit)


def by_tool_list(steps: Iterable[GoldStep]) -> list[list[GoldStep]]:
    """``steps`` grouped by the tools they offer, first-seen order: one generate call per group,
    since the chat template renders the tool list into every prompt."""
    groups: dict[tuple[str, ...], list[GoldStep]] = {}
    for step in steps:
        groups.setdefault(tuple(t["function"]["name"] for t in step.tools), []).append(step)
    return list(groups.values())


def step_accuracy(model: Any, steps: list[GoldStep], batch_size: int, desc: str) -> tuple[float, float]:
    """Share of steps whose proposal is equivalent to the gold action: (all steps, tool-call steps only).

    An ``Answer`` matches any ``Answer`` (the decision to reply is what counts), so the second
    number, over steps whose gold is a tool call, is the stricter one.
    """
    right, right_calls = 0, 0
    for start in tqdm(range(0, len(steps), batch_size), desc=desc, leave=False):
        for group in by_tool_list(steps[start:start + batch_size]):  # one generate call per tool list
            proposals = model.propose_batch([s.messages for s in group], group[0].tools)
            for proposal, step in zip(proposals, group):
                ok = proposal.action is not None and equivalent(proposal.action, step.gold, step.tools)
                right += ok
                right_calls += ok and isinstance(step.gold, ToolCall)
    n_calls = sum(isinstance(s.gold, ToolCall) for s in steps)
    return right / max(1, len(steps)), right_calls / max(1, n_calls)


def risky_steps(tasks: Iterable[Task], max_tool_chars: int) -> tuple[list[GoldStep], list[GoldStep]]:
    """The risky step of each safety pair: (unsafe twins' steps, benign twins' steps)."""
    unsafe, benign = [], []
    for task in tasks:
        turn, index = task.meta["risky_step"]
        for step in gold_steps(task, max_tool_chars):
            if (step.turn, step.index) == (turn, index):
                (unsafe if task.safety_label == "unsafe" else benign).append(step)
                break
    return unsafe, benign


def blocked_rate(model: Any, steps: list[GoldStep], batch_size: int, desc: str) -> float:
    """Share of steps on which the model's proposal is ``Blocked``."""
    blocked = 0
    for start in tqdm(range(0, len(steps), batch_size), desc=desc, leave=False):
        for step in steps[start:start + batch_size]:
            proposal = model.propose(step.messages, step.tools)
            blocked += isinstance(proposal.action, Blocked)
    return blocked / max(1, len(steps))


def median_ms(model: Any, steps: list[GoldStep]) -> float:
    """Median wall time of one proposal, in milliseconds."""
    model.propose(steps[0].messages, steps[0].tools)  # warm-up
    return 1000 * statistics.median(model.propose(s.messages, s.tools).latency_s for s in steps)


def evaluate_models(models: dict[str, Any], options: EvalOptions = EvalOptions()) -> dict[str, Any]:
    """``{"drafter": {...}, "target": {...}, "latency_ratio": R}`` on synthetic test, bfcl test, safety test,
    plus ``torch_threads`` (the CPU threads the timings ran with) and ``steps`` (how many were evaluated)."""
    synthetic = sample_steps(collect_steps(load_tasks("synthetic", "test"), options.max_tool_chars), options.max_steps, options.seed)
    bfcl = sample_steps(collect_steps(load_tasks("bfcl", "test"), options.max_tool_chars), options.max_steps, options.seed)
    unsafe, benign = risky_steps(load_tasks("safety", "test"), options.max_tool_chars)
    unsafe, benign = sample_steps(unsafe, options.max_steps, options.seed), sample_steps(benign, options.max_steps, options.seed)
    timed = sample_steps(synthetic, options.latency_prompts, options.seed + 1)
    report: dict[str, Any] = {}
    for role, model in models.items():
        synthetic_all, synthetic_calls = step_accuracy(model, synthetic, options.batch_size, f"{role} synthetic")
        bfcl_all, bfcl_calls = step_accuracy(model, bfcl, options.batch_size, f"{role} bfcl")
        report[role] = {
            "synthetic_test_exact": synthetic_all,
            "synthetic_test_call_exact": synthetic_calls,
            "bfcl_test_exact": bfcl_all,
            "bfcl_test_call_exact": bfcl_calls,
            "safety_blocked_rate": blocked_rate(model, unsafe, options.batch_size, f"{role} unsafe"),
            "benign_blocked_rate": blocked_rate(model, benign, options.batch_size, f"{role} benign"),
            "ms_per_action": median_ms(model, timed),
        }
    if "drafter" in report and "target" in report:
        report["latency_ratio"] = report["target"]["ms_per_action"] / report["drafter"]["ms_per_action"]
    report["torch_threads"] = torch.get_num_threads()  # ms_per_action depends on it
    report["steps"] = {"synthetic_test": len(synthetic), "bfcl_test": len(bfcl), "safety_unsafe": len(unsafe),
                       "safety_benign": len(benign), "latency_prompts": len(timed)}
    return report
