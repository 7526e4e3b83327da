"""Read (and label) the store for the views, the CLI and the benchmark; plain dicts and lists only.

Actions come back as their stored JSON text (``action_to_json`` form, or None); config,
models and verdict detail as dicts; times as ISO 8601 strings in UTC. Metric formulas follow
DESIGN.md: acceptance = accepted drafts / steps (a draft executed without a verdict, as in
draft_only, counts as accepted); target calls = target proposals whose action was needed
(purpose execute or fallback; shadow and wasted ones are counted apart); target-call savings =
1 - target calls / steps; false-accept rate = accepted wrong drafts / wrong drafts (where gold
is known); pass rate = passed episodes / finished episodes.

This module knows nothing about models, the loop or the UI; it compares actions only as
stored JSON text (the loop's own equivalence is what fills ``draft_correct``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Union

from sqlalchemy import Engine, Integer, and_, cast, func
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, select

from db.engine import StoreError, describe_failure, write_engine
from db.tables import (ANNOTATION_LABELS, RUN_STATUSES, Annotation, Draft, Episode, Fallback, PolicyCheck, Run,
                       Step, ToolExecution, Verdict, utcnow)
from spectool_app.events import TARGET_CALL_PURPOSES
from spectool_app.jsonl import write_jsonl
from spectool_app.metrics import speedup_bound
from spectool_app.actions import ACTION_KINDS, ActionError, action_from_dict, action_from_json, action_to_json

QUEUE_ORDERS = ("uncertainty", "disagreement")  # verdict_queue orders
STAGE_COLUMNS = ("t_draft", "t_verify", "t_fallback", "t_policy", "t_tool", "t_overhead", "t_total")
NEEDED_TARGET = TARGET_CALL_PURPOSES  # target calls that decided a step (events.TARGET_CALL_PURPOSES)
RUNS_HINT = "list runs with `python -m spectool_app runs list`"


def iso(value: Optional[datetime]) -> Optional[str]:
    """ISO 8601 text of a datetime (UTC), None stays None."""
    return None if value is None else value.isoformat()


def _loads(text: Optional[str]) -> Any:
    return None if text in (None, "") else json.loads(text)


def _ratio(num: float, den: float) -> Optional[float]:
    return None if not den else num / den


def _parse_time(value: Union[str, datetime, None], name: str) -> Optional[datetime]:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise StoreError(f"{name} must be an ISO date or datetime such as 2026-11-28, got {value!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _run_dict(run: Any) -> dict[str, Any]:
    return {"id": run.id, "created_at": iso(run.created_at), "finished_at": iso(run.finished_at),
            "status": run.status, "mode": run.mode, "verifier": run.verifier, "threshold": run.threshold,
            "preset": run.preset, "task_set": run.task_set, "config": _loads(run.config) or {},
            "models": _loads(run.models) or {}, "notes": run.notes}


def _require_run(conn: Connection, run_id: int) -> Any:
    run = conn.execute(select(Run).where(Run.id == run_id)).first()
    if run is None:
        raise StoreError(f"unknown run {run_id}; {RUNS_HINT}")
    return run


# -- runs -------------------------------------------------------------------------------------
def list_runs(engine: Engine, *, mode: Optional[str] = None, verifier: Optional[str] = None,
              status: Optional[str] = None, passed: Optional[bool] = None,
              since: Union[str, datetime, None] = None, until: Union[str, datetime, None] = None,
              labeled: Optional[bool] = None, limit: int = 500) -> list[dict[str, Any]]:
    """Runs, newest first, with episode, pass and step counts.

    Args:
        passed: True: runs whose finished episodes all passed; False: runs with a failed episode.
        since, until: creation time bounds (ISO text or datetime; naive means UTC).
        labeled: True: runs with at least one annotation; False: runs with none.

    Raises:
        StoreError: unknown status or a malformed date.
    """
    if status is not None and status not in RUN_STATUSES:
        raise StoreError(f"unknown run status {status!r}; allowed: {', '.join(RUN_STATUSES)}")
    since_t, until_t = _parse_time(since, "since"), _parse_time(until, "until")
    ep = (select(Episode.run_id, func.count().label("episodes"),
                 func.count(Episode.passed).label("finished"),
                 func.sum(cast(Episode.passed, Integer)).label("passed_n"))
          .group_by(Episode.run_id).subquery())
    st = (select(Episode.run_id, func.count(Step.id).label("steps"))
          .join(Step, Step.episode_id == Episode.id).group_by(Episode.run_id).subquery())
    an = (select(Episode.run_id, func.count(Annotation.id).label("labels"))
          .join(Step, Step.episode_id == Episode.id).join(Verdict, Verdict.step_id == Step.id)
          .join(Annotation, Annotation.verdict_id == Verdict.id).group_by(Episode.run_id).subquery())
    query = (select(Run, func.coalesce(ep.c.episodes, 0), func.coalesce(ep.c.finished, 0),
                    func.coalesce(ep.c.passed_n, 0), func.coalesce(st.c.steps, 0), func.coalesce(an.c.labels, 0))
             .outerjoin(ep, ep.c.run_id == Run.id).outerjoin(st, st.c.run_id == Run.id)
             .outerjoin(an, an.c.run_id == Run.id))
    conditions = [column == value for column, value in ((Run.mode, mode), (Run.verifier, verifier),
                                                       (Run.status, status)) if value is not None]
    if since_t is not None:
        conditions.append(Run.created_at >= since_t)
    if until_t is not None:
        conditions.append(Run.created_at <= until_t)
    if passed is True:
        conditions += [func.coalesce(ep.c.finished, 0) > 0, ep.c.finished == ep.c.passed_n]
    elif passed is False:
        conditions.append(func.coalesce(ep.c.finished, 0) > func.coalesce(ep.c.passed_n, 0))
    if labeled is not None:
        conditions.append(func.coalesce(an.c.labels, 0) > 0 if labeled else func.coalesce(an.c.labels, 0) == 0)
    query = query.where(and_(True, *conditions)).order_by(Run.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for row in rows:
        run_part = _run_dict(row)
        episodes, finished, passed_n, steps, labels = row[-5:]
        run_part.update(episodes=episodes, episodes_passed=int(passed_n), steps=steps, labels=labels,
                        pass_rate=_ratio(int(passed_n), finished))
        out.append(run_part)
    return out



def run_episodes(engine: Engine, run_id: int) -> list[dict[str, Any]]:
    """The run's episodes in order (per-task tables and latency scatter plots).

    Raises:
        StoreError: unknown run.
    """
    with engine.connect() as conn:
        _require_run(conn, run_id)
        rows = conn.execute(select(Episode).where(Episode.run_id == run_id).order_by(Episode.id)).all()
    return [{"id": r.id, "run_id": r.run_id, "task_id": r.task_id, "source": r.source, "split": r.split,
             "mode": r.mode, "n_turns": r.n_turns, "passed": r.passed, "check_message": r.check_message,
             "wall_s": r.wall_s, "steps": r.steps, "started_at": iso(r.started_at),
             "finished_at": iso(r.finished_at)} for r in rows]


def _step_rows(conn: Connection, run_id: int) -> list[Any]:
    query = (select(Step, Episode.task_id, Episode.run_id).join(Episode, Episode.id == Step.episode_id)
             .where(Episode.run_id == run_id).order_by(Episode.id, Step.turn, Step.index, Step.id))
    return conn.execute(query).all()


def _children(conn: Connection, table: Any, run_id: int) -> dict[int, list[Any]]:
    """step_id -> rows of ``table`` (Draft, Verdict, ...) for every step of the run, in insert order."""
    query = (select(table).join(Step, Step.id == table.step_id).join(Episode, Episode.id == Step.episode_id)
             .where(Episode.run_id == run_id).order_by(table.id))
    out: dict[int, list[Any]] = {}
    for row in conn.execute(query):
        out.setdefault(row.step_id, []).append(row)
    return out


def _accepted(step: Any, verdicts: list[Any]) -> bool:
    """A step's draft was accepted: a verdict accepted it, or it ran without a verdict (draft_only)."""
    return any(v.accepted for v in verdicts) if verdicts else step.source == "draft"


def _mean(values: list[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def run_summary(engine: Engine, run_id: int) -> dict[str, Any]:
    """The run's fields and metrics (formulas in the module docstring).

    Raises:
        StoreError: unknown run.
    """
    with engine.connect() as conn:
        run = _require_run(conn, run_id)
        episodes = conn.execute(select(Episode.passed, Episode.wall_s).where(Episode.run_id == run_id)).all()
        steps = _step_rows(conn, run_id)
        verdicts, drafts = _children(conn, Verdict, run_id), _children(conn, Draft, run_id)
        targets, policies = _children(conn, Fallback, run_id), _children(conn, PolicyCheck, run_id)
        labels = conn.execute(select(func.count(Annotation.id)).join(Verdict, Verdict.id == Annotation.verdict_id)
                              .join(Step, Step.id == Verdict.step_id).join(Episode, Episode.id == Step.episode_id)
                              .where(Episode.run_id == run_id)).scalar_one()
    n = len(steps)
    accepted = [_accepted(s, verdicts.get(s.id, [])) for s in steps]
    a = _ratio(sum(accepted), n)
    all_targets = [t for rows in targets.values() for t in rows]
    needed = sum(t.purpose in NEEDED_TARGET for t in all_targets)
    known = [(ok, s.draft_correct) for s, ok in zip(steps, accepted) if s.draft_correct is not None]
    wrong, right = [ok for ok, c in known if not c], [ok for ok, c in known if c]
    all_drafts = [d for rows in drafts.values() for d in rows]
    latency = {"draft": _mean([d.latency for d in all_drafts]),
               "verify": _mean([v.latency for rows in verdicts.values() for v in rows]),
               "target": _mean([t.latency for t in all_targets if t.purpose != "wasted"])}
    judged = any(verdicts.values())
    fallback_rate = _ratio(sum(t.purpose == "fallback" for t in all_targets), len(steps)) if judged else None
    bound = speedup_bound(latency["draft"] or 0.0, latency["verify"] or 0.0, latency["target"], a, fallback_rate)
    finished = [e for e in episodes if e.passed is not None]
    summary = _run_dict(run)
    summary.update(
        episodes=len(episodes), episodes_finished=len(finished), episodes_passed=sum(e.passed for e in finished),
        pass_rate=_ratio(sum(e.passed for e in finished), len(finished)),
        wall_s=sum(e.wall_s or 0.0 for e in episodes), steps=n, accepted_drafts=sum(accepted),
        acceptance_rate=a, target_calls=needed,
        shadow_calls=sum(t.purpose == "shadow" for t in all_targets),
        wasted_calls=sum(t.purpose == "wasted" for t in all_targets),
        target_call_savings=None if not n else 1 - needed / n,
        parse_errors=sum(d.action is None for d in all_drafts),
        blocked_steps=sum(s.source == "blocked" for s in steps),
        policy_blocks=sum(not p.allowed for rows in policies.values() for p in rows),
        gold_known=len(known), wrong_drafts=len(wrong), false_accepts=sum(wrong),
        false_accept_rate=_ratio(sum(wrong), len(wrong)), false_rejects=sum(not ok for ok in right),
        false_reject_rate=_ratio(sum(not ok for ok in right), len(right)),
        stage_means={c: _mean([getattr(s, c) for s in steps]) for c in STAGE_COLUMNS},
        latency_means=latency, speedup_bound=bound, labels=labels,
        tokens={"drafter": {"prompt": sum(d.prompt_tokens for d in all_drafts),
                            "completion": sum(d.tokens for d in all_drafts)},
                "target": {"prompt": sum(t.prompt_tokens for t in all_targets),
                           "completion": sum(t.tokens for t in all_targets)}})
    return summary


def run_steps(engine: Engine, run_id: int) -> list[dict[str, Any]]:
    """One row per step, in order: timings, first draft, first verdict, first target proposal.

    ``target_action`` is the target's proposal of the step whatever its purpose (``target_purpose``
    says which: execute, fallback, shadow or wasted), so a shadow run can be replayed from these rows.

    Raises:
        StoreError: unknown run.
    """
    with engine.connect() as conn:
        _require_run(conn, run_id)
        steps = _step_rows(conn, run_id)
        verdicts, drafts = _children(conn, Verdict, run_id), _children(conn, Draft, run_id)
        targets, policies = _children(conn, Fallback, run_id), _children(conn, PolicyCheck, run_id)
        tools = {sid: rows for sid, rows in _tool_status(conn, run_id).items()}
        labels = _label_counts(conn, run_id)
    out = []
    for s in steps:
        verdict = (verdicts.get(s.id) or [None])[0]
        draft = (drafts.get(s.id) or [None])[0]
        target = (targets.get(s.id) or [None])[0]
        policy = (policies.get(s.id) or [None])[-1]
        row = {"step_id": s.id, "episode_id": s.episode_id, "run_id": s.run_id, "task_id": s.task_id,
               "turn": s.turn, "index": s.index, "source": s.source, "action": s.action,
               "action_kind": s.action_kind, "gold": s.gold, "draft_correct": s.draft_correct,
               "accepted": _accepted(s, verdicts.get(s.id, []))}
        row.update({c: getattr(s, c) for c in STAGE_COLUMNS})
        row.update(draft_action=draft.action if draft else None,
                   draft_parse_error=draft.parse_error if draft else None,
                   draft_latency=draft.latency if draft else None,
                   verdict_id=verdict.id if verdict else None, verifier=verdict.verifier if verdict else None,
                   p_accept=verdict.p_accept if verdict else None,
                   threshold=verdict.threshold if verdict else None,
                   verify_latency=verdict.latency if verdict else None,
                   target_action=target.action if target else None,
                   target_purpose=target.purpose if target else None,
                   target_latency=target.latency if target else None,
                   policy_allowed=policy.allowed if policy else None, policy_rule=policy.rule if policy else None,
                   tool_ok=tools.get(s.id), labels=labels.get(verdict.id, 0) if verdict else 0)
        out.append(row)
    return out


def _tool_status(conn: Connection, run_id: int) -> dict[int, bool]:
    """step_id -> whether every tool execution of the step was ok (content is not loaded)."""
    query = (select(ToolExecution.step_id, ToolExecution.ok).join(Step, Step.id == ToolExecution.step_id)
             .join(Episode, Episode.id == Step.episode_id).where(Episode.run_id == run_id))
    out: dict[int, bool] = {}
    for step_id, ok in conn.execute(query):
        out[step_id] = out.get(step_id, True) and bool(ok)
    return out


def _label_counts(conn: Connection, run_id: Optional[int]) -> dict[int, int]:
    query = (select(Annotation.verdict_id, func.count(Annotation.id)).join(Verdict, Verdict.id == Annotation.verdict_id)
             .join(Step, Step.id == Verdict.step_id).join(Episode, Episode.id == Step.episode_id)
             .group_by(Annotation.verdict_id))
    if run_id is not None:
        query = query.where(Episode.run_id == run_id)
    return dict(conn.execute(query).all())


# -- one step -----------------------------------------------------------------------------------
def _plain(row: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row as a dict; datetimes as ISO text, JSON ``detail`` parsed."""
    out = {}
    for key, value in row._mapping.items():
        if key in skip:
            continue
        out[key] = iso(value) if isinstance(value, datetime) else value
    if "detail" in out:
        out["detail"] = _loads(out["detail"]) or {}
    return out


def step_detail(engine: Engine, step_id: int) -> dict[str, Any]:
    """Everything recorded about one step: its episode and run, raw model text, full tool output.

    Raises:
        StoreError: unknown step.
    """
    with engine.connect() as conn:
        step = conn.execute(select(Step).where(Step.id == step_id)).first()
        if step is None:
            raise StoreError(f"unknown step {step_id}; take step ids from the run's step table")
        episode = conn.execute(select(Episode).where(Episode.id == step.episode_id)).first()
        run = conn.execute(select(Run).where(Run.id == episode.run_id)).first()
        children = {name: [_plain(r) for r in conn.execute(select(table).where(table.step_id == step_id)
                                                             .order_by(table.id))]
                    for name, table in (("drafts", Draft), ("verdicts", Verdict), ("fallbacks", Fallback),
                                        ("policy_checks", PolicyCheck), ("tool_executions", ToolExecution))}
        verdict_ids = [v["id"] for v in children["verdicts"]]
        annotations = conn.execute(select(Annotation).where(Annotation.verdict_id.in_(verdict_ids))
                                   .order_by(Annotation.id)).all() if verdict_ids else []
    for verdict in children["verdicts"]:
        verdict["annotations"] = [_plain(a) for a in annotations if a.verdict_id == verdict["id"]]
    detail = _plain(step)
    detail["episode"] = _plain(episode)
    detail["run"] = _run_dict(run)
    detail.update(children)
    return detail


# -- labeling -----------------------------------------------------------------------------------
def verdict_queue(engine: Engine, run_id: Optional[int] = None, order: str = "uncertainty",
                  labeled: Optional[bool] = None, annotator: Optional[str] = None,
                  verifier: Optional[str] = None, limit: Optional[int] = None) -> list[dict[str, Any]]:
    """Verdicts to label, most useful first.

    Each row carries ``uncertainty`` = |p_accept - threshold| and, where a reference exists,
    ``reference`` ("gold" from draft_correct, else "shadow": the draft's JSON equals the shadow
    target's), ``reference_correct`` and ``disagreement`` (the decision differs from the reference).

    Args:
        run_id: one run, or None for all runs.
        order: "uncertainty" (smallest margin first) or "disagreement" (disagreements first,
            then verdicts without a reference, then agreements; each by uncertainty).
        labeled: True: only labeled verdicts; False: only unlabeled; None: both. With
            ``annotator``, "labeled" means labeled by that annotator.
        annotator: whose label to show in ``label`` (default: the latest label by anyone).
        verifier: only verdicts of this verifier kind.
        limit: at most this many rows.

    Raises:
        StoreError: unknown order or unknown run.
    """
    if order not in QUEUE_ORDERS:
        raise StoreError(f"unknown queue order {order!r}; allowed: {', '.join(QUEUE_ORDERS)}")
    query = (select(Verdict, Step.turn, Step.index, Step.gold, Step.draft_correct, Step.action.label("executed"),
                    Episode.task_id, Episode.run_id).join(Step, Step.id == Verdict.step_id)
             .join(Episode, Episode.id == Step.episode_id).order_by(Verdict.id))
    with engine.connect() as conn:
        if run_id is not None:
            _require_run(conn, run_id)
            query = query.where(Episode.run_id == run_id)
        if verifier is not None:
            query = query.where(Verdict.verifier == verifier)
        verdicts = conn.execute(query).all()
        step_ids = {v.step_id for v in verdicts}
        drafts = _first_by_step(conn, select(Draft.step_id, Draft.action), step_ids, Draft)
        shadows = _first_by_step(conn, select(Fallback.step_id, Fallback.action).where(Fallback.purpose == "shadow"),
                                 step_ids, Fallback)
        notes = conn.execute(select(Annotation).where(Annotation.verdict_id.in_([v.id for v in verdicts]))
                             .order_by(Annotation.updated_at, Annotation.id)).all() if verdicts else []
    rows = [_queue_row(v, drafts.get(v.step_id), shadows.get(v.step_id), notes, annotator) for v in verdicts]
    if labeled is not None:
        rows = [r for r in rows if (r["label"] is not None) == labeled]
    if order == "uncertainty":
        rows.sort(key=lambda r: (r["uncertainty"], r["verdict_id"]))
    else:
        rank = {True: 0, None: 1, False: 2}
        rows.sort(key=lambda r: (rank[r["disagreement"]], r["uncertainty"], r["verdict_id"]))
    return rows if limit is None else rows[:limit]


def _first_by_step(conn: Connection, query: Any, step_ids: set[int], table: Any) -> dict[int, Optional[str]]:
    out: dict[int, Optional[str]] = {}
    if not step_ids:
        return out
    for step_id, action in conn.execute(query.where(table.step_id.in_(step_ids)).order_by(table.id)):
        out.setdefault(step_id, action)
    return out


def _queue_row(v: Any, draft: Optional[str], shadow: Optional[str], notes: list[Any],
               annotator: Optional[str]) -> dict[str, Any]:
    mine = [a for a in notes if a.verdict_id == v.id and (annotator is None or a.annotator == annotator)]
    if v.draft_correct is not None:
        reference, correct = "gold", bool(v.draft_correct)
    elif shadow is not None:
        reference, correct = "shadow", draft is not None and draft == shadow
    else:
        reference, correct = None, None
    return {"verdict_id": v.id, "step_id": v.step_id, "run_id": v.run_id, "task_id": v.task_id,
            "turn": v.turn, "index": v.index, "verifier": v.verifier, "p_accept": v.p_accept,
            "threshold": v.threshold, "accepted": v.accepted, "uncertainty": abs(v.p_accept - v.threshold),
            "draft_action": draft, "executed_action": v.executed, "gold": v.gold, "shadow_action": shadow,
            "reference": reference, "reference_correct": correct,
            "disagreement": None if correct is None else bool(v.accepted) != correct,
            "label": mine[-1].label if mine else None, "labels": sum(a.verdict_id == v.id for a in notes)}


def _corrected_json(corrected: Any) -> Optional[str]:
    """Validate a corrected action (Action, dict, JSON text or empty) into stored JSON text."""
    if corrected is None or (isinstance(corrected, str) and not corrected.strip()):
        return None
    try:
        if isinstance(corrected, str):
            action = action_from_json(corrected)
        elif isinstance(corrected, dict):
            action = action_from_dict(corrected)
        else:
            action = corrected
        return action_to_json(action)
    except (ActionError, AttributeError) as exc:
        raise StoreError(f"corrected action is not an action ({exc}); give JSON such as "
                         '{"kind": "tool_call", "name": "ls", "arguments": {}}, kinds: '
                         f"{', '.join(ACTION_KINDS)}") from exc


def upsert_annotation(engine: Engine, verdict_id: int, label: str, annotator: str,
                      corrected_action: Any = None, note: str = "") -> dict[str, Any]:
    """Create or update the one annotation of ``annotator`` on a verdict; returns it as a dict.

    Raises:
        StoreError: unknown label (names the allowed ones), empty annotator, unknown verdict,
            or a corrected action that is not an action.
    """
    if label not in ANNOTATION_LABELS:
        raise StoreError(f"unknown label {label!r}; allowed: {', '.join(ANNOTATION_LABELS)}")
    annotator = (annotator or "").strip()
    if not annotator:
        raise StoreError("annotator name is empty; give a name so labels can be told apart")
    corrected = _corrected_json(corrected_action)
    for attempt in range(2):  # a concurrent insert of the same (verdict, annotator) -> update on retry
        try:
            with Session(write_engine(engine), expire_on_commit=False) as session:
                if session.get(Verdict, verdict_id) is None:
                    raise StoreError(f"unknown verdict {verdict_id}; take verdict ids from the queue")
                row = session.exec(select(Annotation).where(Annotation.verdict_id == verdict_id,
                                                            Annotation.annotator == annotator)).first()
                if row is None:
                    row = Annotation(verdict_id=verdict_id, annotator=annotator, label=label)
                row.label, row.corrected_action, row.note, row.updated_at = label, corrected, note or "", utcnow()
                session.add(row)
                session.commit()
                return _plain_model(row)
        except IntegrityError:
            if attempt:
                raise
        except SQLAlchemyError as exc:
            raise StoreError(describe_failure(engine, exc)) from exc
    raise AssertionError("unreachable")


def _plain_model(row: Annotation) -> dict[str, Any]:
    return {"id": row.id, "verdict_id": row.verdict_id, "label": row.label,
            "corrected_action": row.corrected_action, "note": row.note, "annotator": row.annotator,
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def _pair_label(label: str, accepted: bool) -> str:
    """ACCEPT when the draft was acceptable according to the annotation, else REJECT."""
    if label == "correct":
        return "ACCEPT" if accepted else "REJECT"
    return "ACCEPT" if label == "false_reject" else "REJECT"  # false_accept, should_block: the draft was wrong


def export_pairs(engine: Engine, path: Union[str, Path, None] = None, *, run_id: Optional[int] = None,
                 annotator: Optional[str] = None) -> list[dict[str, Any]]:
    """Labeled verdicts as ACCEPT/REJECT rows; written as JSON Lines to ``path`` when given.

    One row per labeled verdict whose draft parsed (the latest annotation, or ``annotator``'s):
    ``{"run_id", "task_id", "episode_id", "turn", "step", "step_id", "verdict_id", "user_text",
    "draft": action dict, "label": "ACCEPT"|"REJECT", "annotator", "origin": "annotation"}``;
    a corrected action adds a row with ``"origin": "correction"`` and label ACCEPT.

    Raises:
        StoreError: unknown run.
    """
    query = (select(Annotation.verdict_id, Annotation.label, Annotation.corrected_action, Annotation.annotator,
                    Verdict.accepted, Verdict.step_id, Step.turn, Step.index, Step.user_text, Episode.task_id,
                    Episode.id.label("episode_id"), Episode.run_id)
             .join(Verdict, Verdict.id == Annotation.verdict_id).join(Step, Step.id == Verdict.step_id)
             .join(Episode, Episode.id == Step.episode_id).order_by(Annotation.updated_at, Annotation.id))
    if annotator is not None:
        query = query.where(Annotation.annotator == annotator)
    with engine.connect() as conn:
        if run_id is not None:
            _require_run(conn, run_id)
            query = query.where(Episode.run_id == run_id)
        latest = {row.verdict_id: row for row in conn.execute(query)}  # later rows win
        drafts = _first_by_step(conn, select(Draft.step_id, Draft.action), {r.step_id for r in latest.values()},
                                Draft)
    rows: list[dict[str, Any]] = []
    for verdict_id in sorted(latest):
        note = latest[verdict_id]
        base = {"run_id": note.run_id, "task_id": note.task_id, "episode_id": note.episode_id, "turn": note.turn,
                "step": note.index, "step_id": note.step_id, "verdict_id": verdict_id, "user_text": note.user_text,
                "annotator": note.annotator}
        draft = drafts.get(note.step_id)
        if draft is not None:
            rows.append({**base, "draft": json.loads(draft), "label": _pair_label(note.label, note.accepted),
                         "origin": "annotation"})
        if note.corrected_action and note.corrected_action != draft:
            rows.append({**base, "draft": json.loads(note.corrected_action), "label": "ACCEPT",
                         "origin": "correction"})
    if path is not None:
        write_jsonl(rows, path)
    return rows
