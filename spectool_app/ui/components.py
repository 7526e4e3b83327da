"""Component factories: each builds one tab's widgets inside the current Blocks and returns them.

Factories only lay out widgets (labels, choices, ``elem_id`` values the shortcuts and the
browser test use); :mod:`spectool_app.ui.app` wires their events. Model and tool text is
shown only in gr.Code, gr.JSON, gr.Dataframe or escaped HTML. This module knows nothing about
the store or models.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from db.tables import ANNOTATION_LABELS
from spectool_app.loop import MODES
from spectool_app.tasks import SOURCES, SPLITS
from spectool_app.ui import shortcuts
from spectool_app.ui.services import ANY, LABEL_FILTERS, PASS_FILTERS

LIVE_CSS = """
.live-log table {border-collapse: collapse; font-size: 12px; width: 100%;}
.live-log td, .live-log th {border: 1px solid #ddd; padding: 2px 4px; vertical-align: top;
                            white-space: pre-wrap; word-break: break-word;}
.episode-pass {color: #2e7d32;} .episode-fail {color: #c62828;}
"""


def run_tab(presets: list[str], verifiers: list[str], models_note: str, tasks: list[str]) -> SimpleNamespace:
    """Task pickers (``tasks``: the ids of synthetic test), model settings, the run button, two live logs."""
    with gr.Row():
        with gr.Column(scale=1):
            source = gr.Dropdown(list(SOURCES), value="synthetic", label="Task source", elem_id="run-source")
            split = gr.Dropdown(list(SPLITS), value="test", label="Split", elem_id="run-split")
            task = gr.Dropdown(tasks, value=tasks[0] if tasks else None, label="Task", allow_custom_value=True,
                               elem_id="run-task")
            written = gr.Textbox(label="Or write a task (one user turn per line; tools and state of the chosen task)",
                                 lines=3, elem_id="run-written")
        with gr.Column(scale=1):
            preset = gr.Dropdown(presets, value=presets[0] if presets else None, label="Model preset",
                                 elem_id="run-preset")
            modes = gr.CheckboxGroup(list(MODES), value=["speculative", "target_only"], label="Modes (one or two)",
                                     elem_id="run-modes")
            verifier = gr.Dropdown(verifiers, value="confidence" if "confidence" in verifiers else verifiers[0],
                                   label="Verifier", elem_id="run-verifier")
            threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.001, label="Threshold", elem_id="run-threshold")
            guard = gr.Checkbox(value=False, label="Safety guard (models/guard) judges every tool call",
                                elem_id="run-guard")
            run = gr.Button("Run", variant="primary", elem_id="run-button")
    models = gr.Markdown(models_note, elem_id="run-models")
    preview = gr.JSON(label="Task", elem_id="run-preview")
    status = gr.Markdown("", elem_id="run-status")
    with gr.Row():
        left = gr.HTML(elem_id="run-left")
        right = gr.HTML(elem_id="run-right")
    run_ids = gr.JSON(label="Run ids", elem_id="run-ids")
    return SimpleNamespace(source=source, split=split, task=task, written=written, preset=preset, modes=modes,
                           verifier=verifier, threshold=threshold, guard=guard, run=run, models=models, preview=preview,
                           status=status, left=left, right=right, run_ids=run_ids)


def traces_tab(verifiers: list[str]) -> SimpleNamespace:
    """Runs table with filters, one run's metrics, steps and plots, one step's detail."""
    with gr.Row():
        mode = gr.Dropdown([ANY, *MODES], value=ANY, label="Mode", elem_id="traces-mode")
        verifier = gr.Dropdown([ANY, *verifiers], value=ANY, label="Verifier", elem_id="traces-verifier")
        passed = gr.Dropdown(list(PASS_FILTERS), value=ANY, label="Pass/fail", elem_id="traces-passed")
        labeled = gr.Dropdown(list(LABEL_FILTERS), value=ANY, label="Labeled", elem_id="traces-labeled")
        since = gr.Textbox(label="Since (YYYY-MM-DD)", elem_id="traces-since")
        until = gr.Textbox(label="Until (YYYY-MM-DD)", elem_id="traces-until")
    refresh = gr.Button("Refresh runs", elem_id="traces-refresh")
    runs = gr.Dataframe(interactive=False, label="Runs (click a row to open it)", elem_id="traces-runs",
                        max_height=300)
    with gr.Row():
        run_id = gr.Number(label="Run id", precision=0, elem_id="traces-run-id")
        open_run = gr.Button("Open run", elem_id="traces-open")
    summary = gr.JSON(label="Run metrics", elem_id="traces-summary")
    with gr.Row():
        latency = gr.Plot(label="Latency by stage", elem_id="traces-latency")
        decisions = gr.Plot(label="Verifier decisions", elem_id="traces-decisions")
    steps = gr.Dataframe(interactive=False, label="Steps (click a row for its detail)", elem_id="traces-steps",
                         max_height=400)
    with gr.Row():
        step_id = gr.Number(label="Step id", precision=0, elem_id="traces-step-id")
        open_step = gr.Button("Open step", elem_id="traces-open-step")
    header = gr.Markdown(elem_id="traces-step-header")
    with gr.Row():
        context = gr.JSON(label="Context (messages the models saw)", elem_id="traces-context")
        actions = gr.JSON(label="Parsed actions, verdicts, policy", elem_id="traces-actions")
    with gr.Row():
        drafter_text = gr.Code(label="Drafter raw text", language=None, elem_id="traces-drafter-text")
        target_text = gr.Code(label="Target raw text", language=None, elem_id="traces-target-text")
    tool_output = gr.Code(label="Tool output (full)", language=None, elem_id="traces-tool-output")
    return SimpleNamespace(mode=mode, verifier=verifier, passed=passed, labeled=labeled, since=since, until=until,
                           refresh=refresh, runs=runs, run_id=run_id, open_run=open_run, summary=summary,
                           latency=latency, decisions=decisions, steps=steps, step_id=step_id, open_step=open_step,
                           header=header, context=context, actions=actions, drafter_text=drafter_text,
                           target_text=target_text, tool_output=tool_output)


def annotate_tab(verifiers: list[str]) -> SimpleNamespace:
    """Queue filters, the current item, label controls with shortcuts, progress and export."""
    with gr.Column(elem_id=shortcuts.PANEL_ID):
        gr.Markdown("Keys: **1-4** label, **j/k** next/previous, **Enter** save (outside text boxes).")
        with gr.Row():
            run_id = gr.Number(label="Run id (empty: all runs)", precision=0, elem_id="annotate-run-id")
            order = gr.Dropdown(["uncertainty", "disagreement"], value="uncertainty", label="Order",
                                elem_id="annotate-order")
            labeled = gr.Dropdown(list(LABEL_FILTERS), value=ANY, label="Labeled", elem_id="annotate-labeled")
            verifier = gr.Dropdown([ANY, *verifiers], value=ANY, label="Verifier", elem_id="annotate-verifier")
            annotator = gr.Textbox(label="Annotator", elem_id="annotate-annotator")
        load = gr.Button("Load queue", elem_id="annotate-load")
        progress = gr.Markdown(elem_id="annotate-progress")
        header = gr.Markdown(elem_id="annotate-header")
        item = gr.JSON(label="Verdict", elem_id="annotate-item")
        with gr.Row():
            verdict_id = gr.Number(label="Verdict id", precision=0, interactive=False, elem_id="annotate-verdict-id")
            position = gr.Number(label="Position", value=0, precision=0, interactive=False,
                                 elem_id="annotate-position")
        label = gr.Radio(list(ANNOTATION_LABELS), label="Label (1-4)", elem_id=shortcuts.LABEL_RADIO_ID)
        corrected = gr.Textbox(label='Corrected action (JSON, e.g. {"kind": "tool_call", "name": "ls", '
                                     '"arguments": {}})', elem_id="annotate-corrected")
        note = gr.Textbox(label="Note", elem_id="annotate-note")
        with gr.Row():
            previous = gr.Button("Previous (k)", elem_id=shortcuts.PREVIOUS_ID)
            following = gr.Button("Next (j)", elem_id=shortcuts.NEXT_ID)
            save = gr.Button("Save (Enter)", variant="primary", elem_id=shortcuts.SAVE_ID)
        message = gr.Markdown(elem_id="annotate-message")
        queue = gr.Dataframe(interactive=False, label="Queue", elem_id="annotate-queue", max_height=300)
        with gr.Row():
            export = gr.Button("Export labels as pairs", elem_id="annotate-export")
            export_file = gr.File(label="Pairs (JSON Lines)", elem_id="annotate-export-file")
        export_note = gr.Markdown(elem_id="annotate-export-note")
    return SimpleNamespace(run_id=run_id, order=order, labeled=labeled, verifier=verifier, annotator=annotator,
                           load=load, progress=progress, header=header, item=item, verdict_id=verdict_id,
                           position=position, label=label, corrected=corrected, note=note, previous=previous,
                           following=following, save=save, message=message, queue=queue, export=export,
                           export_file=export_file, export_note=export_note)


def compare_tab() -> SimpleNamespace:
    """Two run ids, the speedup, metrics side by side, per-task table and scatter."""
    with gr.Row():
        run_a = gr.Number(label="Run A", precision=0, elem_id="compare-a")
        run_b = gr.Number(label="Run B (empty: A's target_only baseline)", precision=0, elem_id="compare-b")
        find = gr.Button("Baseline for A", elem_id="compare-baseline")
        go = gr.Button("Compare", variant="primary", elem_id="compare-go")
    speedup = gr.Markdown(elem_id="compare-speedup")
    metrics = gr.Dataframe(interactive=False, label="Metrics", elem_id="compare-metrics")
    tasks = gr.Dataframe(interactive=False, label="Per task", elem_id="compare-tasks", max_height=300)
    scatter = gr.Plot(label="Per-task latency", elem_id="compare-scatter")
    return SimpleNamespace(run_a=run_a, run_b=run_b, find=find, go=go, speedup=speedup, metrics=metrics,
                           tasks=tasks, scatter=scatter)


def whatif_tab(verifiers: list[str]) -> SimpleNamespace:
    """A shadow run, a verifier and a threshold slider; replay results."""
    gr.Markdown("Re-judges a recorded **shadow** run at another threshold without calling any model.")
    with gr.Row():
        run_id = gr.Number(label="Shadow run id (empty: the newest)", precision=0, elem_id="whatif-run-id")
        verifier = gr.Dropdown(verifiers, value="confidence" if "confidence" in verifiers else verifiers[0],
                               label="Verifier", elem_id="whatif-verifier")
        threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="Threshold", elem_id="whatif-threshold")
        replay = gr.Button("Replay", elem_id="whatif-replay")
    text = gr.Markdown(elem_id="whatif-text")
    figure = gr.Plot(label="Replayed metrics", elem_id="whatif-plot")
    return SimpleNamespace(run_id=run_id, verifier=verifier, threshold=threshold, replay=replay, text=text,
                           figure=figure)


def bench_tab() -> SimpleNamespace:
    """The newest benchmark's note, table and plot."""
    refresh = gr.Button("Load latest results", elem_id="bench-refresh")
    text = gr.Markdown(elem_id="bench-text")
    table = gr.Dataframe(interactive=False, label="Results", elem_id="bench-table")
    figure = gr.Plot(label="Pass rate vs speedup", elem_id="bench-plot")
    return SimpleNamespace(refresh=refresh, text=text, table=table, figure=figure)
