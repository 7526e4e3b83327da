"""Synthetic multi-turn tasks over the eight bfcl back-ends, generated from a seed.

Each task involves one or two back-ends and has 1-3 user turns; each turn is one intent
(see ``synthetic_intents``) phrased with a template of its split and filled with slot
values of its split (see ``slot_values``), so test and dev tasks use phrasings and
values never seen in training. The gold of a turn is its tool calls, then one closing
``Answer``. Every gold call is executed, turn by turn, on a fresh ``Episode``: each must
succeed and the whole task must pass ``Episode.check()``; a task that does not is a bug
of the generator and raises ``GenerationError`` (nothing is dropped silently).

Task ids are ``synthetic:<split>-<n>``; ``category`` is the first turn's intent. ``meta``
holds ``intent``, ``phrasing`` and ``backend`` of the first turn; ``intents``,
``phrasings``, ``backends`` and ``slots`` (the values filled into the request) per turn;
and ``values``, every split-owned value the task uses (requests and configuration).
Generation is deterministic for a (split, seed) and cached; the returned tasks are
shared between callers and must not be mutated.

This module knows nothing about models, drafts or storage; what the back-ends accept is
only learned by running them.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import json
import random
import re
from typing import Any

from spectool_app.actions import Answer, ToolCall
from spectool_app.envs import Episode
from spectool_app.task import SPLITS, Task, TaskError
from spectool_app.tasks.slot_values import Plan, Pool
from spectool_app.tasks.synthetic_intents import (
    BACKENDS,
    DEFAULTS,
    FINISHERS,
    INTENTS,
    Intent,
    Slots,
)

SOURCE = "synthetic"
SIZES = {"train": 20_000, "dev": 1_000, "test": 1_000}  # minimum gold steps per split
TURN_COUNTS = (1, 2, 2, 3, 3)  # drawn uniformly: 1-3 user turns per task
SECOND_BACKEND = 0.4  # chance that a task involves a second back-end
CONNECTORS = ("", "", "", "Thanks. ", "Great, thanks. ", "OK, next one. ", "One more thing. ",
              "Perfect. ")  # put before the request of a later turn


_DOUBLE_STOP = re.compile(r"([.!?])(['\"]?)\.")


class GenerationError(RuntimeError):
    """A generated task whose gold does not run or does not pass the check (a generator bug)."""


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")


def load_tasks(split: str | None = None, seed: int = 0) -> list[Task]:
    """The synthetic tasks of ``split`` (all splits when None), at the default sizes.

    Raises:
        TaskError: unknown split, naming the valid ones.
    """
    if split is None:
        return [task for name in SPLITS for task in load_tasks(name, seed)]
    _check_split(split)
    return generate(split, seed, SIZES[split])


def generate(split: str, seed: int = 0, n_steps_min: int | None = None, cache: bool = True) -> list[Task]:
    """Generate tasks of ``split`` until they hold at least ``n_steps_min`` gold steps.

    Args:
        split: "train", "dev" or "test" (selects phrasings and slot values).
        seed: random seed; the same (split, seed, n_steps_min) gives the same tasks.
        n_steps_min: minimum total of gold actions (closing answers included);
            defaults to ``SIZES[split]``.
        cache: keep the result for later calls; a training stream that draws a new seed
            per pass passes False so memory stays flat.

    Raises:
        TaskError: unknown split. ValueError: ``n_steps_min`` is negative.
        GenerationError: a generated task fails its own gold (a generator bug).
    """
    _check_split(split)
    if n_steps_min is None:
        n_steps_min = SIZES[split]
    if not isinstance(n_steps_min, int) or n_steps_min < 0:
        raise ValueError(f"n_steps_min must be a non-negative integer, got {n_steps_min!r}")
    make = _generate if cache else _generate.__wrapped__
    return list(make(split, int(seed), n_steps_min))


@functools.lru_cache(maxsize=32)
def _generate(split: str, seed: int, n_steps_min: int) -> tuple[Task, ...]:
    rng = random.Random(f"{SOURCE}/{split}/{seed}")
    pool = Pool(rng, split)
    tasks: list[Task] = []
    steps = 0
    while steps < n_steps_min:
        task = _make_task(rng, pool, split, len(tasks))
        tasks.append(task)
        steps += task.steps
    return tuple(tasks)


Choice = tuple[Intent, int, Slots]  # an intent, its phrasing index, its slots


def _plan(rng: random.Random, pool: Pool, split: str) -> tuple[Plan, list[Choice]]:
    """Choose back-ends and one fitting intent per turn; fills the plan's configuration."""
    pool.reset()
    plan = Plan(pool, DEFAULTS)
    backends = [rng.choice(BACKENDS)]
    if rng.random() < SECOND_BACKEND:
        backends.append(rng.choice([b for b in BACKENDS if b != backends[0]]))
    for backend in backends:
        plan.state(backend)
    chosen: list[Choice] = []
    for turn in range(rng.choice(TURN_COUNTS)):
        allowed = backends if turn else backends[:1]
        used = {c[0].name for c in chosen}
        candidates = [i for i in INTENTS if i.backend in allowed and i.name not in used]
        rng.shuffle(candidates)
        for candidate in candidates:
            saved = plan.checkpoint()
            slots = candidate.prepare(plan)
            if slots is not None:
                chosen.append((candidate, rng.randrange(len(candidate.phrasings(split))), slots))
                break
            plan.restore(saved)
        else:
            if turn == 0:
                raise GenerationError(f"no intent of {backends[0]} fits a fresh plan")
            break
    for backend in plan.classes:
        if backend in FINISHERS:
            FINISHERS[backend](plan)
    return plan, chosen


def tidy(text: str) -> str:
    """Drop a full stop that follows a value's own final punctuation (``'Done.'.``)."""
    return _DOUBLE_STOP.sub(r"\1\2", text)


def _decode(content: str) -> Any:
    """A tool result's text back as a value (JSON, else a Python literal, else the text)."""
    try:
        return json.loads(content)
    except ValueError:
        pass
    try:
        return ast.literal_eval(content)
    except (ValueError, SyntaxError):
        return content


def _run_turn(episode: Episode, intent: Intent, slots: Slots, where: str) -> list[ToolCall]:
    """Execute the intent's script on ``episode``; returns the calls it made."""
    script = intent.script(slots)
    is_generator = inspect.isgenerator(script)
    calls: list[ToolCall] = []
    result: Any = None
    while True:
        try:
            call = script.send(result) if is_generator else next(script)
        except StopIteration:
            return calls
        outcome = episode.execute(call)
        if not outcome.ok:
            raise GenerationError(
                f"{where}: {intent.name} gold call {call} failed: {outcome.error}")
        calls.append(call)
        result = _decode(outcome.content)


def _make_task(rng: random.Random, pool: Pool, split: str, index: int) -> Task:
    """Plan, phrase, execute and check one task."""
    plan, chosen = _plan(rng, pool, split)
    turns = []
    for turn, (intent, phrasing, slots) in enumerate(chosen):
        text = tidy(intent.phrasings(split)[phrasing].format(**slots))
        turns.append((rng.choice(CONNECTORS) if turn else "") + text)
    task = Task(
        id=f"{SOURCE}:{split}-{index}", source=SOURCE, split=split, turns=turns,
        involved_classes=list(plan.classes), initial_config=plan.config,
        gold=[[] for _ in turns], category=chosen[0][0].name,
        meta={"intent": chosen[0][0].name, "phrasing": chosen[0][1],
              "backend": chosen[0][0].backend,
              "intents": [c[0].name for c in chosen], "phrasings": [c[1] for c in chosen],
              "backends": [c[0].backend for c in chosen], "values": list(pool.values),
              "slots": [copy.deepcopy(c[2]) for c in chosen]})
    episode = Episode(task)
    gold = []
    for turn, (intent, _, slots) in enumerate(chosen):
        episode.begin_turn(turn)
        calls = _run_turn(episode, intent, slots, f"{task.id} turn {turn}")
        gold.append([*calls, Answer(tidy(intent.answer.format(**slots)))])
    task.gold = gold
    verdict = episode.check()
    if not verdict.passed:
        raise GenerationError(f"{task.id} fails its own gold at turn {verdict.turn}: "
                              f"{verdict.error_type}: {verdict.message}")
    return task
