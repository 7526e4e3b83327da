"""The services behind the views: store reads turned into frames, figures and plain dicts.

Each gradio callback calls exactly one function of this module (or of :mod:`.live` for
runs). Arguments arrive as the widgets send them (a run id may be ``3.0`` or ``None``) and
are checked here; bad ones raise :class:`UIError` naming what was wrong and what is
allowed, store problems raise ``db.engine.StoreError``. Metric formulas are the store's
(:mod:`db.queries`); the compare speedup is the geometric mean over common tasks of
``wall(B) / wall(A)`` with a 95% percentile bootstrap interval (``scipy.stats.bootstrap``).
This module knows nothing about gradio and never loads a model.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any, Optional

import pandas as pd
from sqlalchemy import Engine

from db import queries
from spectool_app.bench import stale_text
from spectool_app.bench_report import unfinished_text
from spectool_app.metrics import speedup_interval
from spectool_app.config import PROJECT_ROOT, load_config
from spectool_app.ui import plots
from spectool_app.ui.history import step_context
from spectool_app.ui.render import clip, short_action

ANY = "any"  # filter value meaning "no filter"
PASS_FILTERS = (ANY, "passed", "failed")
LABEL_FILTERS = (ANY, "labeled", "unlabeled")
RESULTS_DIR = PROJECT_ROOT / "results"  # the benchmark writes results/<date>/results.json here
BENCH_HINT = "no benchmark results yet: produce them with `python -m spectool_app bench` (or `--quick`)"
_engines: dict[str, Engine] = {}
_engine_lock = threading.Lock()


class UIError(ValueError):
    """A bad argument from the page or the API; the message names what is allowed."""


# -- store and argument helpers ----------------------------------------------------------------
def get_engine(url: Optional[str] = None) -> Engine:
    """The store engine for ``url`` (default: the configured one), opened once per process."""
    from db.engine import open_store

    url = url or load_config().database_url
    with _engine_lock:
        if url not in _engines:
            _engines[url] = open_store(url)
        return _engines[url]


def parse_id(value: Any, what: str, required: bool = True) -> Optional[int]:
    """A positive whole-number id from a widget value (``3``, ``3.0``, ``"3"``).

    Raises:
        UIError: missing (when required) or not a positive whole number.
    """
    if value is None or (isinstance(value, str) and not value.strip()) or value == 0:
        if required:
            raise UIError(f"{what} is empty; give a positive whole number (see the runs table)")
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UIError(f"{what} must be a positive whole number, got {value!r}") from None
    if not number.is_integer() or number < 1:
        raise UIError(f"{what} must be a positive whole number, got {value!r}")
    return int(number)


def parse_threshold(value: Any) -> float:
    """A threshold in [0, 1].

    Raises:
        UIError: not a number or outside [0, 1].
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UIError(f"threshold must be a number between 0 and 1, got {value!r}") from None
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise UIError(f"threshold must be between 0 and 1, got {value!r}")
    return number


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> Optional[str]:
    """``None`` for "any"/empty, else ``value`` if allowed."""
    if value in (None, "", ANY):
        return None
    if value not in allowed:
        raise UIError(f"unknown {what} {value!r}; allowed: {', '.join((ANY,) + tuple(allowed))}")
    return str(value)


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)


# -- traces -------------------------------------------------------------------------------------
RUN_COLUMNS = ["id", "created_at", "status", "mode", "verifier", "threshold", "task_set", "episodes",
               "pass_rate", "steps", "labels"]


def runs_table(engine: Engine, mode: Any = ANY, verifier: Any = ANY, passed: Any = ANY, labeled: Any = ANY,
               since: Any = "", until: Any = "") -> pd.DataFrame:
    """The runs table with its filters (newest first).

    Raises:
        UIError: a filter value outside its choices.
        StoreError: a malformed date.
    """
    from spectool_app.loop import MODES
    from spectool_app.verifiers import VERIFIER_KINDS

    pass_value = _choice(passed, PASS_FILTERS[1:], "pass filter")
    label_value = _choice(labeled, LABEL_FILTERS[1:], "label filter")
    rows = queries.list_runs(engine, mode=_choice(mode, MODES, "mode"),
                             verifier=_choice(verifier, tuple(VERIFIER_KINDS), "verifier"),
                             passed=None if pass_value is None else pass_value == "passed",
                             labeled=None if label_value is None else label_value == "labeled",
                             since=since or None, until=until or None)
    for row in rows:
        row["created_at"] = (row["created_at"] or "")[:19].replace("T", " ")
        row["pass_rate"] = None if row["pass_rate"] is None else round(row["pass_rate"], 3)
    return _frame(rows, RUN_COLUMNS)


STEP_COLUMNS = ["step_id", "label", "task_id", "source", "executed", "draft", "p_accept", "accepted",
                "decision", "t_total", "labels", "verdict_id"]


def _decision(row: dict[str, Any]) -> str:
    """Correctness of a verdict against gold (draft_correct) or the shadow target's action."""
    if row["p_accept"] is None:
        return "no reference"
    correct = row["draft_correct"]
    if correct is None and row["target_purpose"] == "shadow" and row["draft_action"] is not None:
        correct = row["draft_action"] == row["target_action"]
    if correct is None:
        return "no reference"
    if bool(row["accepted"]) == bool(correct):
        return "correct"
    return "false accept" if row["accepted"] else "false reject"


def _round(value: Optional[float], digits: int = 4) -> Optional[float]:
    return None if value is None else round(value, digits)


def steps_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``queries.run_steps`` rows as the frame the step table and both trace plots read."""
    episode_no: dict[int, int] = {}
    out = []
    for row in rows:
        number = episode_no.setdefault(row["episode_id"], len(episode_no) + 1)
        out.append({"step_id": row["step_id"], "label": f"{number}:{row['turn']}.{row['index']}",
                    "task_id": row["task_id"], "source": row["source"], "executed": short_action(row["action"]),
                    "draft": (short_action(row["draft_action"]) if row["draft_action"]
                              else clip(row["draft_parse_error"])),
                    "p_accept": _round(row["p_accept"]), "accepted": row["accepted"], "decision": _decision(row),
                    "t_total": _round(row["t_total"]), "labels": row["labels"], "verdict_id": row["verdict_id"],
                    "t_draft": row["t_draft"], "t_verify": row["t_verify"], "t_fallback": row["t_fallback"],
                    "t_tool": row["t_tool"], "t_overhead": row["t_overhead"] + row["t_policy"]})
    return _frame(out, STEP_COLUMNS + ["t_draft", "t_verify", "t_fallback", "t_tool", "t_overhead"])


SUMMARY_KEYS = ("id", "status", "mode", "verifier", "threshold", "task_set", "created_at", "episodes",
                "episodes_passed", "pass_rate", "steps", "acceptance_rate", "target_calls", "target_call_savings",
                "false_accept_rate", "false_reject_rate", "parse_errors", "blocked_steps", "policy_blocks",
                "speedup_bound", "wall_s", "stage_means", "tokens", "labels", "models")


def trace_view(engine: Engine, run_id: Any) -> dict[str, Any]:
    """A run's metrics, step table and both trace plots.

    Returns:
        ``{"summary": dict, "steps": DataFrame (STEP_COLUMNS), "latency": Figure, "decisions": Figure}``.

    Raises:
        UIError: a bad run id.  StoreError: unknown run.
    """
    run = parse_id(run_id, "run id")
    summary = queries.run_summary(engine, run)
    frame = steps_frame(queries.run_steps(engine, run))
    return {"summary": {k: summary.get(k) for k in SUMMARY_KEYS},
            "steps": frame[STEP_COLUMNS],
            "latency": plots.latency_stack(frame),
            "decisions": plots.decision_plot(frame, summary.get("threshold") if summary.get("verifier") else None)}


def _texts(rows: list[dict[str, Any]], title: Any, body: Any) -> str:
    """Rows joined as "# title" headers followed by their text."""
    return "\n\n".join(f"# {title(r)}\n{body(r)}" for r in rows)


def step_view(engine: Engine, step_id: Any) -> dict[str, Any]:
    """Everything about one step: the context the models saw, raw texts, parsed actions, tool output.

    Raises:
        UIError: a bad step id.  StoreError: unknown step.
    """
    step = parse_id(step_id, "step id")
    detail = queries.step_detail(engine, step)
    verdict_keys = ("id", "verifier", "p_accept", "threshold", "accepted", "detail", "annotations")
    actions = {"executed": _json(detail["action"]), "gold": _json(detail["gold"]),
               "drafts": [{"action": _json(d["action"]), "parse_error": d["parse_error"]} for d in detail["drafts"]],
               "target": [{"purpose": f["purpose"], "action": _json(f["action"]), "parse_error": f["parse_error"]}
                          for f in detail["fallbacks"]],
               "policy": [{"allowed": p["allowed"], "rule": p["rule"]} for p in detail["policy_checks"]],
               "verdicts": [{k: v[k] for k in verdict_keys} for v in detail["verdicts"]]}
    drafter = _texts(detail["drafts"], lambda d: f"draft {d['id']}", lambda d: d["raw_text"])
    target = _texts(detail["fallbacks"], lambda f: f"target ({f['purpose']}) {f['id']}", lambda f: f["raw_text"])
    tools = _texts(detail["tool_executions"], lambda t: f"{t['call']} ok={t['ok']}",
                   lambda t: t["content"] + (f"\nerror: {t['error']}" if t["error"] else ""))
    return {"header": f"step {step}: task {detail['episode']['task_id']}, turn {detail['turn']}, "
                      f"step {detail['index']}, source {detail['source']}",
            "context": step_context(engine, detail), "drafter_text": drafter or "(no draft)",
            "target_text": target or "(no target proposal)", "actions": actions,
            "tool_output": tools or "(no tool ran)", "verdict_id": (detail["verdicts"] or [{}])[0].get("id")}


def _json(text: Optional[str]) -> Any:
    return None if text is None else json.loads(text)


# -- compare ------------------------------------------------------------------------------------
def baseline_for(engine: Engine, run_id: Any) -> Optional[int]:
    """The target_only run on the same task set closest in id to ``run_id`` (None when there is none).

    Raises:
        UIError: a bad run id.  StoreError: unknown run.
    """
    run = parse_id(run_id, "run id")
    task_set = queries.run_summary(engine, run)["task_set"]
    candidates = [r["id"] for r in queries.list_runs(engine, mode="target_only")
                  if r["task_set"] == task_set and r["id"] != run]
    return min(candidates, key=lambda other: (abs(other - run), -other)) if candidates else None


COMPARE_METRICS = ("mode", "verifier", "threshold", "status", "task_set", "episodes", "pass_rate", "steps",
                   "acceptance_rate", "target_calls", "target_call_savings", "false_accept_rate", "wall_s",
                   "drafter_tokens", "target_tokens")
TASK_COLUMNS = ["task_id", "passed_a", "passed_b", "wall_a", "wall_b", "ratio_b_over_a", "steps_a", "steps_b"]


def _compare_row(summary: dict[str, Any]) -> dict[str, Any]:
    tokens = summary["tokens"]
    row = {k: summary.get(k) for k in COMPARE_METRICS if k in summary}
    row["drafter_tokens"] = tokens["drafter"]["prompt"] + tokens["drafter"]["completion"]
    row["target_tokens"] = tokens["target"]["prompt"] + tokens["target"]["completion"]
    return row


def compare_runs(engine: Engine, run_a: Any, run_b: Any = None) -> dict[str, Any]:
    """Two runs side by side; ``run_b`` empty means A's baseline (see :func:`baseline_for`).

    Returns:
        ``{"run_b": int, "metrics": DataFrame, "speedup": dict, "speedup_text": str,
        "tasks": DataFrame (TASK_COLUMNS), "scatter": Figure}``.

    Raises:
        UIError: bad ids, or no baseline for A.  StoreError: unknown run.
    """
    a = parse_id(run_a, "run A")
    b = parse_id(run_b, "run B", required=False) or baseline_for(engine, a)
    if b is None:
        raise UIError(f"run {a} has no target_only run on the same task set to compare with; give run B")
    sa, sb = queries.run_summary(engine, a), queries.run_summary(engine, b)
    row_a, row_b = _compare_row(sa), _compare_row(sb)
    metrics = pd.DataFrame({"metric": list(COMPARE_METRICS), f"run {a}": [row_a.get(k) for k in COMPARE_METRICS],
                            f"run {b}": [row_b.get(k) for k in COMPARE_METRICS]}).astype(str)
    first_a = {e["task_id"]: e for e in reversed(queries.run_episodes(engine, a))}
    first_b = {e["task_id"]: e for e in reversed(queries.run_episodes(engine, b))}
    rows = []
    for task in sorted(set(first_a) | set(first_b)):
        ea, eb = first_a.get(task, {}), first_b.get(task, {})
        wa, wb = ea.get("wall_s"), eb.get("wall_s")
        rows.append({"task_id": task, "passed_a": ea.get("passed"), "passed_b": eb.get("passed"),
                     "wall_a": _round(wa), "wall_b": _round(wb), "ratio_b_over_a": wb / wa if wa and wb else None,
                     "steps_a": ea.get("steps"), "steps_b": eb.get("steps")})
    tasks = _frame(rows, TASK_COLUMNS)
    speed = speedup_interval([r["ratio_b_over_a"] for r in rows if r["ratio_b_over_a"]])
    return {"run_b": b, "metrics": metrics, "speedup": speed, "speedup_text": _speedup_text(a, b, speed),
            "tasks": tasks, "scatter": plots.task_scatter(tasks, f"run {a}", f"run {b}")}


def _speedup_text(a: int, b: int, speed: dict[str, Optional[float]]) -> str:
    if speed["speedup"] is None:
        return f"No task finished in both run {a} and run {b}: no speedup to report."
    text = f"**Speedup of run {a} over run {b}: {speed['speedup']:.2f}x** over {speed['tasks']} task(s)"
    if speed["low"] is None:
        return text + " (one task: no interval)."
    return text + f", 95% bootstrap interval [{speed['low']:.2f}, {speed['high']:.2f}]."


# -- threshold what-if --------------------------------------------------------------------------
WHATIF_HEADLINE = ("acceptance_rate", "recorded_acceptance_rate", "estimated_pass_rate", "recorded_pass_rate",
                   "target_call_savings", "speedup_estimate", "false_accept_rate", "false_reject_rate")  # plotted


def latest_run(engine: Engine, mode: str) -> Optional[int]:
    """The newest run of ``mode`` (None when there is none)."""
    rows = queries.list_runs(engine, mode=mode, limit=1)
    return rows[0]["id"] if rows else None


def whatif(engine: Engine, run_id: Any, verifier: Any, threshold: Any) -> dict[str, Any]:
    """Re-judge a recorded shadow run at ``threshold`` through ``spectool_app.replay`` (no model calls).

    Returns:
        ``{"run_id": int, "result": dict, "text": str, "figure": Figure}``.

    Raises:
        UIError: bad id, verifier or threshold, or replay not installed.  StoreError: unknown run.
    """
    from spectool_app.verifiers import VERIFIER_KINDS

    run = parse_id(run_id, "run id", required=False) or latest_run(engine, "shadow")
    if run is None:
        raise UIError("no shadow run recorded yet; run a task in mode 'shadow' first (Run tab), then replay it")
    value = parse_threshold(threshold)
    if verifier not in VERIFIER_KINDS:
        raise UIError(f"unknown verifier {verifier!r}; allowed: {', '.join(VERIFIER_KINDS)}")
    try:
        from spectool_app.replay import replay_run
    except ImportError as exc:
        raise UIError(f"threshold replay is not available in this build ({exc})") from exc
    result = replay_run(engine, run, verifier, value)
    numbers = {k: v for k, v in result.items()
               if k not in ("run_id", "threshold") and isinstance(v, (int, float)) and not isinstance(v, bool)}
    headline = [k for k in WHATIF_HEADLINE if k in numbers]
    frame = pd.DataFrame({"metric": headline, "value": [numbers[k] for k in headline]})
    lines = [f"**Run {run}, verifier {verifier}, threshold {value:.2f}**"]
    ordered = headline + [k for k in numbers if k not in headline]
    lines += [f"- {k}: {numbers[k]:.3f}" if isinstance(numbers[k], float) else f"- {k}: {numbers[k]}"
              for k in ordered]
    return {"run_id": run, "result": result, "text": "\n".join(lines), "figure": plots.whatif_bars(frame)}


# -- benchmarks ---------------------------------------------------------------------------------
def latest_results(root: Path = RESULTS_DIR) -> Optional[Path]:
    """The newest ``results/<date>/results.json`` (by folder name), None when there is none."""
    if not root.is_dir():
        return None
    found = sorted(p for p in root.glob("*/results.json") if p.is_file())
    return found[-1] if found else None


def bench_frame(data: dict[str, Any]) -> pd.DataFrame:
    """``{"<task set>": {"<mode>/<verifier>": {metric: value}}}`` as one row per (task set, config).

    Top-level entries that are not such tables (the run's configuration, the machine) are skipped;
    only scalar metrics become columns.
    """
    rows = []
    for task_set, table in data.items():
        if not isinstance(table, dict) or not table or not all(isinstance(v, dict) for v in table.values()):
            continue
        if not all("/" in str(k) for k in table):
            continue
        for config, metrics in table.items():
            row = {"task_set": task_set, "config": config}
            row.update({k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None})
            rows.append(row)
    return pd.DataFrame(rows)


def bench_view(root: Path = RESULTS_DIR) -> dict[str, Any]:
    """The newest benchmark results as a note, a table and a pass-rate vs speedup plot.

    Raises:
        UIError: the newest results file is not valid JSON.
    """
    path = latest_results(root)
    if path is None:
        empty = pd.DataFrame(columns=["task_set", "config"])
        return {"text": BENCH_HINT, "table": empty, "figure": plots.bench_scatter(empty)}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UIError(f"benchmark results {path.parent.name}/results.json cannot be read: {exc}") from exc
    frame = bench_frame(data if isinstance(data, dict) else {})
    text = f"Benchmark results of **{path.parent.name}** ({len(frame)} rows)."
    config = data.get("config") if isinstance(data, dict) else None
    unfinished = config.get("unfinished") if isinstance(config, dict) else None
    if isinstance(unfinished, dict) and unfinished:
        text += (" An unfinished bench: scored on the tasks every configuration finished "
                 f"({clip(unfinished_text(unfinished), 200)}).")
    stale = stale_text(path.parent)  # the weights were retrained since this bench
    if stale:
        text += " " + stale
    if isinstance(data, dict) and isinstance(data.get("machine"), (dict, str)):
        text += f" Machine: `{clip(json.dumps(data['machine']), 200)}`"
    others = sorted(p.name for p in path.parent.iterdir() if p.suffix in (".md", ".html"))
    if others:
        text += f" Report and plots beside it in results/{path.parent.name}/: {', '.join(others)}."
    return {"text": text, "table": frame.round(4) if not frame.empty else frame, "figure": plots.bench_scatter(frame)}

