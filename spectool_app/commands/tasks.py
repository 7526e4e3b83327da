"""``tasks list|show|stats``: browse and count the task sets."""

from __future__ import annotations

import argparse
import json

from spectool_app.actions import action_to_json
from spectool_app.tasks import SOURCES, SPLITS, get_task, load_tasks, task_stats


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


def add_parser(commands: argparse._SubParsersAction) -> None:
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
