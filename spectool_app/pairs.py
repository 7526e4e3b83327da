"""ACCEPT/REJECT pairs for verifiers: the compact verifier input, labelling, and ``build-pairs``.

A pair is one step of a task (gold history, real tool outputs) and one candidate action
for it (a *draft*) with a label: 1 (ACCEPT) when the draft may be executed in place of
the gold, else 0 (REJECT). Drafts come from the drafter (greedy plus temperature samples)
and from hard negatives built from the gold (another tool, one perturbed argument, a
premature ``Answer``, a needless ``Blocked``, the forbidden call of an unsafe safety twin,
``Blocked`` on a benign twin). A hard negative that turns out acceptable under ``gold``
labels (a perturbed value the back-end ignores: same effect) is dropped, not relabelled.

Labelling modes:

- ``gold``: ACCEPT when the draft is equivalent to a gold action still due in that turn:
  the current gold action (same call after signature binding, or the same result and
  public state on a forked episode), or a later gold call of the turn that commutes with
  the calls before it; an ``Answer``/``Blocked`` only when that is what is due now.
- ``target``: ACCEPT when the draft agrees with the target's own greedy action (lossless
  with respect to the target).

The verifier input is SHORT on purpose (its latency is paid on every step):
:func:`verifier_input` builds it from chat messages, here and in the runtime verifier.

Rows are JSON Lines that ``datasets.load_dataset("json", ...)`` reads (``draft`` is an
action and ``known`` its parameters' schema texts, both as JSON strings, so every row has
the same schema). This module does not know
how a verifier is trained or scored, and it never calls the target in ``gold`` mode.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from models.tool_schema import tool_specs
from spectool_app.actions import Action, Answer, Blocked, ToolCall, action_from_dict, action_from_json, action_to_json
from spectool_app.jsonl import write_jsonl
from spectool_app.parsing import format_python_call
from spectool_app.signatures import SignatureError, bind_arguments, equivalent

POLICY_MARK = "\nPolicy: "  # how context.system_message appends a task's policy
CONTEXT_POLICY = "policy: "  # how compact_context starts the policy part of a verifier context
MAX_USER_CHARS = 400  # user text kept in the verifier input
MAX_RESULT_CHARS = 240  # last tool result kept (safety injections end before ~200 characters)
MAX_TEXT_CHARS = 200  # answer text / refusal reason kept in a rendered draft
MAX_NOTE_VALUES = 5  # unseen values listed in a draft's grounding note
MAX_NOTE_VALUE_CHARS = 40  # each clipped to this many characters
LABEL_MODES = ("gold", "target")
SPLIT_SOURCES = {  # which task sets feed each pair split (safety train = safety.training_tasks)
    "train": ("synthetic", "bfcl", "safety"),
    "dev": ("synthetic", "bfcl", "safety"),
    "test": ("synthetic", "bfcl", "safety"),
}
NEGATIVE_KINDS = ("wrong_tool", "perturbed", "premature_answer", "needless_block")
HARD_NEGATIVE_KINDS = (*NEGATIVE_KINDS, "unsafe", "over_block")  # dropped when they label ACCEPT
GENERIC_REFUSAL = "This would break the policy."  # reason of needless / over-blocking negatives


# ---------------------------------------------------------------- the compact verifier input


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def compact_context(messages: Sequence[dict[str, Any]]) -> str:
    """Policy (if any), the current user turn, calls already made this turn, the last tool result.

    "This turn" starts at the last user message; a tool result is clipped to
    :data:`MAX_RESULT_CHARS` characters.
    """
    policy = ""
    if messages and messages[0].get("role") == "system":
        policy = str(messages[0].get("content") or "").partition(POLICY_MARK)[2]
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    user = str(messages[last_user].get("content") or "") if last_user >= 0 else ""
    calls, result = [], None
    for message in messages[last_user + 1:]:
        for call in message.get("tool_calls") or []:
            calls.append(str((call.get("function") or call).get("name", "?")))
        if message.get("role") == "tool":
            result = str(message.get("content") or "")
    parts = [CONTEXT_POLICY + _clip(policy, MAX_USER_CHARS)] if policy else []
    parts.append(f"user: {_clip(user, MAX_USER_CHARS)}")
    parts.append(f"done: {', '.join(calls) if calls else 'nothing'}")
    if result is not None:
        parts.append(f"result: {_clip(result, MAX_RESULT_CHARS)}")
    return " | ".join(parts)


def name_arguments(action: Action, tools: Sequence[dict[str, Any]]) -> Action:
    """``action`` with positional arguments (``$0``...) named from the tool schema; no defaults added."""
    if not isinstance(action, ToolCall) or not any(k.startswith("$") for k in action.arguments):
        return action
    schema = next((t for t in tools if (t.get("function") or t).get("name") == action.name), None)
    if schema is None:
        return action
    try:
        bound = bind_arguments(action, schema)
    except SignatureError:
        return action
    names = list(((schema.get("function") or schema).get("parameters") or {}).get("properties") or {})
    given = {names[int(k[1:])] for k in action.arguments if k.startswith("$")}
    given |= {k for k in action.arguments if not k.startswith("$")}
    return ToolCall(action.name, {k: v for k, v in bound.arguments.items() if k in given})


def render_draft(action: Action, context: Optional[str] = None,
                 known: Optional[Mapping[str, str]] = None) -> str:
    """One short line for a draft: ``call name(k='v')``, ``answer: text`` or ``blocked: reason``.

    With ``context`` (the compact context the draft answers), a call gets a grounding note:
    ``| unseen: v1, v2`` lists its argument values that neither the context nor the
    parameter's own schema text (``known``, see :func:`parameter_text`) contains as whole
    words, ``| unseen: none`` when they contain them all. Copy errors (a cut or invented
    value) are the drafter's commonest mistake, and a small encoder spots them far more
    easily from this note than by aligning the texts; an option the tool lists ('Sell',
    'ft') is not a copy error, but ``| listed: v`` names such values that the context does
    not (is 'Paris' right when the user said Tokyo?). Two subtler slips follow when present
    (see :func:`copy_slips`): ``| cut: v`` for a value the context holds only inside a longer
    name, ``| repeated: v`` for one the draft uses more often than the context names it.
    Last, ``| policy names: v`` lists values the task's policy itself names (the protected
    booking, the folder it guards): whether that permits or forbids the call is for the
    verifier to read, but the match is one a small encoder misses when it must find it alone.
    """
    if isinstance(action, Blocked):
        return "blocked: " + _clip(action.reason, MAX_TEXT_CHARS)
    if isinstance(action, Answer):
        return "answer: " + _clip(action.text, MAX_TEXT_CHARS)
    if not isinstance(action, ToolCall):
        raise TypeError(f"expected a ToolCall, Answer or Blocked, got {type(action).__name__}")
    text = "call " + format_python_call(action)
    if context is None:
        return text
    note = f"{text} | unseen: {_shown(unseen_values(action, context, known)) or 'none'}"
    listed = listed_values(action, context, known)
    if listed:
        note += f" | listed: {_shown(listed)}"
    cut, repeated = copy_slips(action, context, known)
    if cut:
        note += f" | cut: {_shown(cut)}"
    if repeated:
        note += f" | repeated: {_shown(repeated)}"
    named = policy_values(action, context)
    if named:
        note += f" | policy names: {_shown(named)}"
    return note


def context_policy(context: str) -> str:
    """The policy part of a compact context (:func:`compact_context`), '' when it has none."""
    head = context.partition(" | ")[0]
    return head[len(CONTEXT_POLICY):] if head.startswith(CONTEXT_POLICY) else ""


def policy_values(call: ToolCall, context: str) -> list[str]:
    """Argument values of ``call`` that the context's policy names as whole words. Order kept, no repeats."""
    policy = context_policy(context)
    named: list[str] = []
    if not policy:
        return named
    for value in _leaf_values(call.arguments):
        forms = _value_forms(value)
        if forms and forms[0] not in named and any(_occurs(f, policy) for f in forms):
            named.append(forms[0])
    return named


def _shown(values: Sequence[str]) -> str:
    return ", ".join(_clip(v, MAX_NOTE_VALUE_CHARS) for v in values[:MAX_NOTE_VALUES])


def _leaf_values(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaf_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaf_values(item)
    elif value is not None and not isinstance(value, bool):
        yield value


def _value_forms(value: Any) -> list[str]:
    """How a value may be written in text: ``2.0`` also as ``2``."""
    forms = [str(value)]
    if isinstance(value, float) and value.is_integer():
        forms.append(str(int(value)))
    return [f.strip() for f in forms if f.strip()]


def _occurs(form: str, context: str) -> bool:
    pattern = r"(?<![0-9A-Za-z])" + re.escape(form) + r"(?![0-9A-Za-z])"
    return re.search(pattern, context, flags=re.IGNORECASE) is not None


# a whole name: not preceded by a name character, not followed by one nor by ".ext"
_NAME_START, _NAME_END = r"(?<![\w./\-])", r"(?![\w/\-]|\.\w)"


def _whole_count(form: str, context: str) -> int:
    """How often ``form`` occurs in ``context`` as a whole name: ``receipt.json`` does not
    occur in ``nilnor_receipt.json``, nor ``tasks_socha`` in ``tasks_socha.txt``."""
    return len(re.findall(_NAME_START + re.escape(form) + _NAME_END, context, flags=re.IGNORECASE))


def unseen_values(call: ToolCall, context: str, known: Optional[Mapping[str, str]] = None) -> list[str]:
    """Argument values of ``call`` found as whole words (case-insensitive) neither in ``context``
    nor in ``known[key]``, the schema text of the top-level argument they belong to.

    Every leaf of the arguments counts (strings and numbers; booleans and nulls are not
    values to copy). Order kept, no repeats.
    """
    unseen: list[str] = []
    for key, argument in call.arguments.items():
        sources = (context, (known or {}).get(key, ""))
        for value in _leaf_values(argument):
            forms = _value_forms(value)
            seen = any(_occurs(f, text) for f in forms for text in sources if text)
            if forms and not seen and forms[0] not in unseen:
                unseen.append(forms[0])
    return unseen


def listed_values(call: ToolCall, context: str, known: Optional[Mapping[str, str]] = None) -> list[str]:
    """Argument values of ``call`` that only the parameter's schema text names, not the context
    (an option such as ``'ft'`` or an example such as ``'Paris'``). Order kept, no repeats."""
    listed: list[str] = []
    for key, argument in call.arguments.items():
        schema_text = (known or {}).get(key, "")
        for value in _leaf_values(argument):
            forms = _value_forms(value)
            if (forms and forms[0] not in listed and schema_text and not any(_occurs(f, context) for f in forms)
                    and any(_occurs(f, schema_text) for f in forms)):
                listed.append(forms[0])
    return listed


def copy_slips(call: ToolCall, context: str, known: Optional[Mapping[str, str]] = None) -> tuple[list[str], list[str]]:
    """``(cut, repeated)``: values of ``call`` copied wrongly although the context has their text.

    ``cut``: found in the context only as part of a longer name (``receipt.json`` from
    ``nilnor_receipt.json``, ``tasks_socha`` from ``tasks_socha.txt``), never as a whole one
    nor in the parameter's schema text. ``repeated``: a value the draft uses more often than
    the context names it (``cityA='74532', cityB='74532'``; ``['passenger', 'passenger']``).
    Unseen values are left to :func:`unseen_values`. Order kept, no repeats.
    """
    uses: dict[str, list[str]] = {}  # first form -> all forms, once per use
    cut: list[str] = []
    for key, argument in call.arguments.items():
        schema_text = (known or {}).get(key, "")
        for value in _leaf_values(argument):
            forms = _value_forms(value)
            if not forms:
                continue
            uses.setdefault(forms[0], []).append(forms)
            if not isinstance(value, str) or forms[0] in cut:
                continue  # numbers: a cut one is no whole word, so unseen_values lists it
            if _occurs(forms[0], context) and not any(_whole_count(forms[0], t) for t in (context, schema_text) if t):
                cut.append(forms[0])
    repeated = []
    for first, each in uses.items():
        named = max(_whole_count(f, context) for f in each[0])
        if len(each) > max(named, 1) and (named or any(_occurs(f, context) for f in each[0])):
            repeated.append(first)
    return cut, repeated


def parameter_text(action: Action, tools: Sequence[dict[str, Any]]) -> dict[str, str]:
    """For each argument of a call, its parameter's description and listed options ({} otherwise).

    Values the tool itself names (an ``enum`` option, a unit in the description) are not
    copy errors; :func:`unseen_values` reads them from here.
    """
    if not isinstance(action, ToolCall):
        return {}
    spec = tool_specs(tools).get(action.name)
    if spec is None:
        return {}
    texts = {}
    for key in action.arguments:
        param = spec.params.get(key)
        if param is not None and (param.description or param.options):
            texts[key] = " ".join([param.description, *param.options]).strip()
    return texts


def verifier_input(messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]], draft: Action,
                   mark: Optional[Callable[[str, Any], str]] = None) -> tuple[str, str]:
    """The (context, draft) text pair a verifier reads: the one builder for training and runtime.

    ``mark(context, named_draft)``, when given, rewrites the compact context before the draft is
    rendered against it (the safety guard marks the policy: ``guard.mark_policy``).
    """
    context, named = compact_context(messages), name_arguments(draft, tools)
    context = mark(context, named) if mark is not None else context
    return context, render_draft(named, context, parameter_text(named, tools))


def pair_texts(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(context, rendered draft) of stored pair rows: what training and calibration feed the model."""
    return [(str(row["context"]), render_draft(action_from_json(row["draft"]), str(row["context"]), row_known(row)))
            for row in rows]


def row_known(row: Mapping[str, Any]) -> dict[str, str]:
    """A pair row's ``known`` (parameter texts, stored as a JSON string); {} when absent or unreadable."""
    known = row.get("known")
    if isinstance(known, str):
        try:
            known = json.loads(known)
        except json.JSONDecodeError:
            return {}
    return {str(k): str(v) for k, v in known.items()} if isinstance(known, dict) else {}


# ---------------------------------------------------------------- steps and labels


@dataclass
class StepState:
    """One gold-history step with a private fork of the episode at that point."""

    task: Any  # the Task
    turn: int  # turn index
    index: int  # step index inside the turn
    messages: list[dict[str, Any]]  # chat context (gold history so far)
    tools: list[dict[str, Any]]  # tool schemas offered at this turn
    episode: Any  # an Episode forked just before this step (labelling runs on forks of it)
    due: list[Action]  # gold actions of this turn from this step on (due[0] is the gold)

    @property
    def gold(self) -> Action:
        return self.due[0]


def replay_states(task: Any, max_tool_chars: Optional[int] = None) -> Iterator[StepState]:
    """Every step of ``task`` replayed with gold history (``context.gold_steps``), plus forks."""
    from spectool_app.context import MAX_TOOL_CHARS, gold_steps

    limit = MAX_TOOL_CHARS if max_tool_chars is None else max_tool_chars
    for step in gold_steps(task, limit, fork=True):
        remaining = list(task.gold[step.turn][step.index:])
        yield StepState(task, step.turn, step.index, step.messages, step.tools, step.episode, remaining)


def _same_effect(episode: Any, a: ToolCall, b: ToolCall) -> bool:
    from spectool_app.envs import same_effect

    return same_effect(episode, a, b)


def _commutes(episode: Any, draft: ToolCall, before: list[ToolCall], later: ToolCall) -> bool:
    """Running ``draft`` now, then ``before``, gives the results and state of ``before + [later]``."""
    gold_run, draft_run = episode.fork(), episode.fork()
    gold_results = [gold_run.execute(call) for call in [*before, later]]
    draft_results = [draft_run.execute(draft)] + [draft_run.execute(call) for call in before]
    first = draft_results[0]
    return (first.ok and first.content == gold_results[-1].content
            and [r.content for r in draft_results[1:]] == [r.content for r in gold_results[:-1]]
            and draft_run.state() == gold_run.state())


def gold_label(state: StepState, draft: Action) -> int:
    """1 when ``draft`` is equivalent to a gold action still due in this turn (see module doc)."""
    gold = state.gold
    if not isinstance(draft, ToolCall):
        return int(type(draft) is type(gold))  # an Answer / Blocked only when it is what is due now
    if not isinstance(gold, ToolCall):
        return 0
    if equivalent(draft, gold, state.tools) or _same_effect(state.episode, draft, gold):
        return 1
    calls = [a for a in state.due if isinstance(a, ToolCall)]
    calls = calls[: next((i for i, a in enumerate(state.due) if not isinstance(a, ToolCall)), len(calls))]
    for k in range(1, len(calls)):
        if equivalent(draft, calls[k], state.tools) and _commutes(state.episode, draft, calls[:k], calls[k]):
            return 1
    return 0


def agreement_label(state: StepState, draft: Action, reference: Optional[Action]) -> int:
    """1 when ``draft`` agrees with ``reference`` (the target's action; None = it did not parse)."""
    if reference is None:
        return 0
    if equivalent(draft, reference, state.tools):
        return 1
    both_calls = isinstance(draft, ToolCall) and isinstance(reference, ToolCall)
    return int(both_calls and _same_effect(state.episode, draft, reference))


# ---------------------------------------------------------------- hard negatives


def _name_words(name: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[0-9]+", name)}


def _wrong_tool(gold: ToolCall, tools: Sequence[dict[str, Any]], rng: random.Random) -> Optional[ToolCall]:
    """Another offered tool (half the time one sharing a word with the gold's name), arguments carried over."""
    others = [(t.get("function") or t) for t in tools if (t.get("function") or t).get("name") != gold.name]
    if not others:
        return None
    similar = [f for f in others if _name_words(f["name"]) & _name_words(gold.name)]
    chosen = rng.choice(similar if similar and rng.random() < 0.5 else others)
    properties = list(((chosen.get("parameters") or {}).get("properties") or {}))
    required = list(((chosen.get("parameters") or {}).get("required") or []))
    spare = [v for k, v in gold.arguments.items() if k not in properties]
    arguments = {k: v for k, v in gold.arguments.items() if k in properties}
    for name in required:
        if name not in arguments and spare:
            arguments[name] = spare.pop(0)
    return ToolCall(chosen["name"], arguments)


def _mutate_string(value: str, rng: random.Random) -> str:
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    if digits:
        i = rng.choice(digits)
        return value[:i] + str((int(value[i]) + rng.randint(1, 9)) % 10) + value[i + 1:]
    if len(value) > 3:
        i = rng.randrange(1, len(value) - 1)
        return value[:i] + value[i + 1:]  # drop one character (never a case-only change)
    return value + rng.choice("xkqz")


def _shape(text: str) -> tuple[bool, bool, bool]:
    return " " in text, any(c.isdigit() for c in text), "." in text.strip(".!?")


def perturb_value(value: Any, rng: random.Random, pool: Sequence[str] = ()) -> Any:
    """A different value of the same type: another string from ``pool`` or a small edit, a nearby number.

    Strings differ from ``value`` ignoring case (the embedded verifier is uncased).
    """
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-10, -2, -1, 1, 2, 10])
    if isinstance(value, float):
        return round(value * rng.choice([0.5, 2.0]) + rng.choice([-1.0, 1.0]), 2)
    if isinstance(value, str):
        others = [p for p in pool if p.lower() != value.lower()]
        alike = [p for p in others if _shape(p) == _shape(value)]  # a file name for a file name, ...
        others = alike or others
        return rng.choice(others) if others and rng.random() < 0.6 else _mutate_string(value, rng)
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        return value[:i] + [perturb_value(value[i], rng, pool)] + value[i + 1:]
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        return {**value, key: perturb_value(value[key], rng, pool)}
    return None


def _perturbed(gold: ToolCall, rng: random.Random, pool: Sequence[str]) -> Optional[ToolCall]:
    keys = [k for k, v in gold.arguments.items() if v not in (None, [], {}, "")]
    if not keys:
        return None
    key = rng.choice(sorted(keys))
    return ToolCall(gold.name, {**gold.arguments, key: perturb_value(gold.arguments[key], rng, pool)})


def string_pool(task: Any) -> list[str]:
    """Strings a perturbation may swap in: the task's slot values and gold string arguments."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and 0 < len(value) <= 80:
            found.add(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(task.meta.get("values", []))
    walk(task.meta.get("slots", {}))
    for turn in task.gold:
        for action in turn:
            if isinstance(action, ToolCall):
                walk(action.arguments)
    return sorted(found)


def hard_negatives(state: StepState, rng: random.Random, n: int, twin_reasons: dict[str, str],
                   pool: Sequence[str]) -> list[tuple[str, Action]]:
    """Up to ``n`` generic negatives for this step, plus the safety ones where they apply.

    Safety: at the risky step of an unsafe twin, its forbidden call (``unsafe``); at the risky
    step of a benign twin, ``Blocked`` with the unsafe twin's reason or a generic one
    (``over_block``). Generic kinds: :data:`NEGATIVE_KINDS`.
    """
    task, gold = state.task, state.gold
    out: list[tuple[str, Action]] = []
    risky = task.meta.get("risky_step")
    if risky is not None and [state.turn, state.index] == list(risky):
        if task.safety_label == "unsafe" and "unsafe_call" in task.meta:
            out.append(("unsafe", action_from_dict(task.meta["unsafe_call"])))
        reason = twin_reasons.get(task.meta.get("pair", ""))
        if task.safety_label == "benign" and reason:  # the twin's words name the twin's values: half generic
            out.append(("over_block", Blocked(reason if rng.random() < 0.5 else GENERIC_REFUSAL)))
    candidates: list[tuple[str, Optional[Action]]] = []
    if isinstance(gold, ToolCall):
        closing = task.closing_action(state.turn)
        text = closing.text if isinstance(closing, Answer) and closing.text else "Done."
        candidates += [("wrong_tool", _wrong_tool(gold, state.tools, rng)),
                       ("perturbed", _perturbed(gold, rng, pool)),
                       ("premature_answer", Answer(text))]
    if not isinstance(gold, Blocked) and not task.policy:
        candidates.append(("needless_block", Blocked(GENERIC_REFUSAL)))
    candidates = [(k, a) for k, a in candidates if a is not None]
    rng.shuffle(candidates)
    return out + candidates[:n]  # type: ignore[list-item]


# ---------------------------------------------------------------- rows


@dataclass(frozen=True)
class PairOptions:
    """How pairs are built."""

    samples: int = 2  # temperature samples per step, on top of the greedy draft
    temperature: float = 0.7  # sampling temperature of the extra drafts (1.0 makes tiny drafters babble)
    max_new_tokens: int = 128  # generation cap while building pairs (99% of gold replies are shorter)
    negatives: int = 2  # generic hard negatives per step (safety negatives come on top)
    label: str = "gold"  # "gold" or "target" (see module doc)
    include_gold: bool = True  # add the gold action itself when no draft matched it (gold mode)
    batch_size: int = 16  # prompts per generate call
    chunk_tasks: int = 64  # tasks replayed at a time (bounds memory: every step keeps a fork)
    max_tasks: Optional[int] = None  # per source, a seeded sample of tasks (None: all)
    sources: Optional[tuple[str, ...]] = None  # only these task sources of a split (None: all of SPLIT_SOURCES)
    safety_train_pairs: int = 480  # twin pairs from safety.training_tasks for the train split
    max_tool_chars: Optional[int] = None  # tool output in model prompts (None: context.MAX_TOOL_CHARS)
    seed: int = 0  # task sampling, hard negatives


def make_row(state: StepState, split: str, draft: Action, label: int, kind: str, mode: str) -> dict[str, Any]:
    """One JSONL row; ``id`` is :func:`pair_id` (step, compact context, draft, labelling mode)."""
    named = name_arguments(draft, state.tools)
    context = compact_context(state.messages)
    return {"id": pair_id(state.task.id, state.turn, state.index, context, named, mode), "split": split,
            "source": state.task.source, "task_id": state.task.id, "turn": state.turn, "step": state.index,
            "context": context, "draft": action_to_json(named),
            "known": json.dumps(parameter_text(named, state.tools), sort_keys=True),
            "label": int(label), "kind": kind, "label_mode": mode}


def pair_id(task_id: str, turn: int, step: int, context: str, draft: Action, mode: str) -> str:
    """16 hex digits hashing the step, the context, the draft (canonical JSON) and the labelling mode."""
    key = f"{task_id}|{turn}|{step}|{context}|{action_to_json(draft)}|{mode}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def step_inputs(task: Any, max_tool_chars: Optional[int] = None) -> dict[tuple[int, int], tuple[str, list]]:
    """(turn, step) -> (compact context, tool schemas) of every step of ``task`` replayed with gold
    history; no episode forks (nothing is labelled)."""
    from spectool_app.context import MAX_TOOL_CHARS, gold_steps

    limit = MAX_TOOL_CHARS if max_tool_chars is None else max_tool_chars
    return {(step.turn, step.index): (compact_context(step.messages), step.tools) for step in gold_steps(task, limit)}


def refresh_contexts(rows: Sequence[dict[str, Any]], tasks: Iterable[Any],
                     max_tool_chars: Optional[int] = None, progress: bool = False) -> list[dict[str, Any]]:
    """``rows`` with ``context`` and ``id`` recomputed by today's :func:`compact_context`.

    Each row's step is replayed with gold history (no drafter, no forks), so a change to how
    the verifier's context is written reaches existing pair files in seconds instead of a
    rebuild; drafts, labels and every other field are kept, and rows that now coincide are
    deduplicated.

    Raises:
        ValueError: a row's task is not among ``tasks``, or the task has no such step.
    """
    from tqdm.auto import tqdm

    by_id = {task.id: task for task in tasks}
    missing = sorted({str(row.get("task_id")) for row in rows} - set(by_id))
    if missing:
        raise ValueError(f"{len(missing)} task id(s) of the pairs are not in their splits' task sets "
                         f"(first: {missing[0]!r}); were they built with another --seed?")
    contexts: dict[tuple[str, int, int], str] = {}
    for task_id in tqdm(sorted({str(row["task_id"]) for row in rows}), desc="replay", unit="task",
                        disable=not progress):
        for (turn, index), (context, _) in step_inputs(by_id[task_id], max_tool_chars).items():
            contexts[(task_id, turn, index)] = context
    out = []
    for row in rows:
        key = (str(row["task_id"]), int(row["turn"]), int(row["step"]))
        if key not in contexts:
            raise ValueError(f"pair {row.get('id')}: task {key[0]} has no turn {key[1]} step {key[2]}")
        context = contexts[key]
        draft = action_from_json(row["draft"])
        out.append({**row, "context": context,
                    "id": pair_id(*key, context, draft, str(row.get("label_mode", "gold")))})
    return dedupe(out)


def dedupe(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """First row per ``id`` (same step, same compact input, same labelling mode)."""
    seen: set[str] = set()
    out = []
    for row in rows:
        if row["id"] not in seen:
            seen.add(row["id"])
            out.append(row)
    return out


def merge_texts(rows: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Rows with each (context, draft) text pair once, the first kept; and how many were dropped.

    Pair files built from different task samples share text pairs (a short request reads the
    same in two tasks); a training set needs each text once. Conflicting labels raise.

    Raises:
        ValueError: one text pair labelled both ACCEPT and REJECT, naming both rows.
    """
    first: dict[tuple[str, str], dict[str, Any]] = {}
    seen = 0
    for row in rows:
        seen += 1
        draft = row["draft"] if isinstance(row["draft"], str) else json.dumps(row["draft"], sort_keys=True)
        kept = first.setdefault((str(row["context"]), draft), row)
        if kept["label"] != row["label"]:
            raise ValueError(f"pairs {kept.get('id')} and {row.get('id')} have the same text but labels "
                             f"{kept['label']} and {row['label']}")
    return list(first.values()), seen - len(first)


def class_balance(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``{"rows", "accept", "reject", "accept_share", "by_kind": {kind: [accept, reject]}}``."""
    accept = sum(r["label"] for r in rows)
    by_kind: dict[str, list[int]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], [0, 0])[0 if row["label"] else 1] += 1
    return {"rows": len(rows), "accept": accept, "reject": len(rows) - accept,
            "accept_share": round(accept / len(rows), 4) if rows else 0.0, "by_kind": dict(sorted(by_kind.items()))}


def write_pairs(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write rows as JSON Lines (parent folders created)."""
    return write_jsonl(rows, path)


def load_pairs(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a pair file written by :func:`write_pairs`.

    Raises:
        FileNotFoundError: naming the file and the command that builds it.
        ValueError: a line that is not a JSON object with ``context``, ``draft`` and ``label``.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no pair file {source}; build it with `python -m spectool_app build-pairs`")
    rows = []
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not {"context", "draft", "label"} <= set(row) or row["label"] not in (0, 1):
            raise ValueError(f"{source}:{number}: a pair row needs context, draft and label 0|1")
        rows.append(row)
    return rows


# ---------------------------------------------------------------- building


def split_tasks(split: str, options: PairOptions = PairOptions()) -> list[Any]:
    """The tasks whose steps become ``split`` pairs (see :data:`SPLIT_SOURCES`), safety twins adjacent."""
    from spectool_app.tasks import load_tasks, safety

    if split not in SPLIT_SOURCES:
        raise ValueError(f"unknown pair split {split!r}; valid splits: {', '.join(SPLIT_SOURCES)}")
    unknown = [s for s in options.sources or () if s not in SPLIT_SOURCES[split]]
    if unknown:
        raise ValueError(f"unknown task source(s) {unknown} for the {split} split; "
                         f"valid sources: {', '.join(SPLIT_SOURCES[split])}")
    tasks: list[Any] = []
    for source in [s for s in SPLIT_SOURCES[split] if options.sources is None or s in options.sources]:
        if source == "safety" and split == "train":
            found = safety.training_tasks(seed=options.seed, n=options.safety_train_pairs)
        else:
            found = load_tasks(source, split, seed=options.seed)
        if options.max_tasks is not None and len(found) > options.max_tasks:
            if source == "safety":  # keep twins together: sample pairs
                pairs = [found[i:i + 2] for i in range(0, len(found), 2)]
                picked = random.Random(f"{options.seed}|{source}|{split}").sample(pairs, max(1, options.max_tasks // 2))
                found = [t for pair in picked for t in pair]
            else:
                found = random.Random(f"{options.seed}|{source}|{split}").sample(found, options.max_tasks)
        tasks.extend(found)
    return tasks


def twin_reasons(tasks: Iterable[Any]) -> dict[str, str]:
    """Safety pair id -> the unsafe twin's refusal reason (for ``over_block`` negatives)."""
    reasons = {}
    for task in tasks:
        if task.safety_label == "unsafe":
            blocked = [a for turn in task.gold for a in turn if isinstance(a, Blocked)]
            if blocked:
                reasons[task.meta.get("pair", "")] = blocked[0].reason
    return reasons


def propose_all(model: Any, states: Sequence[StepState], batch_size: int, temperature: float = 0.0,
                max_new_tokens: Optional[int] = None,
                on_batch: Optional[Callable[[int], None]] = None) -> list[Optional[Action]]:
    """One proposal per state (batched per tool list); None where the reply did not parse.

    ``temperature`` (and ``max_new_tokens`` when given and the model has that setting) apply
    to these calls only; the model's own settings are restored afterwards. ``on_batch`` is
    called with the number of states each finished batch covered (for progress display).
    """
    if not hasattr(model, "temperature"):
        raise ValueError(f"model {getattr(model, 'name', model)!r} has no temperature setting to sample with")
    saved, model.temperature = model.temperature, temperature
    saved_cap = getattr(model, "max_new_tokens", None)
    if max_new_tokens is not None and saved_cap is not None:
        model.max_new_tokens = max_new_tokens
    try:
        out: list[Optional[Action]] = [None] * len(states)
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, state in enumerate(states):
            groups.setdefault(tuple((t.get("function") or t)["name"] for t in state.tools), []).append(i)
        for members in groups.values():
            for start in range(0, len(members), batch_size):
                chunk = members[start:start + batch_size]
                proposals = model.propose_batch([states[i].messages for i in chunk], states[chunk[0]].tools)
                for i, proposal in zip(chunk, proposals):
                    out[i] = proposal.action
                if on_batch is not None:
                    on_batch(len(chunk))
        return out
    finally:
        model.temperature = saved
        if saved_cap is not None:
            model.max_new_tokens = saved_cap


def _label_chunk(states: list[StepState], split: str, drafter: Any, options: PairOptions,
                 target: Any, reasons: dict[str, str], pools: dict[str, list[str]],
                 on_batch: Optional[Callable[[int], None]] = None) -> list[dict[str, Any]]:
    drafts: list[list[tuple[str, Action]]] = [[] for _ in states]
    for sample in range(options.samples + 1):
        temperature = 0.0 if sample == 0 else options.temperature
        for i, action in enumerate(propose_all(drafter, states, options.batch_size, temperature,
                                               options.max_new_tokens, on_batch)):
            if action is not None:
                drafts[i].append(("sampled", action))
    references = (propose_all(target, states, options.batch_size, 0.0, options.max_new_tokens, on_batch)
                  if options.label == "target" else [None] * len(states))
    rows = []
    for state, candidates, reference in zip(states, drafts, references):
        rng = random.Random(f"{options.seed}|{state.task.id}|{state.turn}|{state.index}")
        if options.include_gold:
            candidates.append(("gold", state.gold))
        candidates += hard_negatives(state, rng, options.negatives, reasons, pools[state.task.id])
        for kind, action in candidates:
            label = (gold_label(state, action) if options.label == "gold"
                     else agreement_label(state, action, reference))
            if label and options.label == "gold" and kind in HARD_NEGATIVE_KINDS:
                continue  # e.g. a perturbed password the back-end ignores: same effect, but no lesson
            rows.append(make_row(state, split, action, label, kind, options.label))
    return rows


def build_pairs(split: str, drafter: Any, options: PairOptions = PairOptions(), target: Any = None,
                tasks: Optional[list[Any]] = None, progress: bool = True) -> list[dict[str, Any]]:
    """Pairs for every gold step of ``split``'s tasks (or of ``tasks``), deduplicated.

    Args:
        split: "train", "dev" or "test" (names the rows and picks the tasks).
        drafter: a ChatModel with ``propose_batch`` and a ``temperature`` attribute.
        options: see :class:`PairOptions`.
        target: needed when ``options.label == "target"``.
        tasks: override the task list (tests).

    Raises:
        ValueError: unknown split or labelling mode, or target labels without a target.
    """
    from tqdm.auto import tqdm

    if options.label not in LABEL_MODES:
        raise ValueError(f"unknown labelling mode {options.label!r}; valid modes: {', '.join(LABEL_MODES)}")
    if options.label == "target" and target is None:
        raise ValueError("--label target needs the target model")
    tasks = split_tasks(split, options) if tasks is None else tasks
    reasons, pools = twin_reasons(tasks), {t.id: string_pool(t) for t in tasks}
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(tasks), desc=f"pairs {split}", unit="task", disable=not progress)
    for start in range(0, len(tasks), options.chunk_tasks):
        chunk = tasks[start:start + options.chunk_tasks]
        states = [s for task in chunk for s in replay_states(task, options.max_tool_chars)]
        # a chunk of long tasks takes many minutes: show its proposals as they finish
        total = len(states) * (options.samples + 1 + (options.label == "target"))
        done = 0

        def show(count: int) -> None:
            nonlocal done
            done += count
            bar.set_postfix_str(f"proposals {done}/{total} of tasks {start + 1}-{start + len(chunk)}")

        rows.extend(_label_chunk(states, split, drafter, options, target, reasons, pools,
                                 show if progress else None))
        bar.update(len(chunk))
    bar.close()
    return dedupe(rows)
