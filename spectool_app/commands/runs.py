"""``run``, ``runs list|show``, ``export``, ``replay`` and ``bench-recorder``: record runs and read them back.

``run`` checks everything the user typed (task set or ids, mode, verifier, preset, threshold)
and that the database accepts writes before any run row exists, then streams the run through
``spectool_app.runner.stream_run`` under a progress bar and closes with the summary of
``RunStats``. Ctrl-C leaves the run ``interrupted`` (exit code 130). Heavy modules (torch, the
loop) are imported inside the handlers, so other commands start fast.

This module knows no metric formula (``RunStats`` and ``db.queries`` own them) and no storage
detail beyond the engine helpers of ``db.engine``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Optional

from spectool_app.config import EXIT_INTERRUPTED

RECORDER_LIMIT_PCT = 2.0  # the recorder may add at most this share to a step


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ms(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{1000 * value:.1f} ms"


def _read_engine(url: Optional[str]) -> Any:
    """An engine for reading: tables ensured; stale runs marked interrupted when the store is writable."""
    from db.engine import StoreError, init_db, make_engine, mark_stale_runs_interrupted

    engine = make_engine(url)
    init_db(engine)
    try:
        mark_stale_runs_interrupted(engine)
    except StoreError:
        pass  # a read-only store: statuses are shown as recorded
    return engine


# -- run ------------------------------------------------------------------------------------------
def _postfix(stats: Any) -> dict[str, str]:
    summary = stats.summary()
    return {"steps": str(summary["steps"]), "accept": _pct(summary["acceptance_rate"]),
            "pass": _pct(summary["pass_rate"])}


def _consume(events: Iterator[Any], total: int, stats: Any, show: bool) -> tuple[Optional[int], str]:
    """Drain ``stream_run`` under a tqdm bar; returns (run id, "done" or "interrupted")."""
    from tqdm import tqdm

    from spectool_app.events import EpisodeDone, StepDone

    run_id, status = None, "done"
    bar = tqdm(total=total, unit="task", desc="run", file=sys.stderr, disable=not show, dynamic_ncols=True)
    try:
        for run_id, event in events:
            if isinstance(event, StepDone):
                bar.set_postfix(_postfix(stats), refresh=False)
            elif isinstance(event, EpisodeDone):
                bar.set_description(f"run {run_id}", refresh=False)
                bar.set_postfix(_postfix(stats), refresh=False)
                bar.update(1)
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        events.close()  # an interrupt outside the generator still finishes the run as interrupted
        bar.close()
    return run_id, status


def run_summary_text(run_id: Optional[int], status: str, request: Any, stats: Any) -> str:
    """The closing summary of ``run``: pass rate, acceptance, false accepts, target calls saved, bound."""
    s = stats.summary()
    means = s["stage_means_s"]
    label = "run" if run_id is None else f"run {run_id}"  # None: stopped before its first event
    head = f"{label} {status}: {s['episodes']} episodes, {s['steps']} steps, {s['wall_s']:.1f} s"
    what = f"{request.task_set if not request.task_ids else ','.join(request.task_ids)}, mode {request.mode}"
    if request.mode not in ("target_only", "draft_only"):
        at = "its calibrated threshold" if request.threshold is None else f"{request.threshold:.2f}"
        what += f", verifier {request.verifier} at {at}"
    false_accepts = ("n/a (no gold known)" if not stats.wrong_drafts else
                     f"{_pct(s['false_accept_rate'])} ({stats.false_accepts} of {stats.wrong_drafts} "
                     "wrong drafts accepted)")
    bound = "n/a" if s["speedup_bound"] is None else f"{s['speedup_bound']:.2f}x"
    return "\n".join([
        f"{head} ({what})",
        f"  pass rate           {_pct(s['pass_rate'])} ({stats.passed} of {s['episodes']} episodes)",
        f"  acceptance          {_pct(s['acceptance_rate'])} ({stats.accepted} of {s['steps']} steps ran the draft)",
        f"  false accepts       {false_accepts}",
        f"  target calls saved  {_pct(s['target_call_savings'])} ({stats.target_calls} target calls "
        f"for {s['steps']} steps)",
        f"  speedup bound       {bound} (t_draft {_ms(means.get('draft'))}, t_verify {_ms(means.get('verify'))}, "
        f"t_target {_ms(s['target_latency_s'])} per call)",
    ])


def _cmd_run(args: argparse.Namespace) -> int:
    from db.engine import open_store
    from models.presets import preset_name
    from spectool_app.metrics import RunStats
    from spectool_app.runner import RunRequest, load_models, select_tasks, stream_run

    request = RunRequest(task_set=args.tasks, mode=args.mode, verifier=args.verifier, threshold=args.threshold,
                         preset=preset_name(args.preset), limit=args.limit, task_ids=tuple(args.task or ()),
                         seed=args.seed, guard=args.guard)
    request.validate()
    tasks = select_tasks(request)  # unknown source, split or task id: TaskError (exit 2)
    engine = open_store(args.db)  # locked, read-only or unreachable: StoreError (exit 1), no run row
    try:
        models = load_models(request.preset)
        stats = RunStats()
        events = stream_run(request, engine, models=models, stats=stats)
        run_id, status = _consume(events, len(tasks), stats, show=not args.no_progress)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({"run_id": run_id, "status": status, **stats.summary(),
                          "false_accepts": stats.false_accepts, "target_calls": stats.target_calls},
                         sort_keys=True))
    else:
        print(run_summary_text(run_id, status, request, stats))
    return 0 if status == "done" else EXIT_INTERRUPTED


def add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="run a task set through the loop and record every step")
    run.add_argument("--tasks", default="synthetic:test", help="task set source[:split] (default synthetic:test)")
    run.add_argument("--task", action="append", metavar="ID", help="run this task id (repeatable; overrides --tasks)")
    run.add_argument("--mode", default="speculative", help="target_only, draft_only, speculative, parallel, shadow")
    run.add_argument("--verifier", default="exact_match", help="verifier kind (default exact_match)")
    run.add_argument("--threshold", type=float, help="verifier acceptance threshold in [0, 1] "
                     "(default: the verifier's calibrated threshold, else 0.5)")
    run.add_argument("--preset", help="model preset (default: SPECTOOL_PRESET or embedded)")
    run.add_argument("--limit", type=int, help="run only the first N tasks of the set")
    run.add_argument("--seed", type=int, default=0, help="task generation seed")
    run.add_argument("--guard", nargs="?", const="models/guard", metavar="DIR",
                     help="check every tool call with the safety guard in DIR (default models/guard) before it runs")
    run.add_argument("--db", help="database URL (default: SPECTOOL_DB_URL or the data folder's SQLite file)")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.set_defaults(handler=_cmd_run)


# -- runs list / show -----------------------------------------------------------------------------
def _when(iso_text: Optional[str]) -> str:
    return "" if not iso_text else iso_text.replace("T", " ")[:19]


def _cmd_runs(args: argparse.Namespace) -> int:
    from db import queries

    engine = _read_engine(args.db)
    try:
        if args.runs_command == "list":
            rows = queries.list_runs(engine, mode=args.mode, status=args.status, limit=args.limit)
            print(json.dumps(rows, sort_keys=True) if args.json else _runs_table(rows))
            return 0
        summary = queries.run_summary(engine, args.run_id)
        episodes = queries.run_episodes(engine, args.run_id)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({"run": summary, "episodes": episodes}, sort_keys=True))
    else:
        print(_show_text(summary, episodes))
    return 0


def _runs_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs recorded yet; start one with `python -m spectool_app run`"
    header = f"{'id':>5}  {'created (UTC)':19}  {'status':11}  {'mode':11}  {'verifier':17}  {'thr':>4}  " \
             f"{'task set':20}  {'eps':>4}  {'steps':>6}  {'pass':>6}"
    lines = [header]
    for r in rows:
        threshold = "" if r["threshold"] is None or not r["verifier"] else f"{r['threshold']:.2f}"
        lines.append(f"{r['id']:>5}  {_when(r['created_at']):19}  {r['status']:11}  {r['mode']:11}  "
                     f"{r['verifier'] or '-':17}  {threshold:>4}  {r['task_set'][:20]:20}  {r['episodes']:>4}  "
                     f"{r['steps']:>6}  {_pct(r['pass_rate']):>6}")
    return "\n".join(lines)


def _show_text(s: dict[str, Any], episodes: list[dict[str, Any]]) -> str:
    bound = "n/a" if s["speedup_bound"] is None else f"{s['speedup_bound']:.2f}x"
    verifier = f", verifier {s['verifier']} at {s['threshold']:.2f}" if s["verifier"] else ""
    lines = [
        f"run {s['id']} {s['status']} ({s['task_set']}, mode {s['mode']}{verifier}, preset {s['preset'] or '-'})",
        f"  created {_when(s['created_at'])}, finished {_when(s['finished_at']) or '-'}, models {s['models']}",
        f"  episodes {s['episodes_finished']} of {s['episodes']} finished, {s['steps']} steps, {s['wall_s']:.1f} s",
        f"  pass rate {_pct(s['pass_rate'])}, acceptance {_pct(s['acceptance_rate'])}, "
        f"false accepts {_pct(s['false_accept_rate'])} ({s['false_accepts']} of {s['wrong_drafts']}), "
        f"target calls saved {_pct(s['target_call_savings'])}, speedup bound {bound}",
        f"  parse errors {s['parse_errors']}, policy blocks {s['policy_blocks']}, labels {s['labels']}",
    ]
    for e in episodes:
        verdict = {True: "pass", False: "FAIL", None: "----"}[e["passed"]]
        wall = "" if e["wall_s"] is None else f"{e['wall_s']:.2f} s"
        lines.append(f"  {e['id']:>6}  {e['task_id']:32}  {verdict}  {e['steps']:>3} steps  {wall:>9}  "
                     f"{(e['check_message'] or '')[:100]}")
    return "\n".join(lines)


def add_runs_parser(commands: argparse._SubParsersAction) -> None:
    runs = commands.add_parser("runs", help="list recorded runs or show one")
    runs_commands = runs.add_subparsers(dest="runs_command", required=True)
    listing = runs_commands.add_parser("list", help="one line per run, newest first")
    listing.add_argument("--mode", help="only runs of this mode")
    listing.add_argument("--status", help="only runs with this status (running, done, interrupted, failed)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    show = runs_commands.add_parser("show", help="a run's summary and one line per episode")
    show.add_argument("run_id", type=int)
    for sub in (listing, show):
        sub.add_argument("--db", help="database URL (default: SPECTOOL_DB_URL or the data folder's SQLite file)")
        sub.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(handler=_cmd_runs)


# -- export / replay ------------------------------------------------------------------------------
def _write_stdout(chunks: Iterator[str]) -> None:
    """Write to stdout; a reader that closes the pipe early (``| head``) ends the output quietly."""
    try:
        sys.stdout.writelines(chunks)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit


def _cmd_export(args: argparse.Namespace) -> int:
    from spectool_app.export import export_run

    engine = _read_engine(args.db)
    try:
        chunks = export_run(engine, args.run_id, args.format)
        if args.out:
            path = Path(args.out)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as handle:
                handle.writelines(chunks)
            print(f"run {args.run_id} exported as {args.format} to {path}", file=sys.stderr)
        else:
            _write_stdout(chunks)
    finally:
        engine.dispose()
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from db.queries import run_summary
    from spectool_app.replay import replay_run

    engine = _read_engine(args.db)
    try:
        recorded = run_summary(engine, args.run_id)
        verifier = args.verifier or recorded["verifier"]
        threshold = args.threshold if args.threshold is not None else (recorded["threshold"] or 0.5)
        result = replay_run(engine, args.run_id, verifier, threshold)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    speedup = "n/a" if result["speedup_estimate"] is None else f"{result['speedup_estimate']:.2f}x"
    print(f"replay of shadow run {args.run_id} ({result['steps']} steps, {result['episodes']} episodes) "
          f"with {verifier} at {result['threshold']:.2f}; recorded: {result['recorded_verifier']} at "
          f"{result['recorded_threshold']:.2f}")
    print(f"  acceptance          {_pct(result['acceptance_rate'])} "
          f"(recorded {_pct(result['recorded_acceptance_rate'])})")
    print(f"  target calls saved  {_pct(result['target_call_savings'])}")
    print(f"  est. pass rate      {_pct(result['estimated_pass_rate'])} "
          f"(recorded {_pct(result['recorded_pass_rate'])})")
    print(f"  false accepts       {_pct(result['false_accept_rate'])} ({result['false_accepts']} drafts that "
          "disagree with the target accepted)")
    print(f"  speedup estimate    {speedup}")
    return 0


def add_export_replay_parsers(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="a run as JSON Lines (one step a line) or OpenTelemetry spans")
    export.add_argument("run_id", type=int)
    export.add_argument("--format", default="jsonl", help="jsonl or otel (default jsonl)")
    export.add_argument("--out", help="write to this file (default: stdout)")
    replay = commands.add_parser("replay", help="re-judge a recorded shadow run without calling any model")
    replay.add_argument("run_id", type=int)
    replay.add_argument("--verifier", help="always, never, confidence, exact_match or the run's own (default)")
    replay.add_argument("--threshold", type=float, help="decision threshold in [0, 1] (default: the run's)")
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    for sub in (export, replay):
        sub.add_argument("--db", help="database URL (default: SPECTOOL_DB_URL or the data folder's SQLite file)")
    export.set_defaults(handler=_cmd_export)
    replay.set_defaults(handler=_cmd_replay)


# -- bench-recorder -------------------------------------------------------------------------------
def _time_steps(loop: Any, tasks: list, recorder: Any, steps: int) -> tuple[list[float], list[float], int]:
    """Record whole episodes until ``steps`` steps are done, timing the loop and the recorder apart.

    Returns:
        Per step, the loop's seconds and the recorder's seconds (a step's share runs from the
        previous StepDone to its own, so episode and turn events count with the step they open;
        what follows the last StepDone counts with it), and the number of episodes.
    """
    from spectool_app.events import StepDone

    loop_times: list[float] = []
    record_times: list[float] = []
    loop_s = record_s = 0.0
    episodes, mark = 0, time.perf_counter()
    for task in tasks:
        for event in loop.run(task):
            tick = time.perf_counter()
            loop_s += tick - mark
            recorder.consume(event)
            mark = time.perf_counter()
            record_s += mark - tick
            if isinstance(event, StepDone):
                loop_times.append(loop_s)
                record_times.append(record_s)
                loop_s = record_s = 0.0
        episodes += 1
        if len(loop_times) >= steps:
            break
    loop_s += time.perf_counter() - mark
    if loop_times:
        loop_times[-1] += loop_s
        record_times[-1] += record_s
    return loop_times, record_times, episodes


def measure_recorder_overhead(steps: int, mode: str, verifier: str, task_set: str, preset: Optional[str],
                              url: Optional[str] = None, models: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Run whole episodes until ``steps`` steps are recorded, timing ``Recorder.consume`` apart from the loop.

    Returns:
        ``recorder_ms_per_step`` (all recorder time / steps), ``step_ms`` (the mean step time of
        the loop measured: loop time without the recorder / steps), ``overhead_pct``
        (``100 * recorder_ms_per_step / step_ms``), ``within_limit`` (at most
        :data:`RECORDER_LIMIT_PCT`); the same from per-step medians (``recorder_ms_median``,
        ``step_ms_median``, ``overhead_pct_median``: less swayed by a loaded machine and by the
        first step's one-time costs), counts and the configuration.

    Raises:
        ValueError: bad steps, mode or verifier.  StoreError: the database refuses writes.
    """
    from db.engine import open_store
    from db.recorder import Recorder
    from spectool_app.loop import LoopConfig, SpeculativeLoop
    from spectool_app.runner import RunRequest, load_models, select_tasks
    from spectool_app.verifiers import make_verifier

    if steps < 1:
        raise ValueError(f"--steps must be at least 1, got {steps}")
    request = RunRequest(task_set=task_set, mode=mode, verifier=verifier, preset=preset)
    request.validate()
    tasks = select_tasks(request)
    models = models if models is not None else load_models(preset)
    judge = make_verifier(verifier, models) if mode not in ("target_only", "draft_only") else None
    loop = SpeculativeLoop(models, judge, LoopConfig(mode=mode))
    with tempfile.TemporaryDirectory(prefix="spectool-bench-recorder-") as folder:
        engine = open_store(url or f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            recorder = Recorder(engine)
            recorder.start_run(mode=mode, verifier=verifier if judge else "", task_set=task_set,
                               notes="bench-recorder")
            loop_times, record_times, episodes = _time_steps(loop, tasks, recorder, steps)
            recorder.finish_run(status="done")
        finally:
            engine.dispose()
    return {"steps": len(loop_times), "episodes": episodes, "mode": mode, "verifier": verifier if judge else "",
            "task_set": task_set, "database": "temporary SQLite file" if url is None else "given --db",
            **_overhead_figures(loop_times, record_times),
            "models": {role: getattr(m, "name", role) for role, m in models.items()}}


def _overhead_figures(loop_times: list[float], record_times: list[float]) -> dict[str, Any]:
    """Mean and median per-step figures (ms, %) from per-step loop and recorder seconds."""
    n, loop_s, record_s = max(len(loop_times), 1), sum(loop_times), sum(record_times)
    overhead = 100 * record_s / loop_s if loop_s else None
    step_median = statistics.median(loop_times) if loop_times else 0.0
    record_median = statistics.median(record_times) if record_times else 0.0
    return {"recorder_ms_per_step": 1000 * record_s / n, "step_ms": 1000 * loop_s / n, "overhead_pct": overhead,
            "recorder_ms_median": 1000 * record_median, "step_ms_median": 1000 * step_median,
            "overhead_pct_median": 100 * record_median / step_median if step_median else None,
            "limit_pct": RECORDER_LIMIT_PCT, "within_limit": overhead is not None and overhead <= RECORDER_LIMIT_PCT}


def _cmd_bench_recorder(args: argparse.Namespace) -> int:
    from models.presets import preset_name

    result = measure_recorder_overhead(args.steps, args.mode, args.verifier, args.tasks, preset_name(args.preset),
                                       args.db)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    if not result["steps"]:
        print(f"recorder overhead: no step was recorded (task set {result['task_set']})")
        return 0
    verdict = "within" if result["within_limit"] else "OVER"
    median_pct = result["overhead_pct_median"]
    print(f"recorder overhead: {result['recorder_ms_per_step']:.2f} ms per step = {result['overhead_pct']:.2f}% "
          f"of the loop's mean step time, {result['step_ms']:.1f} ms ({verdict} the {RECORDER_LIMIT_PCT:g}% limit); "
          f"per-step medians {result['recorder_ms_median']:.2f} ms of {result['step_ms_median']:.1f} ms"
          f"{'' if median_pct is None else f' = {median_pct:.2f}%'}; {result['steps']} steps, "
          f"{result['episodes']} episodes, mode {result['mode']}, models {result['models']}")
    return 0


def add_bench_recorder_parser(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench-recorder", help="time the recorder apart from the loop on a short run")
    bench.add_argument("--steps", type=int, default=40, help="record at least this many steps (whole episodes)")
    bench.add_argument("--mode", default="speculative", help="loop mode (default speculative)")
    bench.add_argument("--verifier", default="exact_match", help="verifier kind (default exact_match)")
    bench.add_argument("--tasks", default="synthetic:test", help="task set source[:split]")
    bench.add_argument("--preset", help="model preset (default: SPECTOOL_PRESET or embedded)")
    bench.add_argument("--db", help="record into this database (default: a temporary SQLite file)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(handler=_cmd_bench_recorder)


def add_parser(commands: argparse._SubParsersAction) -> None:
    add_run_parser(commands)
    add_runs_parser(commands)
    add_export_replay_parsers(commands)
    add_bench_recorder_parser(commands)
