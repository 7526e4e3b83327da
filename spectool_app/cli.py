"""Command line: ``python -m spectool_app <command> ...``.

Each command parses its arguments and calls one service function; errors in what the
user typed print one line naming the valid choices and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from typing import Callable, Optional, Sequence

from spectool_app.actions import action_to_json
from spectool_app.tasks import SOURCES, SPLITS, TaskError, get_task, load_tasks

EXIT_USAGE = 2


class UsageError(Exception):
    """Something the user typed is not valid; the message names the valid choices."""


def task_stats(seed: int = 0) -> dict[str, dict[str, dict[str, int]]]:
    """``{source: {split: {"tasks": N, "steps": N}}}`` over every source (steps = gold actions)."""
    stats: dict[str, dict[str, dict[str, int]]] = {}
    for source in SOURCES:
        per_split: dict[str, dict[str, int]] = defaultdict(lambda: {"tasks": 0, "steps": 0})
        for task in load_tasks(source, seed=seed):
            per_split[task.split]["tasks"] += 1
            per_split[task.split]["steps"] += task.steps
        stats[source] = {split: dict(per_split[split]) for split in SPLITS if split in per_split}
    return stats


def _cmd_tasks(args: argparse.Namespace) -> int:
    if args.tasks_command == "stats":
        stats = task_stats(args.seed)
        if args.json:
            print(json.dumps(stats, sort_keys=True))
        else:
            for source, splits in stats.items():
                for split, row in splits.items():
                    print(f"{source:10s} {split:6s} tasks={row['tasks']:6d} steps={row['steps']:7d}")
        return 0
    if args.tasks_command == "list":
        sources = [args.source] if args.source else list(SOURCES)
        for source in sources:
            for task in load_tasks(source, args.split, seed=args.seed):
                print(f"{task.id}\t{task.split}\t{task.category}\t{len(task.turns)} turns\t{task.steps} steps")
        return 0
    task = get_task(args.task_id, seed=args.seed)
    shown = {
        "id": task.id, "source": task.source, "split": task.split, "category": task.category,
        "policy": task.policy, "safety_label": task.safety_label, "involved_classes": task.involved_classes,
        "turns": [
            {"user": text, "gold": [json.loads(action_to_json(a)) for a in gold]}
            for text, gold in zip(task.turns, task.gold)
        ],
    }
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0


def _add_tasks_parser(commands: argparse._SubParsersAction) -> None:
    tasks = commands.add_parser("tasks", help="list, show and count tasks")
    tasks_commands = tasks.add_subparsers(dest="tasks_command", required=True)
    listing = tasks_commands.add_parser("list", help="one line per task")
    listing.add_argument("--source", choices=SOURCES)
    listing.add_argument("--split", choices=SPLITS)
    show = tasks_commands.add_parser("show", help="one task with its gold actions, as JSON")
    show.add_argument("task_id")
    stats = tasks_commands.add_parser("stats", help="tasks and gold steps per source and split")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    for sub in (listing, show, stats):
        sub.add_argument("--seed", type=int, default=0)
    tasks.set_defaults(handler=_cmd_tasks)


def _cmd_train_defaults(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from spectool_app.training.defaults import ROLES, TrainDefaultsConfig, tiny_config, train_defaults

    roles = tuple(r for r in args.roles.split(",") if r)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise UsageError(f"unknown role(s) {unknown}; valid roles: {', '.join(ROLES)}")
    config = TrainDefaultsConfig()
    if args.tiny:
        config = tiny_config(config.work_dir, config.out_dir)
    minutes = dict(config.minutes)
    minutes.update({k: v for k, v in (("drafter", args.drafter_minutes), ("target", args.target_minutes)) if v})
    overrides = {"roles": roles, "minutes": minutes, "seed": args.seed}
    overrides.update({k: v for k, v in (("out_dir", args.out_dir), ("work_dir", args.work_dir)) if v})
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    results = train_defaults(replace(config, **overrides))
    print(json.dumps(results, indent=2))
    return 0


def _add_train_defaults_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train-defaults", help="train the embedded drafter and target (resumable)")
    train.add_argument("--roles", default="drafter,target", help="comma-separated: drafter,target")
    train.add_argument("--drafter-minutes", type=float, help="time budget of the drafter (default 20)")
    train.add_argument("--target-minutes", type=float, help="time budget of the target (default 60)")
    train.add_argument("--out-dir", help="where checkpoints go (default models/embedded)")
    train.add_argument("--work-dir", help="resumable state (default data/train-defaults)")
    train.add_argument("--max-steps", type=int, help="stop each role after this many optimiser steps")
    train.add_argument("--tiny", action="store_true", help="reduced sizes for a smoke test")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(handler=_cmd_train_defaults)


def _cmd_eval_models(args: argparse.Namespace) -> int:
    from models.presets import load_preset
    from spectool_app.model_cards import write_model_cards
    from spectool_app.model_eval import EvalOptions, evaluate_models

    models = load_preset(args.preset)
    options = EvalOptions(max_steps=args.max_steps, batch_size=args.batch_size, seed=args.seed)
    report = evaluate_models(models, options)
    if args.write_cards:
        write_model_cards(report, " ".join(["python -m spectool_app eval-models", *args.argv_tail]))
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for role in ("drafter", "target"):
            print(role, json.dumps(report.get(role), sort_keys=True))
        print("latency_ratio", report.get("latency_ratio"))
    return 0


def _add_eval_models_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval-models", help="step-level exact match, blocking rates and latency")
    evaluate.add_argument("--preset", help="model preset (default: SPECTOOL_PRESET or embedded)")
    evaluate.add_argument("--max-steps", type=int, help="sample this many steps per task set (default: all)")
    evaluate.add_argument("--batch-size", type=int, default=8)
    evaluate.add_argument("--write-cards", action="store_true", help="write the results into the model cards")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.set_defaults(handler=_cmd_eval_models)


PARSER_BUILDERS: list[Callable[[argparse._SubParsersAction], None]] = [_add_tasks_parser, _add_train_defaults_parser, _add_eval_models_parser]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m spectool_app", description="SpecTool: speculative tool calling")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in PARSER_BUILDERS:
        add(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; returns the process exit code."""
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        args = build_parser().parse_args(argv)
        args.argv_tail = argv[1:]
        return args.handler(args)
    except (UsageError, TaskError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as exc:  # missing models, unreachable servers, a store that cannot be written
        if type(exc).__name__ not in {"ModelUnavailableError", "BackendError", "StoreError"}:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
