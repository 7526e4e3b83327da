"""Server time of the Traces view for a recorded 1,000-step run (goal: under 1 s).

Records one synthetic episode of N steps (``db.recorder.synthetic_episode`` + ``Recorder``)
into a fresh SQLite file, then times what the server does when the run is opened: the store
queries, the step frame and both figures (``services.trace_view``), and gradio's
postprocessing of the outputs into the JSON it sends (metrics, table, two plots). Prints the
median of several repeats and exits 1 when it is over the limit.

    python scripts/bench_trace_view.py [--steps 1000] [--repeats 5] [--limit 1.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def record_run(url: str, steps: int) -> int:
    """One run of one episode with ``steps`` steps; returns its id."""
    from db.engine import open_store
    from db.recorder import Recorder, synthetic_episode

    engine = open_store(url)
    recorder = Recorder(engine)
    run_id = recorder.start_run(mode="speculative", verifier="always", threshold=0.5, task_set="bench")
    for event in synthetic_episode("bench-0", steps, content="x" * 200):
        recorder.consume(event)
    recorder.finish_run(run_id)
    engine.dispose()
    return run_id


def time_view(url: str, run_id: int, repeats: int) -> tuple[list[float], list[float]]:
    """(service seconds, service + gradio postprocess seconds) per repeat, on a warm engine."""
    import gradio as gr

    from spectool_app.ui import services

    engine = services.get_engine(url)
    outputs = (gr.JSON(), gr.Dataframe(), gr.Plot(), gr.Plot())
    services.trace_view(engine, run_id)  # warm-up: imports and first connection
    service, total = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        view = services.trace_view(engine, run_id)
        middle = time.perf_counter()
        for component, value in zip(outputs, (view["summary"], view["steps"], view["latency"], view["decisions"])):
            component.postprocess(value)
        end = time.perf_counter()
        service.append(middle - start)
        total.append(end - start)
    return service, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps in the recorded run")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    parser.add_argument("--limit", type=float, default=1.0, help="seconds the median must stay under")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be at least 1")
    with tempfile.TemporaryDirectory(prefix="spectool-trace-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        run_id = record_run(url, args.steps)
        service, total = time_view(url, run_id, args.repeats)
    median_service, median_total = statistics.median(service), statistics.median(total)
    print(f"trace view of a {args.steps}-step run: queries+frames+figures {median_service:.3f} s, "
          f"with gradio postprocess {median_total:.3f} s (median of {args.repeats}; limit {args.limit:.2f} s)")
    return 0 if median_total < args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
