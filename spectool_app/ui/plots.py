"""Plotly figures, each a pure function of a pandas data frame (``fig = f(frame)``).

The frames come from :mod:`spectool_app.ui.services`; column names are part of each
function's contract (its docstring lists them). An empty frame gives an empty figure with a
title saying there is nothing to show. This module knows nothing about the store, gradio
or models.
"""

from __future__ import annotations

from typing import Optional

import pandas as pd
import plotly.graph_objects as go

LATENCY_STAGES = ("draft", "verify", "fallback", "tool", "overhead")  # stacked bar segments, bottom up
STAGE_COLORS = {"draft": "#4c78a8", "verify": "#f58518", "fallback": "#e45756", "tool": "#72b7b2",
                "overhead": "#bab0ac"}
DECISION_CLASSES = ("correct", "false accept", "false reject", "no reference")  # verifier-decision colours
DECISION_COLORS = {"correct": "#54a24b", "false accept": "#e45756", "false reject": "#f58518",
                   "no reference": "#9d9d9d"}


def _empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=f"{title} (nothing to show)", template="plotly_white", height=320)
    return fig


def latency_stack(steps: pd.DataFrame) -> go.Figure:
    """Stacked bar of per-step latency by stage.

    Args:
        steps: one row per step, in order, with columns ``label`` (x axis text) and
            ``t_draft``, ``t_verify``, ``t_fallback``, ``t_tool``, ``t_overhead`` in seconds
            (policy time belongs in ``t_overhead``).
    """
    title = "Per-step latency by stage"
    if steps.empty:
        return _empty(title)
    fig = go.Figure()
    for stage in LATENCY_STAGES:
        fig.add_trace(go.Bar(x=steps["label"], y=steps[f"t_{stage}"], name=stage,
                             marker_color=STAGE_COLORS[stage]))
    fig.update_layout(barmode="stack", title=title, xaxis_title="step (episode:turn.step)",
                      yaxis_title="seconds", template="plotly_white", height=360,
                      xaxis={"type": "category", "showticklabels": len(steps) <= 60})
    return fig


def decision_plot(steps: pd.DataFrame, threshold: Optional[float]) -> go.Figure:
    """p_accept per judged step with the threshold line, coloured by decision correctness.

    Args:
        steps: rows with ``label``, ``p_accept`` and ``decision`` (one of DECISION_CLASSES);
            rows with a missing ``p_accept`` are left out.
        threshold: the decision threshold drawn as a horizontal line (None: no line).
    """
    title = "Verifier decisions: p_accept per step"
    judged = steps.dropna(subset=["p_accept"]) if not steps.empty else steps
    if judged.empty:
        return _empty(title)
    fig = go.Figure()
    for decision in DECISION_CLASSES:
        part = judged[judged["decision"] == decision]
        if part.empty:
            continue
        fig.add_trace(go.Scatter(x=part["label"], y=part["p_accept"], mode="markers", name=decision,
                                 marker={"color": DECISION_COLORS[decision], "size": 8}))
    if threshold is not None:
        fig.add_hline(y=threshold, line_dash="dash", line_color="#333",
                      annotation_text=f"threshold {threshold:.2f}")
    fig.update_layout(title=title, xaxis_title="step", yaxis_title="p_accept", yaxis_range=[-0.02, 1.02],
                      template="plotly_white", height=360,
                      xaxis={"type": "category", "showticklabels": len(judged) <= 60})
    return fig


def task_scatter(tasks: pd.DataFrame, name_a: str = "run A", name_b: str = "run B") -> go.Figure:
    """Per-task wall time of two runs, one point per task, with the y = x line.

    Args:
        tasks: rows with ``task_id``, ``wall_a`` and ``wall_b`` (seconds; missing values skipped).
        name_a: axis title of run A (y axis).
        name_b: axis title of run B (x axis).
    """
    title = "Per-task latency"
    both = tasks.dropna(subset=["wall_a", "wall_b"]) if not tasks.empty else tasks
    if both.empty:
        return _empty(title)
    top = float(max(both["wall_a"].max(), both["wall_b"].max())) * 1.05 or 1.0
    fig = go.Figure(go.Scatter(x=both["wall_b"], y=both["wall_a"], mode="markers", text=both["task_id"],
                               name="task", hovertemplate="%{text}<br>B %{x:.2f}s, A %{y:.2f}s"))
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="equal time",
                             line={"dash": "dot", "color": "#999"}))
    fig.update_layout(title=title, xaxis_title=f"{name_b} seconds", yaxis_title=f"{name_a} seconds",
                      template="plotly_white", height=360)
    return fig


def whatif_bars(metrics: pd.DataFrame) -> go.Figure:
    """Bars of the replayed metrics at one threshold.

    Args:
        metrics: rows with ``metric`` and ``value`` (None values are left out).
    """
    title = "Replay at this threshold"
    shown = metrics.dropna(subset=["value"]) if not metrics.empty else metrics
    if shown.empty:
        return _empty(title)
    fig = go.Figure(go.Bar(x=shown["metric"], y=shown["value"], text=[f"{v:.3f}" for v in shown["value"]],
                           textposition="outside", marker_color="#4c78a8"))
    fig.update_layout(title=title, template="plotly_white", height=320, yaxis_title="value")
    return fig


def bench_scatter(rows: pd.DataFrame) -> go.Figure:
    """Pass rate against speedup, one point per (task set, mode/verifier).

    Args:
        rows: rows with ``task_set``, ``config``, ``speedup`` and ``pass_rate`` (missing skipped).
    """
    title = "Pass rate vs speedup"
    needed = {"speedup", "pass_rate"}
    if rows.empty or not needed <= set(rows.columns):
        return _empty(title)
    shown = rows.dropna(subset=list(needed))
    if shown.empty:
        return _empty(title)
    fig = go.Figure()
    for task_set, part in shown.groupby("task_set", sort=True):
        fig.add_trace(go.Scatter(x=part["speedup"], y=part["pass_rate"], mode="markers+text", name=str(task_set),
                                 text=part["config"], textposition="top center"))
    fig.update_layout(title=title, xaxis_title="speedup over target_only", yaxis_title="pass rate",
                      template="plotly_white", height=400)
    return fig
