"""``bench``: every mode and verifier kind on the same tasks, interleaved, into results/<date>/.

The handler turns the arguments into :class:`~spectool_app.bench.BenchOptions` and calls
:func:`~spectool_app.bench.run_bench`; Ctrl-C leaves the open runs ``interrupted`` and prints
the ``--resume`` command (exit code 130). This module knows no metric and no task.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spectool_app.commands import UsageError
from spectool_app.config import EXIT_INTERRUPTED


def _items(values: list[str] | None) -> tuple[str, ...]:
    """Space- or comma-separated items, in order."""
    return tuple(item for value in values or () for item in value.split(",") if item)


def _limits(items: tuple[str, ...]) -> tuple[int | None, dict[str, int]]:
    """``--limit`` items: ``N`` (every set) and ``SET=N`` (one set or alias) -> (limit, sizes)."""
    limit, sizes = None, {}
    for item in items:
        name, _, value = item.rpartition("=")
        try:
            number = int(value)
        except ValueError:
            raise UsageError(f"--limit takes N or SET=N (e.g. 30 bfcl=5 safety=20), got {item!r}") from None
        if name:
            sizes[name] = number
        else:
            limit = number
    return limit, sizes


def _plan_options_given(args: argparse.Namespace) -> bool:
    """Whether any option that shapes a new bench's plan was given (--resume and --report take none)."""
    return bool(args.tasks or args.modes or args.quick or args.limit or args.preset)


def _cmd_bench(args: argparse.Namespace) -> int:
    from spectool_app.bench import DEFAULT_TASK_SETS, BenchOptions, run_bench, sigterm_as_interrupt

    if args.report:
        return _report(args)
    if args.resume and _plan_options_given(args):
        raise UsageError("--resume continues a bench with the options it started with; "
                         "drop --tasks, --modes, --quick, --limit and --preset")
    limit, sizes = _limits(_items(args.limit))
    options = BenchOptions(out=args.out, quick=args.quick, task_sets=_items(args.tasks) or DEFAULT_TASK_SETS,
                           modes=_items(args.modes), limit=limit, sizes=sizes, seed=args.seed, preset=args.preset,
                           guard=args.guard)
    sigterm_as_interrupt()  # `kill PID` stops the bench as Ctrl-C does: resumable, no run left open
    try:
        folder = run_bench(options, resume=args.resume, progress=not args.no_progress, workers=args.workers)
    except KeyboardInterrupt:
        from datetime import date

        where = args.resume or str(Path(args.out) / date.today().isoformat())
        print(f"\nbench interrupted; continue it with: python -m spectool_app bench --resume {where}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except RuntimeError as exc:  # a worker process failed; what finished is kept
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    stores = ", ".join(sorted(p.name for p in Path(folder).glob("bench*.db")))
    print(f"bench results in {folder}: results.json, report.md, episodes.jsonl, {stores or 'no trace store'} and plots")
    return 0


def _report(args: argparse.Namespace) -> int:
    from spectool_app.bench import report_bench
    from spectool_app.bench_report import unfinished_text

    if args.resume or _plan_options_given(args):
        raise UsageError("--report only writes the outputs of the bench in its folder; "
                         "drop --resume, --tasks, --modes, --quick, --limit and --preset")
    try:
        data = report_bench(args.report)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    unfinished = data["config"]["unfinished"]
    if unfinished:
        print(f"bench in {args.report} is unfinished ({unfinished_text(unfinished)} through every configuration); "
              "results.json and report.md score those tasks only")
    print(f"bench results in {args.report}: results.json, report.md and plots")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="benchmark every mode and verifier kind into results/<date>/")
    bench.add_argument("--quick", action="store_true", help="a small seeded subset (about 10 minutes on 2 cores)")
    bench.add_argument("--out", default="results", help="parent folder of the <YYYY-MM-DD> output folder")
    bench.add_argument("--tasks", nargs="+", help="task sets: synthetic, bfcl (or bfcl_base, bfcl_miss_param, "
                                                  "bfcl_miss_func, bfcl_long_context), safety (default: all of these); "
                                                  "safety_dev: the safety dev pairs, to choose a guard or a stage "
                                                  "through the loop without looking at test")
    bench.add_argument("--modes", nargs="+", help="modes (target_only, draft_only, speculative, parallel, shadow) "
                                                  "or mode/verifier items, e.g. speculative/trained "
                                                  "(default: every configuration; target_only always runs)")
    bench.add_argument("--limit", nargs="+", help="tasks per set, seeded: N for every set and/or SET=N for one "
                       "(e.g. 30 bfcl=5 safety=20; safety counts twin pairs)")
    bench.add_argument("--resume", metavar="DIR", help="continue the interrupted bench in DIR")
    bench.add_argument("--report", metavar="DIR", help="write results.json, report.md and plots of the bench in DIR "
                       "from the episodes it has (an unfinished one: the tasks every configuration finished)")
    bench.add_argument("--preset", help="model preset (default: SPECTOOL_PRESET or embedded)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--guard", nargs="?", const="models/guard", metavar="DIR",
                       help="every configuration checks tool calls with the safety guard in DIR (default models/guard)")
    bench.add_argument("--workers", type=int, default=1,
                       help="worker processes sharing the tasks (each with its own models and share of the cores); "
                            "may differ between sittings")
    bench.add_argument("--no-progress", action="store_true", help="no progress bars")
    bench.set_defaults(handler=_cmd_bench)
