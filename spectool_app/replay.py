"""Counterfactual replay: re-judge a recorded shadow run with another verifier or threshold.

A ``shadow`` run records, on every step, the drafter's draft and the target's own action
(executed on rejection, recorded beside the draft on acceptance). That is enough to ask "what
if this verifier, at this threshold, had decided?" without calling any model. Replayable kinds:

- ``always`` / ``never``: ``p_accept`` 1 / 0;
- ``confidence``: ``exp(mean log-prob)`` of the stored draft (0 when none was reported);
- ``exact_match``: 1 when the draft is equivalent to the recorded target action
  (``spectool_app.signatures.equivalent`` with the task's tools at that turn), else 0;
- the run's own verifier: its stored ``p_accept`` against the new threshold.

A draft that did not parse is never accepted. Estimates (each step of the recorded trajectory):

- acceptance rate = accepted drafts / steps;
- target-call savings = 1 - target calls / steps, where a rejected step costs one target call
  and ``exact_match`` costs one on every step (it generates the target's action to compare);
- estimated pass rate = estimated passing episodes / finished episodes, where an episode is
  estimated to pass when it passed in the recorded run and every *newly* accepted draft (accepted
  here, not executed in the recording) agrees with the target's action. This assumes the
  trajectory is unchanged when they agree, and that executing the target's action where the
  recording executed the draft does no worse; it does not re-run the checker;
- speedup estimate, the analytical bound of ``spectool_app.metrics``
  ``t_T / (t_d + t_v + (1 - a) t_T)`` from the recorded stage means (draft, target), with
  ``t_v`` the recorded verify mean for the run's own verifier and 0 for always, never and
  confidence; for ``exact_match`` the verifier's generation is the fallback, so
  ``t_T / (t_d + t_T)``;
- false accepts / rejects against the target's action as the label (agreement).

This module knows nothing about models or the UI; it reads the store and the task sources.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Optional

from sqlalchemy import Engine
from sqlmodel import select

from db.queries import run_episodes, run_steps, run_summary
from db.tables import Draft, Episode, Step
from spectool_app.actions import Action, ActionError, ToolCall, action_from_json
from spectool_app.metrics import speedup_bound
from spectool_app.signatures import equivalent

COMPUTED_KINDS = ("always", "never", "confidence", "exact_match")  # replayable from any shadow run
REPLAY_MODE = "shadow"


def _ratio(num: float, den: float) -> Optional[float]:
    return num / den if den else None


def _mean(values: list[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def _action(text: Optional[str]) -> Optional[Action]:
    if not text:
        return None
    try:
        return action_from_json(text)
    except ActionError:
        return None


def _draft_logprobs(engine: Engine, run_id: int) -> dict[int, Optional[float]]:
    """step_id -> mean log-prob of the step's first draft."""
    query = (select(Draft.step_id, Draft.mean_logprob).join(Step, Step.id == Draft.step_id)
             .join(Episode, Episode.id == Step.episode_id).where(Episode.run_id == run_id).order_by(Draft.id))
    out: dict[int, Optional[float]] = {}
    with engine.connect() as conn:
        for step_id, logprob in conn.execute(query):
            out.setdefault(step_id, logprob)
    return out


@functools.lru_cache(maxsize=8)
def _task_index(source: str, split: str, seed: int) -> dict[str, Any]:
    """{task id: Task} of one source and split (cached: the UI replays the same run again and again)."""
    from spectool_app.tasks import SOURCES, SPLITS, load_tasks

    if source not in SOURCES:
        return {}
    return {t.id: t for t in load_tasks(source, split if split in SPLITS else None, seed=seed)}


class _ToolLookup:
    """Tool schemas per (task id, turn), from the task sources (``[]`` for a task that is gone)."""

    def __init__(self, splits: dict[int, str], seed: int) -> None:
        self.splits = splits  # episode id -> the task's split
        self.seed = seed  # task generation seed of the recorded run
        self._tools: dict[tuple[str, int], list[dict[str, Any]]] = {}  # (task id, turn) -> schemas

    def __call__(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        key = (row["task_id"], row["turn"])
        if key not in self._tools:
            self._tools[key] = self._load(row["task_id"], self.splits.get(row["episode_id"], ""), row["turn"])
        return self._tools[key]

    def _load(self, task_id: str, split: str, turn: int) -> list[dict[str, Any]]:
        from spectool_app.envs import Episode as ToolEpisode

        task = _task_index(task_id.partition(":")[0], split, self.seed).get(task_id)
        if task is None or not 0 <= turn < len(task.turns):
            return []
        return ToolEpisode(task).tools(turn)


def _agrees(draft: Optional[Action], target: Optional[Action], row: dict[str, Any], tools: _ToolLookup) -> bool:
    """Signature-bound equivalence; the task's schemas are looked up only when the spelling matters."""
    if draft is None or target is None:
        return False
    if draft == target:
        return True
    if isinstance(draft, ToolCall) and isinstance(target, ToolCall) and draft.name == target.name:
        return equivalent(draft, target, tools(row))
    return equivalent(draft, target, [])


def _scorer(kind: str, run_verifier: str) -> Callable[[dict[str, Any], Optional[float], bool], float]:
    """p_accept of a step from its row, its draft's mean log-prob and whether draft and target agree."""
    if kind == "always":
        return lambda row, logprob, agrees: 1.0
    if kind == "never":
        return lambda row, logprob, agrees: 0.0
    if kind == "confidence":
        return lambda row, logprob, agrees: 0.0 if logprob is None else min(1.0, math.exp(logprob))
    if kind == "exact_match":
        return lambda row, logprob, agrees: 1.0 if agrees else 0.0
    if kind == run_verifier:
        return lambda row, logprob, agrees: 0.0 if row["p_accept"] is None else float(row["p_accept"])
    own = (run_verifier,) if run_verifier and run_verifier not in COMPUTED_KINDS else ()
    allowed = ", ".join(COMPUTED_KINDS + own)
    raise ValueError(f"verifier {kind!r} cannot be replayed from the records; replayable: {allowed}")


def _speedup(kind: str, run_verifier: str, a: Optional[float], means: dict[str, Optional[float]]) -> Optional[float]:
    t_draft, t_target = means["draft"] or 0.0, means["target"]
    if kind == "exact_match":  # the target always runs to judge; a rejection reuses its action
        return speedup_bound(t_draft, t_target or 0.0, t_target, a, fallback_rate=0.0)
    t_verify = (means["verify"] or 0.0) if kind == run_verifier else 0.0
    return speedup_bound(t_draft, t_verify, t_target, a)


def replay_run(engine: Engine, run_id: int, verifier: str, threshold: float) -> dict[str, Any]:
    """Re-judge recorded shadow run ``run_id`` with ``verifier`` at ``threshold`` (no model calls).

    Args:
        engine: the store.
        run_id: a run recorded in mode ``shadow``.
        verifier: a kind of :data:`COMPUTED_KINDS` or the run's own verifier kind.
        threshold: decision threshold in [0, 1]; a draft is accepted when ``p_accept >= threshold``.

    Returns:
        The estimates of the module docstring (``acceptance_rate``, ``target_call_savings``,
        ``estimated_pass_rate``, ``speedup_estimate``, false accept/reject rates against the
        target, counts), the recorded values beside them (``recorded_*``), the stage means used
        (``stage_means_s``) and one ``decisions`` row per step (step_id, task_id, turn, index,
        p_accept, accepted, agrees).

    Raises:
        ValueError: a threshold outside [0, 1], a run that is not a shadow run, or a kind that
            cannot be replayed (the message names the replayable ones).
        StoreError: unknown run.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a number between 0 and 1, got {threshold!r}")
    summary = run_summary(engine, run_id)
    if summary["mode"] != REPLAY_MODE:
        raise ValueError(f"run {run_id} was recorded in mode {summary['mode']!r}; replay needs a shadow run "
                         "(the target's action recorded on every step): record one with "
                         "`python -m spectool_app run --mode shadow ...`")
    score = _scorer(verifier, summary["verifier"])
    rows = run_steps(engine, run_id)
    logprobs = _draft_logprobs(engine, run_id)
    splits = {e["id"]: e["split"] for e in run_episodes(engine, run_id)}
    tools = _ToolLookup(splits, int((summary["config"] or {}).get("seed", 0)))
    decisions = []
    for row in rows:
        draft, target = _action(row["draft_action"]), _action(row["target_action"])
        agrees = _agrees(draft, target, row, tools)
        p = None if draft is None else score(row, logprobs.get(row["step_id"]), agrees)
        decisions.append({"step_id": row["step_id"], "episode_id": row["episode_id"], "task_id": row["task_id"],
                          "turn": row["turn"], "index": row["index"], "p_accept": p,
                          "accepted": p is not None and p >= threshold, "agrees": agrees,
                          "recorded_source": row["source"]})
    passing, pass_rate = _estimated_passes(engine, run_id, decisions)
    result = {"run_id": run_id, "verifier": verifier, "threshold": float(threshold)}
    result.update(_estimates(decisions, verifier, summary, rows))
    result.update(episodes_passed_estimate=passing, estimated_pass_rate=pass_rate, decisions=decisions)
    return result


def _estimates(decisions: list[dict[str, Any]], verifier: str, summary: dict[str, Any],
               rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(decisions)
    accepted = sum(d["accepted"] for d in decisions)
    a = _ratio(accepted, n)
    target_calls = n if verifier == "exact_match" else n - accepted
    judged = [d for d in decisions if d["p_accept"] is not None]
    wrong, right = [d for d in judged if not d["agrees"]], [d for d in judged if d["agrees"]]
    means = {"draft": _mean([r["draft_latency"] for r in rows if r["draft_latency"] is not None]),
             "verify": _mean([r["verify_latency"] for r in rows if r["verify_latency"] is not None]),
             "target": _mean([r["target_latency"] for r in rows if r["target_latency"] is not None])}
    return {
        "steps": n, "accepted_drafts": accepted, "acceptance_rate": a, "target_calls": target_calls,
        "target_call_savings": None if not n else 1 - target_calls / n,
        "false_accepts": sum(d["accepted"] for d in wrong),
        "false_accept_rate": _ratio(sum(d["accepted"] for d in wrong), len(wrong)),
        "false_rejects": sum(not d["accepted"] for d in right),
        "false_reject_rate": _ratio(sum(not d["accepted"] for d in right), len(right)),
        "agreement_rate": _ratio(len(right), n),
        "speedup_estimate": _speedup(verifier, summary["verifier"], a, means), "stage_means_s": means,
        "recorded_verifier": summary["verifier"], "recorded_threshold": summary["threshold"],
        "recorded_acceptance_rate": summary["acceptance_rate"], "recorded_pass_rate": summary["pass_rate"],
        "episodes": summary["episodes_finished"],
    }


def _estimated_passes(engine: Engine, run_id: int, decisions: list[dict[str, Any]]) -> tuple[int, Optional[float]]:
    """(estimated passing episodes, their share of finished episodes); rule in the module docstring."""
    spoiled = {d["episode_id"] for d in decisions
               if d["accepted"] and d["recorded_source"] != "draft" and not d["agrees"]}
    finished = [e for e in run_episodes(engine, run_id) if e["passed"] is not None]
    passing = sum(bool(e["passed"]) and e["id"] not in spoiled for e in finished)
    return passing, _ratio(passing, len(finished))
