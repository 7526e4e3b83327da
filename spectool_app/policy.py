"""The policy guard: declarative rules checked before any action executes.

Rules come from the global config (a JSON file named by ``SPECTOOL_POLICY_FILE``) and from
a task (``task.meta["policy_rules"]``), merged. A denied action becomes ``Blocked`` naming
the rule; the loop counts these apart from verifier rejections. This module knows nothing
about models or storage.

Rule format (JSON)::

    {"deny_tools": ["rm"],                         # never run these tools
     "confirm_tools": ["place_order"],             # need a user confirmation: blocked here
     "deny_arguments": [{"tool": "*", "argument": "destination", "pattern": "^/|\\\\.\\\\."}]}
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from spectool_app.actions import Action, ToolCall


@dataclass(frozen=True)
class ArgumentRule:
    """Deny a call when an argument's text matches a pattern."""

    tool: str  # tool name, or "*" for every tool
    argument: str  # argument name
    pattern: str  # regular expression searched in str(value)


@dataclass(frozen=True)
class PolicyRules:
    """A set of rules; empty rules allow everything."""

    deny_tools: frozenset[str] = frozenset()  # tools that never run
    confirm_tools: frozenset[str] = frozenset()  # tools that need a confirmation the loop cannot give
    deny_arguments: tuple[ArgumentRule, ...] = field(default_factory=tuple)  # argument patterns

    def merged(self, other: "PolicyRules") -> "PolicyRules":
        return PolicyRules(self.deny_tools | other.deny_tools, self.confirm_tools | other.confirm_tools,
                           self.deny_arguments + other.deny_arguments)


def rules_from_dict(data: dict[str, Any]) -> PolicyRules:
    """Build rules from their JSON form.

    Raises:
        ValueError: an unknown key or a malformed rule, naming what is allowed.
    """
    allowed = {"deny_tools", "confirm_tools", "deny_arguments"}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown policy key(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}")
    argument_rules = []
    for raw in data.get("deny_arguments", []):
        try:
            rule = ArgumentRule(str(raw["tool"]), str(raw["argument"]), str(raw["pattern"]))
            re.compile(rule.pattern)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a deny_arguments rule needs tool, argument and pattern; got {raw!r}") from exc
        except re.error as exc:
            raise ValueError(f"bad pattern in deny_arguments rule {raw!r}: {exc}") from exc
        argument_rules.append(rule)
    return PolicyRules(frozenset(data.get("deny_tools", [])), frozenset(data.get("confirm_tools", [])),
                       tuple(argument_rules))


def global_rules() -> PolicyRules:
    """Rules from the file named by ``SPECTOOL_POLICY_FILE`` (none when unset)."""
    path = os.environ.get("SPECTOOL_POLICY_FILE")
    if not path:
        return PolicyRules()
    try:
        return rules_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"SPECTOOL_POLICY_FILE={path!r} could not be read as JSON: {exc}") from exc


def check_action(action: Action, rules: PolicyRules) -> Optional[str]:
    """The name of the rule that denies ``action``, or None when it may run."""
    if not isinstance(action, ToolCall):
        return None
    if action.name in rules.deny_tools:
        return f"deny_tools:{action.name}"
    if action.name in rules.confirm_tools:
        return f"confirm_tools:{action.name}"
    for rule in rules.deny_arguments:
        if rule.tool in ("*", action.name) and rule.argument in action.arguments:
            if re.search(rule.pattern, str(action.arguments[rule.argument])):
                return f"deny_arguments:{rule.tool}.{rule.argument}~{rule.pattern}"
    return None
