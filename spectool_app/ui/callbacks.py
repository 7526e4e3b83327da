"""Gradio callbacks: each calls one service function and maps its result onto the outputs.

Errors a user can cause (bad ids, thresholds, labels, unknown runs, missing models) become
``gr.Error`` with the service's message, so the page shows it and the API client receives
it while the server keeps serving. The run callback carries a ``spaces.GPU`` guard that is a
no-op where the ``spaces`` package (ZeroGPU Spaces) is absent. This module holds no logic
of its own beyond that mapping.
"""

from __future__ import annotations

import functools
import html
import inspect
from typing import Any, Callable, Iterator

import gradio as gr

from spectool_app.ui import annotate, live, services


def _gpu_guard() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``spaces.GPU`` on a ZeroGPU Space, else a decorator that returns the function unchanged."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return lambda fn: fn
    return spaces.GPU(duration=300)


gpu = _gpu_guard()
USER_ERRORS = (ValueError, KeyError, RuntimeError, OSError)  # UIError, StoreError, TaskError, model errors


def _message(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text or type(exc).__name__


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors raised by ``fn`` (plain or generator) into ``gr.Error``."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except USER_ERRORS as exc:
                raise gr.Error(_message(exc)) from exc
        return stream

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except USER_ERRORS as exc:
            raise gr.Error(_message(exc)) from exc
    return call


def md_text(text: str) -> str:
    """Text for gr.Markdown with any HTML in it shown as text."""
    return html.escape(text, quote=False)


# -- Run ----------------------------------------------------------------------------------------
@friendly
def models_status(preset: str) -> str:
    """Whether the preset's checkpoints are present (nothing is loaded)."""
    return live.models_message(preset)


@friendly
def verifier_threshold(verifier: str, preset: str) -> dict[str, Any]:
    """The Run tab's threshold for a verifier kind: the one a bench would use with that preset."""
    from spectool_app.bench import suggested_threshold

    value, source = suggested_threshold(verifier, preset or None)
    return gr.update(value=round(value, 3), info=f"{verifier}'s default: {source}")


@friendly
def task_choices(source: str, split: str) -> dict[str, Any]:
    """The task dropdown for a source and split."""
    ids = live.task_ids(source, split)
    return gr.update(choices=ids, value=ids[0] if ids else None)


@friendly
def task_preview(task_id: str) -> dict[str, Any]:
    """The chosen task's turns, back-ends and policy."""
    return live.task_preview(task_id)


@gpu
@friendly
def run_task(task_id: str, written: str, preset: str, modes: list[str], verifier: str,
             threshold: float, guard: bool = False) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """Stream the run of one task in one or two modes: (left log, right log, status, run ids)."""
    request = live.LiveRequest.from_widgets(task_id, written, preset, modes, verifier, threshold, guard)
    logs = []
    for logs in live.live_runs(services.get_engine(), request):
        panels = [log.to_html() for log in logs] + [""] * (live.MAX_MODES - len(logs))
        running = next((log.mode for log in logs if log.run_id and not log.episodes), None)
        status = f"Running {running}…" if running else "Loading models and starting…"
        yield panels[0], panels[1], status, {log.mode: log.run_id for log in logs}
    done = "; ".join(f"{log.mode} (run {log.run_id}): " + ", ".join(
        f"{task} {'PASS' if passed else 'FAIL'}" for task, passed, _, _ in log.episodes) for log in logs)
    panels = [log.to_html() for log in logs] + [""] * (live.MAX_MODES - len(logs))
    yield panels[0], panels[1], md_text(f"Done. {done}"), {log.mode: log.run_id for log in logs}


# -- Traces -------------------------------------------------------------------------------------
@friendly
def list_runs(mode: str, verifier: str, passed: str, labeled: str, since: str, until: str) -> Any:
    """The filtered runs table."""
    return services.runs_table(services.get_engine(), mode, verifier, passed, labeled, since, until)


def picked_id(table: Any, evt: gr.SelectData) -> Any:
    """The id in the first column of the row a table click selected (unchanged when unknown)."""
    try:
        row = evt.index[0]
        return int(table.iloc[row, 0])
    except (AttributeError, IndexError, TypeError, ValueError):
        return gr.update()


@friendly
def open_trace(run_id: float) -> tuple[Any, Any, Any, Any]:
    """A run's metrics, step table, latency plot and verifier-decision plot."""
    view = services.trace_view(services.get_engine(), run_id)
    return view["summary"], view["steps"], view["latency"], view["decisions"]


@friendly
def open_step(step_id: float) -> tuple[Any, ...]:
    """One step: header, context, raw drafter and target text, parsed actions, tool output."""
    view = services.step_view(services.get_engine(), step_id)
    return (md_text(view["header"]), view["context"], view["drafter_text"], view["target_text"], view["actions"],
            view["tool_output"])


# -- Annotate -----------------------------------------------------------------------------------
def _annotator(name: str, request: gr.Request | None) -> str:
    """The typed annotator name, else the logged-in user name."""
    typed = (name or "").strip()
    return typed or (getattr(request, "username", None) or "")


def _queue_outputs(view: dict[str, Any], message: str = "") -> tuple[Any, ...]:
    return (view["table"], md_text(view["progress"]), md_text(view["header"]), view["item"], view["verdict_id"],
            view["position"], view["label"], view["corrected"], view["note"], md_text(message))


def _queue_move(run_id: float, order: str, labeled: str, verifier: str, annotator: str, position: float,
                delta: int, request: gr.Request | None) -> tuple[Any, ...]:
    flt = annotate.QueueFilter.from_widgets(run_id, order, labeled, verifier, _annotator(annotator, request))
    return _queue_outputs(annotate.queue_view(services.get_engine(), flt, position, delta))


@friendly
def load_queue(run_id: float, order: str, labeled: str, verifier: str, annotator: str,
               request: gr.Request = None) -> tuple[Any, ...]:
    """The queue under the filters, from its first item."""
    return _queue_move(run_id, order, labeled, verifier, annotator, 0, 0, request)


@friendly
def next_item(run_id: float, order: str, labeled: str, verifier: str, annotator: str, position: float,
              request: gr.Request = None) -> tuple[Any, ...]:
    """The next item of the queue (key j)."""
    return _queue_move(run_id, order, labeled, verifier, annotator, position, 1, request)


@friendly
def previous_item(run_id: float, order: str, labeled: str, verifier: str, annotator: str, position: float,
                  request: gr.Request = None) -> tuple[Any, ...]:
    """The previous item of the queue (key k)."""
    return _queue_move(run_id, order, labeled, verifier, annotator, position, -1, request)


@friendly
def save_label(run_id: float, order: str, labeled: str, verifier: str, annotator: str, position: float,
               verdict_id: float, label: str, corrected: str, note: str,
               request: gr.Request = None) -> tuple[Any, ...]:
    """Save the label of the shown verdict (Enter), then show the next item."""
    flt = annotate.QueueFilter.from_widgets(run_id, order, labeled, verifier, _annotator(annotator, request))
    view = annotate.save_label(services.get_engine(), flt, verdict_id, label, corrected, note, position)
    return _queue_outputs(view, view["message"])


@friendly
def export_pairs(run_id: float, annotator: str) -> tuple[Any, str]:
    """Write the labels as ACCEPT/REJECT pairs; returns the file and a note."""
    result = annotate.export_labels(services.get_engine(), run_id, annotator)
    return result["path"], md_text(result["text"])


# -- Compare, what-if, benchmarks ---------------------------------------------------------------
@friendly
def baseline(run_a: float) -> Any:
    """The target_only run to compare run A with (unchanged when there is none)."""
    found = services.baseline_for(services.get_engine(), run_a)
    return found if found is not None else gr.update()


@friendly
def compare(run_a: float, run_b: float) -> tuple[Any, ...]:
    """Two runs side by side: run B used, speedup, metrics, per-task table and scatter."""
    view = services.compare_runs(services.get_engine(), run_a, run_b)
    return view["run_b"], view["speedup_text"], view["metrics"], view["tasks"], view["scatter"]


@friendly
def threshold_whatif(run_id: float, verifier: str, threshold: float) -> tuple[Any, ...]:
    """Replay a shadow run at a threshold: run used, metrics text, bars."""
    view = services.whatif(services.get_engine(), run_id, verifier, threshold)
    return view["run_id"], md_text(view["text"]), view["figure"]


@friendly
def benchmarks() -> tuple[Any, ...]:
    """The newest benchmark results: note, table, plot."""
    view = services.bench_view()
    return view["text"], view["table"], view["figure"]
