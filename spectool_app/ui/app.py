"""Builds the Gradio Blocks app: tabs from the component factories, events wired to callbacks.

Every event has an ``api_name`` (the API list is :data:`API_NAMES`); events fired by a table
click are ``undocumented`` because they need the click's data. Model-running events share
one concurrency slot (``models``) so visitors can browse while one run executes. Nothing
here loads a model or opens the store: both happen on first use. ``launch_kwargs`` holds what
``launch`` needs (head script, CSS, optional annotator login, the export folder).
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Any, Optional

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402  (the environment must be set before gradio is imported)

from spectool_app.config import Config, load_config  # noqa: E402
from spectool_app.tasks import task_stats  # noqa: E402
from spectool_app.ui import callbacks as cb  # noqa: E402
from spectool_app.ui import components, shortcuts  # noqa: E402

INTRO = """# SpecTool
Speculative tool calling: a cheap drafter proposes each agent action, a verifier accepts or rejects it,
and the large target model runs only on rejection. Run tasks, inspect traces, label verifier errors,
compare runs against their baseline and replay thresholds.
"""
API_NAMES = ("models_status", "verifier_threshold", "task_choices", "task_preview", "run", "list_runs", "trace",
             "step", "queue", "next_item", "previous_item", "save_label", "export_pairs", "baseline", "compare",
             "whatif", "benchmarks", "task_stats")  # the documented endpoints
BROWSE_CONCURRENCY = 8  # concurrent browsing events (reads); model runs have their own single slot
PASSWORD_ENV = "SPECTOOL_ANNOTATOR_PASSWORD"  # set it to require a login (any user name, this password)


def task_stats_rows() -> list[list[object]]:
    """One row per (source, split): tasks and gold steps."""
    return [[source, split, row["tasks"], row["steps"]]
            for source, splits in task_stats().items() for split, row in splits.items()]


def _choices() -> tuple[list[str], list[str]]:
    from models.presets import PRESETS
    from spectool_app.verifiers import VERIFIER_KINDS

    default = load_config().preset
    presets = [default] + [p for p in PRESETS if p != default] if default in PRESETS else list(PRESETS)
    return presets, list(VERIFIER_KINDS)


def _wire_run(app: gr.Blocks, run: Any) -> None:
    run.preset.change(cb.models_status, run.preset, run.models, api_name="models_status")
    gr.on([app.load, run.verifier.change, run.preset.change], cb.verifier_threshold, [run.verifier, run.preset],
          run.threshold, api_name="verifier_threshold")
    gr.on([run.source.change, run.split.change], cb.task_choices, [run.source, run.split], run.task,
          api_name="task_choices")
    gr.on([app.load, run.task.change], cb.task_preview, run.task, run.preview, api_name="task_preview")
    run.run.click(cb.run_task, [run.task, run.written, run.preset, run.modes, run.verifier, run.threshold, run.guard],
                  [run.left, run.right, run.status, run.run_ids], api_name="run", concurrency_limit=1,
                  concurrency_id="models")


def _wire_traces(app: gr.Blocks, tab: gr.Tab, tr: Any) -> None:
    trace_out = [tr.summary, tr.steps, tr.latency, tr.decisions]
    step_out = [tr.header, tr.context, tr.drafter_text, tr.target_text, tr.actions, tr.tool_output]
    filters = [tr.mode, tr.verifier, tr.passed, tr.labeled, tr.since, tr.until]
    gr.on([app.load, tab.select, tr.refresh.click], cb.list_runs, filters, tr.runs, api_name="list_runs")
    tr.open_run.click(cb.open_trace, tr.run_id, trace_out, api_name="trace")
    tr.runs.select(cb.picked_id, tr.runs, tr.run_id, api_name="pick_run", api_visibility="undocumented").then(
        cb.open_trace, tr.run_id, trace_out, api_name="open_picked_run", api_visibility="undocumented")
    tr.open_step.click(cb.open_step, tr.step_id, step_out, api_name="step")
    tr.steps.select(cb.picked_id, tr.steps, tr.step_id, api_name="pick_step", api_visibility="undocumented").then(
        cb.open_step, tr.step_id, step_out, api_name="open_picked_step", api_visibility="undocumented")


def _wire_annotate(an: Any) -> None:
    filters = [an.run_id, an.order, an.labeled, an.verifier, an.annotator]
    out = [an.queue, an.progress, an.header, an.item, an.verdict_id, an.position, an.label, an.corrected, an.note,
           an.message]
    an.load.click(cb.load_queue, filters, out, api_name="queue")
    an.following.click(cb.next_item, filters + [an.position], out, api_name="next_item")
    an.previous.click(cb.previous_item, filters + [an.position], out, api_name="previous_item")
    an.save.click(cb.save_label, filters + [an.position, an.verdict_id, an.label, an.corrected, an.note], out,
                  api_name="save_label")
    an.export.click(cb.export_pairs, [an.run_id, an.annotator], [an.export_file, an.export_note],
                    api_name="export_pairs")


def _wire_rest(app: gr.Blocks, cmp: Any, wi: Any, bench: Any) -> None:
    cmp.find.click(cb.baseline, cmp.run_a, cmp.run_b, api_name="baseline")
    cmp.go.click(cb.compare, [cmp.run_a, cmp.run_b], [cmp.run_b, cmp.speedup, cmp.metrics, cmp.tasks, cmp.scatter],
                 api_name="compare")
    gr.on([wi.replay.click, wi.threshold.release], cb.threshold_whatif, [wi.run_id, wi.verifier, wi.threshold],
          [wi.run_id, wi.text, wi.figure], api_name="whatif")
    gr.on([app.load, bench.refresh.click], cb.benchmarks, None, [bench.text, bench.table, bench.figure],
          api_name="benchmarks")


def build_app() -> gr.Blocks:
    """The whole app, queued; ``app.py`` launches it with :func:`launch_kwargs`."""
    from spectool_app.ui.live import models_message, task_ids

    presets, verifiers = _choices()
    first_tasks = task_ids("synthetic", "test")
    with gr.Blocks(title="SpecTool") as app:
        gr.Markdown(INTRO)
        with gr.Tab("Run", id="tab-run"):
            run = components.run_tab(presets, verifiers, models_message(presets[0] if presets else None), first_tasks)
        with gr.Tab("Traces", id="tab-traces") as traces_tab:
            traces = components.traces_tab(verifiers)
        with gr.Tab("Annotate", id="tab-annotate"):
            annotate = components.annotate_tab(verifiers)
        with gr.Tab("Compare", id="tab-compare"):
            compare = components.compare_tab()
        with gr.Tab("Threshold what-if", id="tab-whatif"):
            whatif = components.whatif_tab(verifiers)
        with gr.Tab("Benchmarks", id="tab-bench"):
            bench = components.bench_tab()
        with gr.Tab("Tasks", id="tab-tasks"):
            table = gr.Dataframe(headers=["source", "split", "tasks", "steps"], interactive=False)
            count = gr.Button("Count tasks")
            count.click(task_stats_rows, outputs=table, api_name="task_stats")
        _wire_run(app, run)
        _wire_traces(app, traces_tab, traces)
        _wire_annotate(annotate)
        _wire_rest(app, compare, whatif, bench)
    return app.queue(default_concurrency_limit=BROWSE_CONCURRENCY)


def check_password(password: str):
    """A gradio ``auth`` callable: any non-empty user name with ``password``."""
    def auth(username: str, given: str) -> bool:
        return bool((username or "").strip()) and hmac.compare_digest(given.encode(), password.encode())
    return auth


def launch_kwargs(config: Optional[Config] = None) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: where to serve, head script, CSS, login, file access.

    The host is SPECTOOL_HOST, else GRADIO_SERVER_NAME (a Space sets it to 0.0.0.0), else the default.
    """
    config = config or load_config()
    exports = Path(config.data_dir) / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    host = config.host if "SPECTOOL_HOST" in os.environ else os.environ.get("GRADIO_SERVER_NAME", config.host)
    kwargs: dict[str, Any] = {"server_name": host, "server_port": config.port, "show_error": True,
                              "head": shortcuts.HEAD, "css": components.LIVE_CSS, "allowed_paths": [str(exports)]}
    password = os.environ.get(PASSWORD_ENV, "")
    if password:
        kwargs["auth"] = check_password(password)
        kwargs["auth_message"] = "Annotators: any user name (it becomes your annotator name) and the shared password."
    return kwargs
