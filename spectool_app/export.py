"""Export a recorded run: JSON Lines (one object per step) or OpenTelemetry GenAI spans as JSON.

- ``jsonl``: one object per step, in order, with the step's executed action, gold, timings and
  every row recorded inside it: drafts, verdicts, target proposals ("fallbacks", with their
  purpose), policy checks and tool executions (tool output in full, as stored).
- ``otel``: one OTLP/JSON document (``{"resourceSpans": [...]}``, the encoding of the
  OpenTelemetry protocol's JSON form, which collectors and trace viewers import): a run span,
  an episode span per task, a step span per step and, under each step, child spans for the
  drafter call, the verifier, the target call(s) and the tool execution. Attributes follow the
  GenAI semantic conventions (``gen_ai.operation.name`` = ``chat`` / ``execute_tool``,
  ``gen_ai.request.model``, ``gen_ai.usage.input_tokens`` / ``output_tokens``,
  ``gen_ai.tool.name``, ``gen_ai.tool.call.arguments`` / ``result``) plus ``spectool.*``.
  Trace and span ids are hex (32 and 16 digits), derived from the run and row ids, so an export
  is reproducible; times are unix nanoseconds written as decimal strings, as OTLP/JSON writes
  64-bit integers. The JSON is built here, with no OpenTelemetry dependency.

Span times are reconstructed: the store keeps each step's commit time (its end) and stage
durations, so a step starts at ``end - t_total`` and its child spans follow one another in
stage order (in ``parallel`` mode target calls start with the step). This module knows nothing
about models or the UI: it only reads the store.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Optional

from sqlalchemy import Engine
from sqlmodel import Session, select

from db.engine import StoreError
from db.queries import RUNS_HINT
from db.tables import Draft, Episode, Fallback, PolicyCheck, Run, Step, ToolExecution, Verdict

FORMATS = ("jsonl", "otel")
CHILD_TABLES = {"drafts": Draft, "verdicts": Verdict, "fallbacks": Fallback, "policy_checks": PolicyCheck,
                "tool_executions": ToolExecution}
SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT = 1, 3  # OTLP SpanKind values
STATUS_OK, STATUS_ERROR = 1, 2  # OTLP StatusCode values
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _loads(text: Optional[str]) -> Any:
    return None if text in (None, "") else json.loads(text)


def load_run(engine: Engine, run_id: int) -> dict[str, Any]:
    """The run's rows: ``{"run", "episodes", "steps": {episode_id: [Step]}, <child table>: {step_id: [row]}}``.

    Raises:
        StoreError: unknown run.
    """
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise StoreError(f"unknown run {run_id}; {RUNS_HINT}")
        episodes = session.exec(select(Episode).where(Episode.run_id == run_id).order_by(Episode.id)).all()
        steps: dict[int, list[Step]] = {e.id: [] for e in episodes}
        query = (select(Step).join(Episode, Episode.id == Step.episode_id).where(Episode.run_id == run_id)
                 .order_by(Step.episode_id, Step.turn, Step.index, Step.id))
        for step in session.exec(query):
            steps[step.episode_id].append(step)
        record: dict[str, Any] = {"run": run, "episodes": list(episodes), "steps": steps}
        for name, table in CHILD_TABLES.items():
            rows: dict[int, list[Any]] = {}
            query = (select(table).join(Step, Step.id == table.step_id).join(Episode, Episode.id == Step.episode_id)
                     .where(Episode.run_id == run_id).order_by(table.id))
            for row in session.exec(query):
                rows.setdefault(row.step_id, []).append(row)
            record[name] = rows
        session.expunge_all()
    return record


# -- JSON Lines -----------------------------------------------------------------------------------
def _timings(step: Step) -> dict[str, float]:
    return {stage: getattr(step, f"t_{stage}")
            for stage in ("draft", "verify", "fallback", "policy", "tool", "overhead", "total")}


def _proposal(row: Any) -> dict[str, Any]:
    out = {"raw_text": row.raw_text, "action": _loads(row.action), "parse_error": row.parse_error,
           "latency_s": row.latency, "prompt_tokens": row.prompt_tokens, "completion_tokens": row.tokens}
    if isinstance(row, Draft):
        out["mean_logprob"] = row.mean_logprob
    else:
        out = {"purpose": row.purpose, **out}
    return out


def _child(name: str, row: Any) -> dict[str, Any]:
    if name in ("drafts", "fallbacks"):
        return _proposal(row)
    if name == "verdicts":
        return {"verdict_id": row.id, "verifier": row.verifier, "p_accept": row.p_accept,
                "threshold": row.threshold, "accepted": row.accepted, "latency_s": row.latency,
                "detail": _loads(row.detail) or {}}
    if name == "policy_checks":
        return {"action": _loads(row.action), "allowed": row.allowed, "rule": row.rule, "latency_s": row.latency}
    return {"call": _loads(row.call), "ok": row.ok, "content": row.content, "error": row.error,
            "latency_s": row.latency}


def jsonl_rows(engine: Engine, run_id: int) -> Iterator[dict[str, Any]]:
    """One dict per step of the run, in order (see the module docstring).

    Raises:
        StoreError: unknown run.
    """
    return _jsonl_iter(load_run(engine, run_id), run_id)


def _jsonl_iter(record: dict[str, Any], run_id: int) -> Iterator[dict[str, Any]]:
    for episode in record["episodes"]:
        for step in record["steps"][episode.id]:
            row = {"run_id": run_id, "episode_id": episode.id, "task_id": episode.task_id, "step_id": step.id,
                   "turn": step.turn, "step": step.index, "user_text": step.user_text,
                   "action": _loads(step.action), "action_kind": step.action_kind, "source": step.source,
                   "gold": _loads(step.gold), "draft_correct": step.draft_correct, "timings_s": _timings(step),
                   "committed_at": _utc(step.created_at).isoformat()}
            for name in CHILD_TABLES:
                row[name] = [_child(name, r) for r in record[name].get(step.id, [])]
            yield row


# -- OpenTelemetry spans --------------------------------------------------------------------------
def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _nanos(value: datetime) -> int:
    return (_utc(value) - _EPOCH) // timedelta(microseconds=1) * 1000


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}


def _attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in values.items() if value is not None]


class _Spans:
    """Collects the spans of one trace; ids are hashes of the trace id and a path."""

    def __init__(self, run: Run) -> None:
        seed = f"spectool/run/{run.id}/{_utc(run.created_at).isoformat()}"
        self.trace_id = hashlib.sha256(seed.encode()).hexdigest()[:32]  # 16 bytes, hex
        self.spans: list[dict[str, Any]] = []  # OTLP span objects, in the order added

    def span_id(self, path: str) -> str:
        return hashlib.sha256(f"{self.trace_id}/{path}".encode()).hexdigest()[:16]

    def add(self, path: str, parent: Optional[str], name: str, start_ns: int, end_ns: int,
            attributes: dict[str, Any], kind: int = SPAN_KIND_INTERNAL, error: Optional[str] = None) -> str:
        span = {"traceId": self.trace_id, "spanId": self.span_id(path), "parentSpanId": parent or "",
                "name": name, "kind": kind, "startTimeUnixNano": str(start_ns),
                "endTimeUnixNano": str(max(start_ns, end_ns)), "attributes": _attributes(attributes)}
        if error is not None:
            span["status"] = {"code": STATUS_ERROR, "message": error}
        self.spans.append(span)
        return span["spanId"]


def _chat_span(spans: _Spans, parent: str, row: Any, role: str, model: str, start: int) -> int:
    """A GenAI ``chat`` span for one drafter or target proposal; returns its end time."""
    end = start + int(row.latency * 1e9)
    purpose = "draft" if role == "drafter" else row.purpose
    spans.add(f"{type(row).__name__}/{row.id}", parent, f"chat {model}", start, end, {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": row.prompt_tokens, "gen_ai.usage.output_tokens": row.tokens,
        "spectool.role": role, "spectool.purpose": purpose, "spectool.action": row.action,
        "spectool.parse_error": row.parse_error, "spectool.raw_text": row.raw_text,
        "spectool.mean_logprob": getattr(row, "mean_logprob", None)}, kind=SPAN_KIND_CLIENT)
    return end


def _step_spans(spans: _Spans, record: dict[str, Any], step: Step, parent: str, models: dict[str, Any]) -> int:
    """The step span and its children; returns the step's end time."""
    end = _nanos(step.created_at)
    start = end - int(step.t_total * 1e9)
    policy = (record["policy_checks"].get(step.id) or [None])[-1]
    step_id = spans.add(f"step/{step.id}", parent, f"step {step.turn}.{step.index}", start, end, {
        "spectool.turn": step.turn, "spectool.step": step.index, "spectool.step.source": step.source,
        "spectool.action": step.action, "spectool.action_kind": step.action_kind, "spectool.gold": step.gold,
        "spectool.draft_correct": step.draft_correct,
        "spectool.policy.allowed": policy.allowed if policy else None,
        "spectool.policy.rule": policy.rule if policy else None,
        **{f"spectool.timing.{stage}_s": seconds for stage, seconds in _timings(step).items()}})
    cursor = start
    for draft in record["drafts"].get(step.id, []):
        cursor = _chat_span(spans, step_id, draft, "drafter", str(models.get("drafter", "drafter")), cursor)
    for verdict in record["verdicts"].get(step.id, []):
        verdict_end = cursor + int(verdict.latency * 1e9)
        spans.add(f"verdict/{verdict.id}", step_id, f"verify {verdict.verifier}", cursor, verdict_end, {
            "spectool.verifier.kind": verdict.verifier, "spectool.verifier.p_accept": verdict.p_accept,
            "spectool.verifier.threshold": verdict.threshold, "spectool.verifier.accepted": verdict.accepted,
            "spectool.verifier.detail": verdict.detail})
        cursor = verdict_end
    parallel = record["run"].mode == "parallel"
    for target in record["fallbacks"].get(step.id, []):
        began = start if parallel or target.purpose == "wasted" else cursor
        finished = _chat_span(spans, step_id, target, "target", str(models.get("target", "target")), began)
        cursor = max(cursor, finished) if target.purpose != "wasted" else cursor
    for tool in record["tool_executions"].get(step.id, []):
        call = _loads(tool.call) or {}
        tool_end = cursor + int(tool.latency * 1e9)
        spans.add(f"tool/{tool.id}", step_id, f"execute_tool {call.get('name', '')}", cursor, tool_end, {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call.get("name"),
            "gen_ai.tool.type": "function", "gen_ai.tool.call.arguments": json.dumps(call.get("arguments", {})),
            "gen_ai.tool.call.result": tool.content, "spectool.tool.ok": tool.ok},
            error=None if tool.ok else (tool.error or "tool error"))
        cursor = tool_end
    return end


def otel_document(engine: Engine, run_id: int) -> dict[str, Any]:
    """The run as one OTLP/JSON ``{"resourceSpans": [...]}`` document (see the module docstring).

    Raises:
        StoreError: unknown run.
    """
    record = load_run(engine, run_id)
    run: Run = record["run"]
    models = _loads(run.models) or {}
    spans = _Spans(run)
    run_start = _nanos(run.created_at)
    run_span = spans.span_id("run")
    last = run_start
    for episode in record["episodes"]:
        episode_path = f"episode/{episode.id}"
        episode_id = spans.span_id(episode_path)
        ends = [_step_spans(spans, record, step, episode_id, models) for step in record["steps"][episode.id]]
        started = _nanos(episode.started_at)
        finished = _nanos(episode.finished_at) if episode.finished_at else max(ends, default=started)
        spans.add(episode_path, run_span, f"invoke_agent {episode.task_id}", started, finished, {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "spectool",
            "spectool.task_id": episode.task_id, "spectool.task.source": episode.source,
            "spectool.task.split": episode.split, "spectool.mode": episode.mode, "spectool.turns": episode.n_turns,
            "spectool.steps": episode.steps, "spectool.passed": episode.passed,
            "spectool.check_message": episode.check_message or None})
        last = max([last, finished, *ends])
    run_end = _nanos(run.finished_at) if run.finished_at else last
    spans.add("run", None, f"spectool.run {run.id}", run_start, run_end, {
        "spectool.run_id": run.id, "spectool.status": run.status, "spectool.mode": run.mode,
        "spectool.verifier": run.verifier or None, "spectool.threshold": run.threshold,
        "spectool.task_set": run.task_set, "spectool.preset": run.preset or None,
        "gen_ai.request.model": str(models.get("target")) if models.get("target") else None},
        error="run failed" if run.status == "failed" else None)
    spans.spans.insert(0, spans.spans.pop())  # the run span first
    return {"resourceSpans": [{
        "resource": {"attributes": _attributes({"service.name": "spectool"})},
        "scopeSpans": [{"scope": {"name": "spectool_app.export"}, "spans": spans.spans}]}]}


def export_run(engine: Engine, run_id: int, fmt: str) -> Iterator[str]:
    """The export as text chunks: one line per step (jsonl) or one JSON document (otel).

    Raises:
        ValueError: unknown format, naming the valid ones.
        StoreError: unknown run.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if fmt == "otel":
        return iter([json.dumps(otel_document(engine, run_id), ensure_ascii=False) + "\n"])
    return (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in jsonl_rows(engine, run_id))
