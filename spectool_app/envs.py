"""Episodes: isolated BFCL tool state for one task, safe execution, and bfcl's own check.

An :class:`Episode` owns fresh back-end instances of its task's classes. ``execute``
validates a call against the tools offered at the current turn (``signatures``), then
calls the bound public method with keyword arguments; nothing is ever ``eval()``-ed and
no private or undocumented attribute can be reached. ``check`` replays bfcl's
``multi_turn_checker`` control flow with bfcl's own ``state_checker``,
``response_checker`` and ``multi_turn_irrelevance_checker``, but with our executor:
the gold calls go through the same validation and execution as the agent's, on a second
fresh set of instances; the episode's calls are the ones it already ran (their state is
snapshotted at every turn boundary, their result strings are the ones the agent saw).

This module knows nothing about models, drafts, verifiers, policies or storage; it never
mutates the task it is given.
"""

from __future__ import annotations

import copy
import inspect
import json
from dataclasses import dataclass
from typing import Any, Optional

from spectool_app.actions import ActionError, ToolCall
from spectool_app.backends import new_instance, tool_names, tool_schemas
from spectool_app.signatures import validate_call
from spectool_app.task import Task

ERROR_PREFIX = "Error during execution: "  # bfcl's wording for a failed call


@dataclass(frozen=True)
class ToolResult:
    """What one executed (or refused) tool call produced."""

    call: ToolCall  # the call as executed (arguments bound to parameter names)
    ok: bool  # False when validation failed, the method raised, or it returned {"error": ...}
    content: str  # what the agent sees: str as is, dict -> json.dumps, other -> str(); error text
    error: Optional[str]  # validation / exception message, None when ok


@dataclass(frozen=True)
class CheckResult:
    """Verdict of bfcl's multi-turn checks on an episode."""

    passed: bool  # every turn passed every check
    turn: Optional[int]  # the first failing turn; None when passed
    error_type: str  # bfcl's error type, e.g. "multi_turn:instance_state_mismatch"; "" when passed
    message: str  # bfcl's error message; "" when passed


def stringify_result(result: Any) -> str:
    """Turn a method's return value into text the way bfcl's executor does."""
    if type(result) is str:
        return result
    if type(result) is dict:
        try:
            return json.dumps(result)
        except (TypeError, ValueError):
            return str(result)
    return str(result)


def _fresh_arguments(method: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``arguments`` plus fresh copies of the method's mutable defaults.

    Back-ends keep argument objects in their state and later change them (``mention``
    extends the list ``post_tweet`` stored), so neither the logged call nor a Python
    default shared by every instance may reach a method.
    """
    fresh = copy.deepcopy(arguments)
    for name, param in inspect.signature(method).parameters.items():
        if name not in fresh and isinstance(param.default, (list, dict, set)):
            fresh[name] = copy.deepcopy(param.default)
    return fresh


class _Backends:
    """Live instances of a task's back-end classes and the tool -> class routing."""

    def __init__(self, task: Task) -> None:
        self.instances: dict[str, object] = {  # class name -> live instance
            name: new_instance(name, task.initial_config.get(name, {}), task.long_context)
            for name in task.involved_classes
        }
        self.owner: dict[str, str] = {}  # tool name -> class name (first class wins)
        for name in task.involved_classes:
            for tool in sorted(tool_names(name)):
                self.owner.setdefault(tool, name)

    def copy(self) -> "_Backends":
        clone = _Backends.__new__(_Backends)
        clone.instances = copy.deepcopy(self.instances)
        clone.owner = dict(self.owner)
        return clone

    def run(self, call: ToolCall) -> ToolResult:
        """Call a validated, bound call; exceptions become an error result."""
        owner = self.owner.get(call.name)
        if owner is None or call.name.startswith("_"):  # defence in depth behind validation
            message = f"no tool {call.name!r} in this episode"
            return ToolResult(call, False, ERROR_PREFIX + message, message)
        method = getattr(self.instances[owner], call.name)
        arguments = _fresh_arguments(method, call.arguments)
        try:
            result = method(**arguments)
        except Exception as exc:  # the back-end's own failure is the agent's observation
            return ToolResult(call, False, f"{ERROR_PREFIX}{exc}", f"{type(exc).__name__}: {exc}")
        content = stringify_result(result)
        if isinstance(result, dict) and "error" in result:
            return ToolResult(call, False, content, str(result["error"]))
        return ToolResult(call, True, content, None)


def _execute(backends: _Backends, call: ToolCall, tools: list[dict]) -> ToolResult:
    """Validate ``call`` against ``tools``, then run it; the agent's and the gold's path."""
    try:
        bound = validate_call(call, tools)
    except (ActionError, TypeError, ValueError) as exc:
        return ToolResult(call, False, f"{ERROR_PREFIX}{exc}", str(exc))
    return backends.run(bound)


def _offered(task: Task, turn: int) -> list[dict]:
    """Schemas offered at ``turn``: involved classes minus excluded and not-yet-offered tools."""
    hidden = set(task.excluded_tools)
    for start, names in task.held_out_tools.items():
        if turn < int(start):
            hidden.update(names)
    offered, seen = [], set()
    for class_name in task.involved_classes:
        for schema in tool_schemas(class_name):
            name = schema["function"]["name"]
            if name not in hidden and name not in seen:
                seen.add(name)
                offered.append(schema)
    return offered


class Episode:
    """One run of a task over fresh, isolated tool state."""

    def __init__(self, task: Task) -> None:
        """Create fresh instances of ``task.involved_classes`` from ``task.initial_config``.

        Raises:
            BackendError: the task names a back-end class that does not exist.
        """
        self.task = task  # never mutated
        self.turn = 0  # current turn index
        self._backends = _Backends(task)  # live tool state
        self._log: list[list[ToolResult]] = [[] for _ in task.turns]  # per turn, every attempt
        self._snapshots: list[dict[str, object]] = []  # instances at the end of each past turn
        self._dirty = True  # a method ran since the last snapshot
        self._tools: dict[int, list[dict]] = {}  # turn -> offered schemas (never handed out)

    def _check_turn(self, turn: int) -> int:
        last = max(len(self.task.turns), 1) - 1
        if not isinstance(turn, int) or not 0 <= turn <= last:
            raise ValueError(f"turn {turn!r} is out of range; this task has turns 0..{last}")
        return turn

    def _offered(self, turn: int) -> list[dict]:
        if turn not in self._tools:
            self._tools[turn] = _offered(self.task, turn)
        return self._tools[turn]

    def tools(self, turn: int | None = None) -> list[dict]:
        """Tool schemas offered at ``turn`` (default: the current turn), as a fresh copy."""
        turn = self.turn if turn is None else self._check_turn(turn)
        return copy.deepcopy(self._offered(turn))

    def begin_turn(self, turn: int) -> None:
        """Move to ``turn`` (the same turn again is a no-op); past turns are snapshotted.

        Raises:
            ValueError: ``turn`` is out of range or earlier than the current turn.
        """
        self._check_turn(turn)
        if turn < self.turn:
            raise ValueError(f"turns only move forward: at turn {self.turn}, asked for {turn}")
        while self.turn < turn:
            if self._dirty or not self._snapshots:
                self._snapshots.append(copy.deepcopy(self._backends.instances))
            else:
                self._snapshots.append(self._snapshots[-1])
            self._dirty = False
            self.turn += 1

    def results(self, turn: int | None = None) -> list[ToolResult]:
        """Every call attempted in ``turn`` (default: the current turn), in order."""
        turn = self.turn if turn is None else self._check_turn(turn)
        return list(self._log[turn]) if self._log else []

    def execute(self, call: ToolCall) -> ToolResult:
        """Validate ``call`` against :meth:`tools` and run it; bad calls give ``ok=False``.

        Raises:
            TypeError: ``call`` is not a ToolCall (a programming error, not a bad call).
        """
        if not isinstance(call, ToolCall):
            raise TypeError(f"execute() takes a ToolCall, got {type(call).__name__}")
        result = _execute(self._backends, call, self._offered(self.turn))
        self._dirty = True  # cheaper to snapshot once too often than to miss a change
        if self._log:
            self._log[self.turn].append(result)
        return result

    def fork(self) -> "Episode":
        """An independent copy: same task, deep-copied state, copied per-turn log."""
        clone = Episode.__new__(Episode)
        clone.task = self.task
        clone.turn = self.turn
        clone._backends = self._backends.copy()
        clone._log = [list(results) for results in self._log]
        clone._snapshots = list(self._snapshots)  # snapshots are never changed once taken
        clone._dirty = self._dirty
        clone._tools = self._tools
        return clone

    def state(self) -> dict[str, dict]:
        """Public attributes per class (a deep copy): what bfcl's state check compares."""
        return {
            name: {k: copy.deepcopy(v) for k, v in vars(instance).items() if not k.startswith("_")}
            for name, instance in self._backends.instances.items()
        }

    def _state_at(self, turn: int) -> dict[str, object]:
        return self._snapshots[turn] if turn < len(self._snapshots) else self._backends.instances

    def check(self) -> CheckResult:
        """bfcl's multi-turn checks, turn by turn; the first failure is returned.

        Turn with gold calls: the agent must have called something, the public state of
        every instance must equal the gold state, and every gold result string must appear
        among the agent's results so far. Turn without gold calls: the agent must not have
        called a tool (bfcl's irrelevance check); its state is not compared.
        """
        from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import (
            multi_turn_irrelevance_checker,
            response_checker,
            state_checker,
        )

        gold = _Backends(self.task)
        seen: list[str] = []  # the agent's result strings, all turns so far
        for turn, gold_calls in enumerate(self.task.gold_calls):
            results = self._log[turn] if turn < len(self._log) else []
            tools = _offered(self.task, turn)
            gold_contents = [_execute(gold, call, tools).content for call in gold_calls]
            seen.extend(r.content for r in results)
            steps = [[r.call.name] for r in results]  # bfcl only counts them
            if not gold_calls:
                verdict = multi_turn_irrelevance_checker([steps], [[]])
            elif not steps:
                verdict = {
                    "valid": False,
                    "error_type": "multi_turn:empty_turn_model_response",
                    "error_message": f"Model response list is empty for turn {turn}",
                }
            else:
                verdict = state_checker(self._state_at(turn), gold.instances)
                if verdict["valid"]:
                    verdict = response_checker(seen, gold_contents, turn)
            if not verdict["valid"]:
                return CheckResult(False, turn, verdict["error_type"], verdict["error_message"])
        return CheckResult(True, None, "", "")

def same_effect(episode: Episode, a: ToolCall, b: ToolCall) -> bool:
    """True when ``a`` and ``b`` give the same result and the same public state.

    Both run on separate forks of ``episode``, which itself is left untouched. Private
    state (the file system's working directory, random generators) is not compared.
    """
    left, right = episode.fork(), episode.fork()
    result_a, result_b = left.execute(a), right.execute(b)
    return (
        result_a.ok == result_b.ok
        and result_a.content == result_b.content
        and left.state() == right.state()
    )
