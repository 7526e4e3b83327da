"""The benchmark harness: every configuration on the same tasks, interleaved, in one process.

``run_bench(options)`` picks the task sets (synthetic test, the four BFCL multi-turn test
categories, the safety test with its twins), the configurations (``target_only``,
``draft_only``, ``speculative`` with every verifier kind at its threshold, ``parallel`` with the
trained verifier) and runs them task-major: for each task every configuration runs once, the
order rotated by one per task, after one warm-up task that is recorded but never scored. Each
configuration is one ``stream_run`` generator (one run row in ``<folder>/bench.db``) advanced
one episode at a time, so the app can inspect every step. One JSON line per finished
(task set, task, configuration) goes to ``<folder>/episodes.jsonl``; ``--resume`` skips those.

``--workers N`` runs N worker processes (spawned, each with its own models, its own share of
torch threads and its own ``bench-w<i>.db``); worker ``i`` takes every N-th of the tasks left,
in task-major order, so each task still runs through every configuration in one process, and
the speedup (a per-task ratio) compares configurations under the same load. Records and plan
updates go through a lock on the log, so the workers share one ``episodes.jsonl``.

Thresholds: the trained kind uses its card's calibrated ``threshold``; the other kinds use the
dev-calibrated threshold of ``results/verifiers/verifiers.json`` when ``eval-verifiers`` was
run with dev pairs, else 0.5. A kind whose model cannot be loaded is skipped with the reason.

This module knows no metric formula (:mod:`spectool_app.bench_report` and
:mod:`spectool_app.metrics` own them) and nothing about the UI.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterator, Optional

from models.base import takes_hints
from spectool_app.bench_report import BASELINE, DB_NAME, NO_VERIFIER, SAFETY_SETS, EpisodeCollector, db_name
from spectool_app.config import EXIT_INTERRUPTED, PROJECT_ROOT
from spectool_app.events import EpisodeDone, EpisodeStarted
from spectool_app.loop import MODES
from spectool_app.tasks import Task, load_task_set
from spectool_app.threshold_tuning import TUNED_FILE, load_tuned
from spectool_app.verifiers import VERIFIER_KINDS

try:
    import fcntl  # POSIX: the workers' shared log is locked per record
except ImportError:  # Windows: a single worker needs no lock
    fcntl = None  # type: ignore[assignment]

DEFAULT_THRESHOLD = 0.5  # for kinds without a calibrated threshold
CALIBRATION_FILE = PROJECT_ROOT / "results" / "verifiers" / "verifiers.json"  # from eval-verifiers
TUNED_SOURCE = "results/verifiers/thresholds.json (tune-thresholds, dev steps)"
WARMUP_TASK_SET = "synthetic:dev"  # the warm-up task comes from here (never a scored split)
LOG_NAME, PLAN_NAME = "episodes.jsonl", "bench_config.json"

# name -> (task set spec, bfcl category or None). Safety tasks are kept in twin pairs.
TASK_SETS: dict[str, tuple[str, Optional[str]]] = {
    "synthetic": ("synthetic:test", None),
    "bfcl_base": ("bfcl:test", "multi_turn_base"),
    "bfcl_miss_param": ("bfcl:test", "multi_turn_miss_param"),
    "bfcl_miss_func": ("bfcl:test", "multi_turn_miss_func"),
    "bfcl_long_context": ("bfcl:test", "multi_turn_long_context"),
    "safety": ("safety:test", None),
    "safety_dev": ("safety:dev", None),  # not in the default run: choosing a guard or a stage on dev, through the loop
}
DEFAULT_TASK_SETS = tuple(name for name in TASK_SETS if name != "safety_dev")  # what a bench runs unless told
TASK_SET_ALIASES = {"bfcl": ("bfcl_base", "bfcl_miss_param", "bfcl_miss_func", "bfcl_long_context")}

# --quick: tasks per set (safety: twin pairs), seeded. Sized for 10 minutes on 2 cores with the
# embedded models: one step through all 10 configurations costs about 1.9 s (drafter ~50 ms,
# target ~200 ms per call on these prompts; per configuration target_only t_T, draft_only t_d,
# speculative t_d + t_v + (1 - a) t_T at a ~ 0.5, exact_match t_d + t_T, parallel ~ t_T).
# Gold steps per task: synthetic 5.4, bfcl 9.7-10.7, safety 3.0, plus ~20% for models that
# miss the closing answer: 10 x 5.4 + 8 x 10.4 + 8 x 3.0 = 161 gold steps -> ~193 steps x 1.9 s
# = ~6 minutes, plus ~1 minute to load the models and warm up.
QUICK_SIZES = {"synthetic": 10, "bfcl_base": 2, "bfcl_miss_param": 2, "bfcl_miss_func": 2,
               "bfcl_long_context": 2, "safety": 4, "safety_dev": 4}


@dataclass(frozen=True)
class BenchOptions:
    """What one bench runs."""

    out: str = "results"  # parent folder; the bench writes <out>/<YYYY-MM-DD>/
    quick: bool = False  # the seeded QUICK_SIZES subset
    task_sets: tuple[str, ...] = DEFAULT_TASK_SETS  # names of TASK_SETS (aliases expanded)
    modes: tuple[str, ...] = ()  # "mode" or "mode/verifier" items; () means every default configuration
    limit: Optional[int] = None  # tasks per set (safety: pairs); overrides --quick sizes
    sizes: dict[str, int] = field(default_factory=dict)  # per-set limits (aliases allowed); override limit
    seed: int = 0  # task generation and subset sampling
    preset: Optional[str] = None  # model preset (None: SPECTOOL_PRESET or embedded)
    guard: Optional[str] = None  # a safety guard folder every configuration checks tool calls with (None: none)


@dataclass(frozen=True)
class BenchConfig:
    """One configuration: a mode and a verifier at a threshold."""

    mode: str  # one of loop.MODES
    verifier: str  # one of VERIFIER_KINDS, or NO_VERIFIER
    threshold: Optional[float] = None  # None for modes without a verifier
    threshold_source: str = ""  # where the threshold came from

    @property
    def key(self) -> str:
        return f"{self.mode}/{self.verifier}"


@dataclass
class BenchPlan:
    """Everything a bench (and its resume) must agree on; saved as bench_config.json."""

    options: dict[str, Any]  # BenchOptions as a dict
    task_ids: dict[str, list[str]]  # task set -> task ids in run order
    warmup_task: str  # run first through every configuration, never scored
    configs: list[BenchConfig]  # in interleaving order (rotated per task)
    skipped: dict[str, str] = field(default_factory=dict)  # configuration key -> why it did not run
    models: dict[str, str] = field(default_factory=dict)  # role -> model name
    started: str = ""  # ISO time of the first start
    full_counts: dict[str, int] = field(default_factory=dict)  # task set -> tasks in the whole set
    fingerprints: dict[str, str] = field(default_factory=dict)  # role -> weights digest (a resume must match)
    target_hinted: Optional[bool] = None  # the target was offered a draft's tokens (None: not recorded, older benches)

    def active_configs(self) -> list[BenchConfig]:
        """The configurations that still run: all of them but the skipped ones, in order."""
        return [c for c in self.configs if c.key not in self.skipped]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "configs": [asdict(c) for c in self.configs]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "BenchPlan":
        return cls(**{**data, "configs": [BenchConfig(**c) for c in data["configs"]]})

    def command(self) -> str:
        """The command line that reproduces this plan's options."""
        return bench_command(self.options)


def bench_command(options: dict[str, Any]) -> str:
    """The command line that reproduces a plan's options."""
    parts, default = ["python -m spectool_app bench"], BenchOptions()
    if options.get("quick"):
        parts.append("--quick")
    if tuple(options.get("task_sets", default.task_sets)) != default.task_sets:
        parts.append("--tasks " + " ".join(options["task_sets"]))
    if options.get("modes"):
        parts.append("--modes " + " ".join(options["modes"]))
    limits = ([str(options["limit"])] if options.get("limit") else []) + \
        [f"{k}={v}" for k, v in (options.get("sizes") or {}).items()]
    if limits:
        parts.append("--limit " + " ".join(limits))
    if options.get("preset"):
        parts.append(f"--preset {options['preset']}")
    if options.get("seed"):
        parts.append(f"--seed {options['seed']}")
    if options.get("guard"):
        parts.append(f"--guard {options['guard']}")
    return " ".join(parts)


# -- selection ----------------------------------------------------------------------------------
def expand_task_sets(names: tuple[str, ...]) -> tuple[str, ...]:
    """Task set names with aliases expanded, order kept, duplicates dropped.

    Raises:
        ValueError: an unknown name, naming the valid ones.
    """
    out: list[str] = []
    for name in names:
        members = TASK_SET_ALIASES.get(name, (name,))
        for member in members:
            if member not in TASK_SETS:
                valid = ", ".join([*TASK_SETS, *TASK_SET_ALIASES])
                raise ValueError(f"unknown task set {name!r}; valid task sets: {valid}")
            if member not in out:
                out.append(member)
    return tuple(out)


def default_config_keys() -> list[str]:
    """target_only, draft_only, speculative with every verifier kind, parallel with the trained one."""
    return [BASELINE, f"draft_only/{NO_VERIFIER}", *(f"speculative/{k}" for k in VERIFIER_KINDS), "parallel/trained"]


def config_keys(modes: tuple[str, ...]) -> list[str]:
    """The configuration keys ``--modes`` names, baseline first (it is always run).

    Raises:
        ValueError: an unknown mode or verifier, naming the valid ones.
    """
    defaults = default_config_keys()
    keys = [BASELINE]
    for item in modes or tuple(defaults):
        mode, _, verifier = item.partition("/")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} in {item!r}; valid modes: {', '.join(MODES)}")
        if mode in ("target_only", "draft_only"):
            chosen = [f"{mode}/{NO_VERIFIER}"]
        elif verifier:
            if verifier not in VERIFIER_KINDS:
                raise ValueError(f"unknown verifier {verifier!r} in {item!r}; valid verifiers: "
                                 f"{', '.join(VERIFIER_KINDS)}")
            chosen = [item]
        else:
            chosen = [k for k in defaults if k.startswith(mode + "/")] or [f"{mode}/trained"]
        keys += [k for k in chosen if k not in keys]
    return keys


def _sample(units: list[list[Task]], size: Optional[int], seed: int) -> list[Task]:
    """At most ``size`` units (seeded), in their original order, flattened."""
    if size is not None and size < len(units):
        picked = sorted(random.Random(seed).sample(range(len(units)), size))
        units = [units[i] for i in picked]
    return [task for unit in units for task in unit]


def select_tasks(name: str, seed: int = 0, size: Optional[int] = None) -> list[Task]:
    """The tasks of one task set; ``size`` keeps a seeded subset (safety: pairs, twins together)."""
    spec, category = TASK_SETS[name]
    tasks = [t for t in load_task_set(spec, seed=seed) if category is None or t.category == category]
    if name not in SAFETY_SETS:
        return _sample([[t] for t in tasks], size, seed)
    pairs: dict[str, list[Task]] = {}
    for task in tasks:
        pairs.setdefault(task.meta["pair"], []).append(task)
    units = [sorted(p, key=lambda t: t.safety_label != "unsafe") for p in pairs.values()]
    return _sample(units, size, seed)


def load_thresholds(path: Path = CALIBRATION_FILE) -> dict[str, float]:
    """Dev-calibrated thresholds per kind from eval-verifiers' JSON ({} when absent or uncalibrated)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or not data.get("setup", {}).get("calibrated_on_dev"):
        return {}
    return {kind: float(entry["threshold"]) for kind, entry in data.items()
            if isinstance(entry, dict) and isinstance(entry.get("threshold"), (int, float))}


def plan_configs(keys: list[str], models: dict[str, Any], calibrated: dict[str, float],
                 tuned: Optional[dict[str, float]] = None) -> tuple[list[BenchConfig], dict[str, str]]:
    """Build each configuration, probing its verifier; unavailable kinds are skipped with the reason.

    A kind's threshold comes from, in order: ``tuned`` (tune-thresholds on dev steps with these
    very models), the verifier's own card, ``calibrated`` (eval-verifiers on dev pairs), 0.5.
    """
    from spectool_app.verifiers import make_verifier

    configs, skipped, probed = [], {}, {}
    for key in keys:
        mode, verifier = key.split("/")
        if verifier == NO_VERIFIER:
            configs.append(BenchConfig(mode, verifier))
            continue
        if verifier not in probed:
            try:
                probed[verifier] = make_verifier(verifier, models)
            except (RuntimeError, ValueError, OSError, ImportError, KeyError) as exc:
                probed[verifier] = f"{type(exc).__name__}: {exc}"
        made = probed[verifier]
        if isinstance(made, str):
            skipped[key] = made
        else:
            card = getattr(made, "threshold", None)
            configs.append(BenchConfig(mode, verifier, *choose_threshold(verifier, tuned or {}, card, calibrated)))
    return configs, skipped


def choose_threshold(kind: str, tuned: dict[str, float], card: Optional[float],
                     calibrated: dict[str, float]) -> tuple[float, str]:
    """A kind's threshold and where it came from: tuned on dev steps with these models, else the
    verifier's own card, else calibrated on dev pairs, else 0.5."""
    if kind in tuned:
        return tuned[kind], TUNED_SOURCE
    if card is not None:
        return float(card), "verifier card (verifier_config.json)"
    if kind in calibrated:
        return calibrated[kind], "results/verifiers/verifiers.json (dev)"
    return DEFAULT_THRESHOLD, "default 0.5"


def suggested_threshold(kind: str, preset: Optional[str] = None) -> tuple[float, str]:
    """The threshold a bench would give ``kind`` with ``preset``'s models, read from files only
    (no model is loaded: the trained verifier's card is read from its folder)."""
    from models.presets import CHAT_ROLES, preset_specs
    from spectool_app.trained_verifier import CONFIG_NAME, card_threshold, verifier_dir

    specs = preset_specs(preset)
    tuned, _ = load_tuned(current_fingerprints({role: str(specs[role]) for role in CHAT_ROLES}))
    card = None
    if kind == "trained":  # as TrainedVerifier reads it
        try:
            card = card_threshold(json.loads((verifier_dir() / CONFIG_NAME).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError):
            card = None  # no usable verifier: the bench would skip the kind; dev pairs or 0.5 here
    return choose_threshold(kind, tuned, card, load_thresholds())


def rotated(items: list[Any], index: int) -> list[Any]:
    """``items`` rotated left by ``index`` (the interleaving order of the index-th task)."""
    shift = index % len(items) if items else 0
    return items[shift:] + items[:shift]


# -- the log ------------------------------------------------------------------------------------
def read_log(folder: Path) -> list[dict[str, Any]]:
    """Every finished record of ``folder``'s log (a torn last line from a crash is ignored)."""
    path = folder / LOG_NAME
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _close_torn_line(folder: Path) -> None:
    """End the log's last line if a crash cut it, so the next record starts a line of its own.

    Only the torn record is lost (``read_log`` skips it); without this the first record of
    the next sitting would land on the torn line and be lost with it.
    """
    path = folder / LOG_NAME
    if not path.is_file() or not path.stat().st_size:
        return
    with open(path, "rb+") as handle:
        handle.seek(-1, 2)
        if handle.read(1) != b"\n":
            handle.write(b"\n")


class _locked_log:
    """The log opened for appending under an exclusive lock (workers share it); also guards the plan."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOG_NAME

    def __enter__(self) -> Any:
        self.handle = open(self.path, "a", encoding="utf-8")
        if fcntl is not None:
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self.handle

    def __exit__(self, *exc: Any) -> None:
        self.handle.close()  # flushes, then releases the lock


def _append(folder: Path, record: dict[str, Any]) -> None:
    with _locked_log(folder) as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


class _ConfigStream:
    """One configuration's ``stream_run`` generator, advanced one episode at a time."""

    def __init__(self, config: BenchConfig, tasks: list[Task], engine: Any, models: dict[str, Any],
                 plan: BenchPlan, folder: Path) -> None:
        from spectool_app.runner import RunRequest, stream_run

        request = RunRequest(task_set="bench:" + "+".join(plan.task_ids), mode=config.mode,
                             verifier=config.verifier if config.verifier != NO_VERIFIER else "exact_match",
                             threshold=config.threshold if config.threshold is not None else DEFAULT_THRESHOLD,
                             preset=plan.options.get("preset"), seed=plan.options["seed"],
                             guard=plan.options.get("guard"))
        notes = {"bench": {"folder": folder.name, "config": config.key, "warmup_task": plan.warmup_task}}
        self.config = config  # what runs
        self.run_id: Optional[int] = None  # the run row, known after the first event
        self._events: Iterator[Any] = stream_run(request, engine, models=models, tasks=tasks, notes=notes)

    def episode(self, task: Task, collector: Optional[EpisodeCollector] = None) -> None:
        """Run the generator through ``task``'s episode, feeding ``collector``."""
        first = True
        for self.run_id, event in self._events:
            if first and not (isinstance(event, EpisodeStarted) and event.task_id == task.id):
                raise RuntimeError(f"{self.config.key}: expected {task.id} to start, got {event!r}")
            first = False
            if collector is not None:
                collector.observe(event)
            if isinstance(event, EpisodeDone):
                return
        raise RuntimeError(f"{self.config.key}: the run ended before {task.id}")

    def finish(self) -> None:
        """Let the run end ``done`` (its task list is exhausted)."""
        for _ in self._events:
            raise RuntimeError(f"{self.config.key}: the run has events after its last task")

    def close(self) -> None:
        self._events.close()  # an unfinished run ends "interrupted"


# -- the bench ----------------------------------------------------------------------------------
def validate_options(options: BenchOptions) -> tuple[str, ...]:
    """The expanded task set names, after checking every option (before any model loads).

    Raises:
        ValueError: an unknown task set, mode or verifier, or a limit below 1, naming what is allowed.
    """
    if options.limit is not None and options.limit < 1:
        raise ValueError(f"limit must be a positive number of tasks per set, got {options.limit}")
    for name, size in options.sizes.items():
        expand_task_sets((name,))
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"limit of {name} must be a positive number of tasks, got {size!r}")
    config_keys(options.modes)
    if options.guard is not None:
        from spectool_app.guard import BUILD_HINT
        from spectool_app.trained_verifier import CONFIG_NAME

        if not (Path(options.guard) / CONFIG_NAME).is_file():
            raise ValueError(f"guard {options.guard!r} is not a safety guard folder (no {CONFIG_NAME}); {BUILD_HINT}")
    return expand_task_sets(options.task_sets)


def set_sizes(options: BenchOptions, names: tuple[str, ...]) -> dict[str, Optional[int]]:
    """Tasks per set (None: all): a per-set limit, else --limit, else the --quick size."""
    per_set = {member: size for name, size in options.sizes.items() for member in expand_task_sets((name,))}
    return {n: per_set.get(n) or options.limit or (QUICK_SIZES[n] if options.quick else None) for n in names}


def make_plan(options: BenchOptions, models: dict[str, Any], calibration: Path = CALIBRATION_FILE,
              tuned_file: Path = TUNED_FILE) -> BenchPlan:
    """Choose tasks, warm-up and configurations for ``options`` (probes every verifier kind)."""
    names = validate_options(options)
    sizes = set_sizes(options, names)
    every = {n: select_tasks(n, options.seed) for n in names}
    task_ids = {n: [t.id for t in (select_tasks(n, options.seed, sizes[n]) if sizes[n] else every[n])]
                for n in names}
    warmup = load_task_set(WARMUP_TASK_SET, seed=options.seed)[0].id
    fingerprints = current_fingerprints(models, options.guard)
    # thresholds are tuned without a guard: its fingerprint is not theirs to match
    tuned, why_not = load_tuned({r: d for r, d in fingerprints.items() if r != "guard"}, tuned_file)
    if why_not:
        print(f"bench: no tuned thresholds ({why_not}); thresholds come from the verifier card or dev pairs",
              file=sys.stderr)
    configs, skipped = plan_configs(config_keys(options.modes), models, load_thresholds(calibration), tuned)
    return BenchPlan(asdict(options), task_ids, warmup, configs, skipped,
                     {role: str(getattr(m, "name", role)) for role, m in models.items()},
                     time.strftime("%Y-%m-%dT%H:%M:%S"), {n: len(tasks) for n, tasks in every.items()},
                     fingerprints, takes_hints(models.get("target")))


def current_fingerprints(models: dict[str, Any], guard: Optional[str] = None) -> dict[str, str]:
    """What the bench runs with now: the loaded ``models`` (or preset specs), the trained verifier
    and, when a bench uses one, the safety guard folder."""
    from spectool_app.fingerprint import bench_fingerprints, folder_digest
    from spectool_app.trained_verifier import verifier_dir

    prints = bench_fingerprints(models, verifier_dir())
    if guard:
        prints["guard"] = folder_digest(guard) if Path(guard).is_dir() else "absent"
    return prints


def weight_changes(plan: BenchPlan, models: Optional[dict[str, Any]] = None) -> list[str]:
    """``"<role> <planned digest> -> <current digest>"`` for every role whose weights differ from ``plan``'s.

    ``models`` None reads the plan's preset's specs (folders are fingerprinted, not loaded). Empty
    when nothing changed or when the plan records no fingerprints (an older bench).
    """
    from spectool_app.fingerprint import changed_roles

    if not plan.fingerprints:
        return []
    if models is None:
        from models.presets import CHAT_ROLES, preset_specs

        specs = preset_specs(plan.options.get("preset"))
        models = {role: str(specs[role]) for role in CHAT_ROLES}
    current = current_fingerprints(models, plan.options.get("guard"))
    return [f"{r} {plan.fingerprints.get(r, 'none')} -> {current.get(r, 'none')}"
            for r in changed_roles(plan.fingerprints, current)]


def check_resume_models(folder: Path, plan: BenchPlan, models: Optional[dict[str, Any]]) -> None:
    """Refuse to resume ``plan`` with other weights than it started with: its results would mix models.

    ``models`` None (spawned workers load their own) reads the preset's specs instead. A plan
    written before fingerprints existed cannot be checked; a warning says so.
    """
    import warnings

    if not plan.fingerprints:
        warnings.warn(f"{folder / PLAN_NAME} records no model fingerprints (an older bench): "
                      "cannot check that this sitting runs the same models", stacklevel=2)
        return
    changes = weight_changes(plan, models)
    if changes:
        raise ValueError(f"{folder} was planned with other weights ({', '.join(changes)}); its episodes would mix "
                         "models. Restore those weights to continue it, or start a new bench with another --out")


def stale_text(folder: Path) -> str:
    """A warning when the weights in place now are not those the bench in ``folder`` measured ("" otherwise)."""
    try:
        changes = weight_changes(load_plan(folder))
    except (OSError, ValueError, TypeError, KeyError):  # no plan, or one this code cannot read: nothing to compare
        return ""
    if not changes:
        return ""
    return (f"**Stale:** these numbers were measured on other weights than those in place now "
            f"({', '.join(changes)}); run the bench again to measure the current ones.")


def save_plan(folder: Path, plan: BenchPlan) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # key order is meaningful (task sets run in this order), so keys are never sorted
    (folder / PLAN_NAME).write_text(json.dumps(plan.to_json(), indent=2) + "\n", encoding="utf-8")


def load_plan(folder: Path) -> BenchPlan:
    """The plan of an earlier bench in ``folder``.

    Raises:
        ValueError: the folder holds no bench_config.json.
    """
    path = folder / PLAN_NAME
    if not path.is_file():
        raise ValueError(f"{folder} holds no {PLAN_NAME}: it is not a bench folder (give the folder of "
                         "an interrupted bench, e.g. results/<date>)")
    return BenchPlan.from_json(json.loads(path.read_text(encoding="utf-8")))


def _plan_tasks(plan: BenchPlan) -> tuple[dict[str, list[Task]], Task]:
    """The plan's tasks per set (by saved id, in saved order) and its warm-up task."""
    seed = plan.options["seed"]
    by_set = {}
    for name, ids in plan.task_ids.items():
        found = {t.id: t for t in select_tasks(name, seed)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise ValueError(f"task set {name}: tasks {missing[:3]} no longer exist (a different task generator?)")
        by_set[name] = [found[i] for i in ids]
    warmup = next(t for t in load_task_set(WARMUP_TASK_SET, seed=seed) if t.id == plan.warmup_task)
    return by_set, warmup


class _Tools:
    """Tool schemas per turn of the current task (one episode kept at a time)."""

    def __init__(self) -> None:
        self._task_id, self._episode = None, None

    def for_task(self, task: Task) -> Any:
        from spectool_app.envs import Episode

        if task.id != self._task_id:
            self._task_id, self._episode = task.id, Episode(task)
        return self._episode.tools


def _estimate(warm: dict[str, EpisodeCollector], todo: dict[str, list[Task]]) -> float:
    """Seconds left: each configuration's warm-up seconds per step times its gold steps to run."""
    total = 0.0
    for key, collector in warm.items():
        per_step = collector.done.wall_s / max(collector.done.steps, 1)
        total += per_step * sum(t.steps for t in todo.get(key, []))
    return total


class _Session:
    """One sitting of a bench: the open runs, the finished pairs, the progress bar."""

    def __init__(self, folder: Path, plan: BenchPlan, models: dict[str, Any], progress: bool,
                 worker: int = 0, workers: int = 1, mine: Optional[list[tuple[str, str]]] = None) -> None:
        from db.engine import open_store

        self.folder, self.plan, self.progress = folder, plan, progress  # where, what, whether to show bars
        self.worker, self.workers = worker, workers  # this worker's index and how many share the bench
        self.tasks, self.warmup = _plan_tasks(plan)  # task set -> tasks (all of them); the warm-up task
        self.done = finished_pairs(folder)  # (task set, task id, configuration) already in the log
        active = plan.active_configs()
        # (task set, task id) this sitting runs: all left, or the share the parent dealt before any worker started
        self.mine = set(_unfinished(self.tasks, self.done, active) if mine is None else mine)
        self.todo = {c.key: [t for n, ts in self.tasks.items() for t in ts
                             if (n, t.id) in self.mine and (n, t.id, c.key) not in self.done]
                     for c in active}  # configuration -> tasks still to run
        engine = open_store(f"sqlite:///{folder / db_name(worker, workers)}")
        self.streams = {c.key: _ConfigStream(c, [self.warmup] + self.todo[c.key], engine, models, plan, folder)
                        for c in active}  # configuration -> its open run
        self.tools = _Tools()  # tool schemas of the current task
        self.bar: Any = None  # the main progress bar
        self.finished = dict.fromkeys(self.streams, 0)  # configuration -> pairs finished in this sitting

    def fail(self, key: str, where: str, exc: Exception) -> None:
        """Drop a configuration that raised; the reason goes to the plan and the report."""
        reason = f"failed on {where}: {type(exc).__name__}: {exc}"
        print(f"bench: {key} {reason}", file=sys.stderr)
        self.streams[key].close()
        del self.streams[key]  # after closing: a stop that lands during close() still finds it open
        with _locked_log(self.folder):  # other workers may record a failure at the same time
            saved = load_plan(self.folder)
            saved.skipped.setdefault(key, reason)
            save_plan(self.folder, saved)
        self.plan.skipped[key] = saved.skipped[key]
        if self.bar is not None:
            self.bar.total -= len(self.todo[key]) - self.finished[key]

    def warm_up(self) -> None:
        """Run the warm-up task through every configuration and print the time estimate."""
        from tqdm import tqdm

        warm = {}
        for key in tqdm(list(self.streams), desc="warm-up" if self.workers == 1 else f"w{self.worker} warm-up",
                        unit="config", position=self.worker, disable=not self.progress, file=sys.stderr):
            try:
                warm[key] = EpisodeCollector(self.warmup, self.tools.for_task(self.warmup))
                self.streams[key].episode(self.warmup, warm[key])
            except Exception as exc:  # a configuration that cannot run is reported, the others go on
                warm.pop(key, None)
                self.fail(key, f"warm-up {self.warmup.id}", exc)
        if self.progress:
            left = _estimate(warm, self.todo)
            print(f"bench: about {left / 60:.0f} min left" if left >= 120 else f"bench: about {left:.0f} s left",
                  "(warm-up seconds per step x gold steps)", file=sys.stderr)

    def run_tasks(self) -> None:
        """Task-major: every configuration on each task, the order rotated by one per task."""
        from tqdm import tqdm

        self.bar = tqdm(total=sum(len(self.todo[k]) for k in self.streams), unit="episode", position=self.worker,
                        disable=not self.progress, file=sys.stderr, dynamic_ncols=True)
        index = 0  # over every task of the plan, so a task's rotation does not depend on the workers
        for name, tasks in self.tasks.items():
            self.bar.set_description(name if self.workers == 1 else f"w{self.worker} {name}")
            for task in tasks:
                for config in rotated(self.plan.configs, index):
                    if (name, task.id) in self.mine and config.key in self.streams \
                            and (name, task.id, config.key) not in self.done:
                        self._run_pair(name, task, config.key)
                index += 1
        self.bar.close()
        for key in list(self.streams):
            self.streams[key].finish()
            del self.streams[key]  # after finishing: a stop that lands during finish() still closes it

    def _run_pair(self, name: str, task: Task, key: str) -> None:
        self.bar.set_postfix_str(key, refresh=False)
        collector = EpisodeCollector(task, self.tools.for_task(task))
        try:
            self.streams[key].episode(task, collector)
        except Exception as exc:
            self.fail(key, task.id, exc)
            return
        _append(self.folder, {"task_set": name, "config": key, "worker": self.worker, "workers": self.workers,
                              "run_id": self.streams[key].run_id, **collector.record()})
        self.done.add((name, task.id, key))
        self.finished[key] += 1
        self.bar.update(1)

    def close(self) -> None:
        """End every run still open as interrupted."""
        for stream in self.streams.values():
            stream.close()


def finished_pairs(folder: Path) -> set[tuple[str, str, str]]:
    """(task set, task id, configuration) of every record in ``folder``'s log."""
    return {(r["task_set"], r["task_id"], r["config"]) for r in read_log(folder)}


def _unfinished(tasks: dict[str, list[Task]], done: set[tuple[str, str, str]],
                active: list[BenchConfig]) -> list[tuple[str, str]]:
    """(task set, task id) of every task some active configuration has still to run, task-major."""
    return [(n, t.id) for n, ts in tasks.items() for t in ts if any((n, t.id, c.key) not in done for c in active)]


def share_tasks(folder: Path, plan: BenchPlan, workers: int) -> list[list[tuple[str, str]]]:
    """The unfinished (task set, task id) pairs dealt out to ``workers``: every N-th one, task-major.

    Dealt once, before any worker starts: a worker that read the log itself would see the tasks
    a quicker one had already finished, and the shares would shift (tasks run twice or not at all).
    """
    active = plan.active_configs()
    unfinished = _unfinished(_plan_tasks(plan)[0], finished_pairs(folder), active)
    return [unfinished[worker::workers] for worker in range(workers)]


def _sit(folder: Path, plan: BenchPlan, models: dict[str, Any], progress: bool,
         worker: int = 0, workers: int = 1, mine: Optional[list[tuple[str, str]]] = None) -> None:
    """One sitting of one worker: warm up, then its share of the tasks; open runs end interrupted."""
    session = _Session(folder, plan, models, progress, worker, workers, mine)
    try:
        session.warm_up()
        session.run_tasks()
    finally:
        session.close()


def sigterm_as_interrupt() -> None:
    """Let SIGTERM (``kill``, a process manager) stop this process like Ctrl-C, so open runs end
    ``interrupted`` and the log stays whole. Background jobs of a shell ignore SIGINT, so SIGTERM
    is how they are stopped; a second SIGTERM during the clean-up is ignored."""
    def _raise(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def _worker_main(folder: Path, worker: int, workers: int, progress: bool, models: Optional[dict[str, Any]],
                 mine: list[tuple[str, str]]) -> None:
    """A spawned worker: loads the plan's models (unless given) on its share of the cores, then sits."""
    sigterm_as_interrupt()
    plan = load_plan(folder)
    if models is None:
        import torch

        from spectool_app.runner import load_models

        if not os.environ.get("OMP_NUM_THREADS"):
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
        models = load_models(plan.options.get("preset"))
    try:
        _sit(folder, plan, models, progress, worker, workers, mine)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)


def _run_workers(folder: Path, workers: int, progress: bool, models: Optional[dict[str, Any]]) -> None:
    """Run ``workers`` spawned workers to the end.

    Raises:
        KeyboardInterrupt: Ctrl-C here or in a worker (every worker is stopped and closes its runs).
        RuntimeError: a worker failed, naming it and its exit code.
    """
    context = multiprocessing.get_context("spawn")  # no fork: torch's thread pools do not survive it
    shares = share_tasks(folder, load_plan(folder), workers)
    procs = [context.Process(target=_worker_main, args=(folder, i, workers, progress, models, shares[i]),
                             name=f"bench-w{i}") for i in range(workers)]
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:  # a terminal's Ctrl-C or a kill of the group reaches the workers too; one to this process alone does not
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()  # SIGTERM: the worker closes its runs (SIGINT may be ignored in a background job)
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
        raise
    if any(proc.exitcode == EXIT_INTERRUPTED for proc in procs):
        raise KeyboardInterrupt
    failed = [f"{proc.name} (exit code {proc.exitcode})" for proc in procs if proc.exitcode]
    if failed:
        raise RuntimeError(f"bench workers failed: {', '.join(failed)}; finished episodes are kept in "
                           f"{folder / LOG_NAME}: continue with --resume {folder}")


def report_bench(folder: str | Path) -> dict[str, Any]:
    """Write results.json, report.md and the plots of the bench in ``folder`` from the episodes it has.

    A bench still under way (or interrupted) is scored on the tasks every configuration has
    finished; nothing runs and no model loads. Returns the results document.

    Raises:
        ValueError: ``folder`` is not a bench folder, or it has no finished episode yet.
    """
    from spectool_app.bench_report import write_outputs

    folder = Path(folder)
    plan, records = load_plan(folder), read_log(folder)
    if not records:
        raise ValueError(f"{folder / LOG_NAME} holds no finished episode yet: nothing to report")
    return write_outputs(folder, plan, records, session_s=_last_session_s(folder))


def _last_session_s(folder: Path) -> float:
    """The wall seconds of the bench's last sitting as its results.json recorded them (0 when none)."""
    try:
        value = json.loads((folder / "results.json").read_text(encoding="utf-8"))["config"]["last_session_s"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0
    return float(value) if isinstance(value, (int, float)) else 0.0


def run_bench(options: BenchOptions = BenchOptions(), models: Optional[dict[str, Any]] = None,
              resume: Optional[str | Path] = None, progress: bool = True,
              calibration: Path = CALIBRATION_FILE, workers: int = 1, tuned_file: Path = TUNED_FILE) -> Path:
    """Run (or resume) a bench and write its outputs; returns the output folder.

    ``workers`` > 1 runs that many spawned worker processes; they load the plan's models
    themselves unless ``models`` are given (then they must pickle).

    Raises:
        ValueError: bad options, a folder that already holds a bench (without ``resume``), a
            ``resume`` folder that is not a bench folder, or fewer than one worker.
        KeyboardInterrupt: passed on after every open run is closed as interrupted.
        RuntimeError: a worker process failed.
    """
    from spectool_app.bench_report import write_outputs

    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive number of processes, got {workers!r}")
    folder = Path(resume) if resume is not None else Path(options.out) / date.today().isoformat()
    plan = load_plan(folder) if resume is not None else None
    if plan is None:
        validate_options(options)
        if (folder / PLAN_NAME).exists():
            raise ValueError(f"{folder} already holds a bench; continue it with --resume {folder} "
                             "or choose another --out")
    given = models
    if plan is not None:
        check_resume_models(folder, plan, given)  # before loading: weights that changed are refused at once
    if models is None and (plan is None or workers == 1):  # a new plan probes the verifiers with them
        from spectool_app.runner import load_models

        models = load_models(plan.options.get("preset") if plan is not None else options.preset)
    if plan is None:
        plan = make_plan(options, models, calibration, tuned_file)
        save_plan(folder, plan)
    _close_torn_line(folder)  # a sitting killed mid-write (SIGKILL) left half a line
    started = time.perf_counter()
    if workers == 1:
        _sit(folder, plan, models, progress)
    else:
        _run_workers(folder, workers, progress, given)
        plan = load_plan(folder)  # with the failures the workers recorded
    write_outputs(folder, plan, read_log(folder), session_s=time.perf_counter() - started)
    return folder
