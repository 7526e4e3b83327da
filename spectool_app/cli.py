"""Command line: ``python -m spectool_app <command> ...``.

Each command lives in a module of :mod:`spectool_app.commands` exposing
``add_parser(commands)``; its handler parses arguments and calls one service function.
Errors in what the user typed print one line naming the valid choices and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Optional, Sequence

from spectool_app import commands as command_modules
from spectool_app.commands import EXIT_USAGE, UsageError
from spectool_app.tasks import TaskError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m spectool_app", description="SpecTool: speculative tool calling")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(command_modules.__path__), key=lambda m: m.name):
        importlib.import_module(f"{command_modules.__name__}.{info.name}").add_parser(commands)
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
    except FileNotFoundError as exc:  # an input file not built yet: its message names the command that builds it
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # missing models, unreachable servers, a store that cannot be written
        if type(exc).__name__ not in {"ModelUnavailableError", "BackendError", "StoreError"}:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
