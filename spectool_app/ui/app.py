"""Builds the Gradio Blocks app. Each callback calls one service function.

For now the app shows the task sets; the run, trace, annotate and compare tabs arrive
with the loop and the store.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402  (the environment must be set before gradio is imported)

from spectool_app.commands.tasks import task_stats  # noqa: E402

INTRO = """# SpecTool
Speculative tool calling: a cheap drafter proposes each agent action, a trained verifier accepts or
rejects it, and the large target model runs only on rejection. This build shows the task sets; the
run, trace, labeling and comparison views are being built.
"""


def task_stats_rows() -> list[list[object]]:
    """One row per (source, split): tasks and gold steps."""
    return [
        [source, split, row["tasks"], row["steps"]]
        for source, splits in task_stats().items()
        for split, row in splits.items()
    ]


def build_app() -> gr.Blocks:
    """The whole app; ``app.py`` launches it."""
    with gr.Blocks(title="SpecTool") as app:
        gr.Markdown(INTRO)
        with gr.Tab("Tasks"):
            table = gr.Dataframe(headers=["source", "split", "tasks", "steps"], interactive=False)
            refresh = gr.Button("Count tasks")
            refresh.click(task_stats_rows, outputs=table, api_name="task_stats")
    return app
