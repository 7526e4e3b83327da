"""The labeling queue: filters, the item at a position, progress counts, saving and export.

The queue is ``db.queries.verdict_queue`` under a :class:`QueueFilter`; the page keeps only
a position in it, so every call is stateless (the API works the same as the page). Saving
upserts the one label of (verdict, annotator) and moves to the next item of the filter.
This module knows nothing about gradio and never loads a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import pandas as pd
from sqlalchemy import Engine

from db import queries
from db.tables import ANNOTATION_LABELS
from spectool_app.config import load_config
from spectool_app.ui.render import short_action
from spectool_app.ui.services import ANY, LABEL_FILTERS, UIError, parse_id

QUEUE_COLUMNS = ["position", "verdict_id", "run_id", "task_id", "turn", "index", "p_accept", "threshold",
                 "accepted", "uncertainty", "reference", "disagreement", "label", "draft"]


@dataclass(frozen=True)
class QueueFilter:
    """Which verdicts the queue holds and in what order."""

    run_id: Optional[int] = None  # one run, None: every run
    order: str = "uncertainty"  # one of queries.QUEUE_ORDERS
    labeled: Optional[bool] = None  # True labeled only, False unlabeled only, None both
    verifier: Optional[str] = None  # one verifier kind, None: all
    annotator: Optional[str] = None  # whose labels count as "labeled" and are shown

    @classmethod
    def from_widgets(cls, run_id: Any, order: Any, labeled: Any, verifier: Any, annotator: Any) -> "QueueFilter":
        """Build from page values ("any" and empty mean no filter).

        Raises:
            UIError: a bad run id, order or label filter.
        """
        if order not in queries.QUEUE_ORDERS:
            raise UIError(f"unknown queue order {order!r}; allowed: {', '.join(queries.QUEUE_ORDERS)}")
        if labeled not in LABEL_FILTERS and labeled not in (None, ""):
            raise UIError(f"unknown label filter {labeled!r}; allowed: {', '.join(LABEL_FILTERS)}")
        flag = None if labeled in (None, "", ANY) else labeled == "labeled"
        return cls(run_id=parse_id(run_id, "run id", required=False), order=str(order), labeled=flag,
                   verifier=None if verifier in (None, "", ANY) else str(verifier),
                   annotator=(str(annotator).strip() or None) if annotator else None)

    def rows(self, engine: Engine) -> list[dict[str, Any]]:
        """The queue, most useful first."""
        return queries.verdict_queue(engine, run_id=self.run_id, order=self.order, labeled=self.labeled,
                                     annotator=self.annotator, verifier=self.verifier)


def queue_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Queue rows as the table the page shows."""
    out = [{**{k: row.get(k) for k in QUEUE_COLUMNS if k in row}, "position": n,
            "uncertainty": round(row["uncertainty"], 4), "p_accept": round(row["p_accept"], 4),
            "draft": short_action(row["draft_action"])}
           for n, row in enumerate(rows)]
    return pd.DataFrame(out, columns=QUEUE_COLUMNS) if out else pd.DataFrame(columns=QUEUE_COLUMNS)


def progress_text(engine: Engine, flt: QueueFilter) -> str:
    """"labeled x of n" for the filter without its labeled/unlabeled part, overall and for the annotator."""
    everything = queries.verdict_queue(engine, run_id=flt.run_id, order=flt.order, verifier=flt.verifier)
    anyone = sum(r["labels"] > 0 for r in everything)
    text = f"{anyone} of {len(everything)} verdicts labeled"
    if flt.annotator:
        mine = queries.verdict_queue(engine, run_id=flt.run_id, order=flt.order, verifier=flt.verifier,
                                     annotator=flt.annotator, labeled=True)
        text += f"; {len(mine)} by {flt.annotator}"
    return text


def _item(rows: list[dict[str, Any]], position: int) -> dict[str, Any]:
    """The queue item at ``position`` (clamped) as the page shows it."""
    if not rows:
        return {"position": 0, "verdict_id": None, "item": {}, "label": None, "corrected": "", "note": "",
                "header": "The queue is empty for these filters."}
    position = max(0, min(position, len(rows) - 1))
    row = rows[position]
    item = {k: row[k] for k in ("verdict_id", "step_id", "run_id", "task_id", "turn", "index", "verifier",
                                "p_accept", "threshold", "accepted", "reference", "reference_correct",
                                "disagreement", "label")}
    item.update(draft=short_action(row["draft_action"]), executed=short_action(row["executed_action"]),
                gold=short_action(row["gold"]), shadow=short_action(row["shadow_action"]))
    decision = "accepted" if row["accepted"] else "rejected"
    header = (f"Item {position + 1} of {len(rows)}: verdict {row['verdict_id']} (run {row['run_id']}, "
              f"{row['task_id']}, turn {row['turn']} step {row['index']}); p_accept {row['p_accept']:.3f} vs "
              f"threshold {row['threshold']:.2f}: {decision}")
    return {"position": position, "verdict_id": row["verdict_id"], "item": item, "label": row["label"],
            "corrected": "", "note": "", "header": header}


def _with_annotation(engine: Engine, view: dict[str, Any], annotator: Optional[str]) -> dict[str, Any]:
    """Fill the annotator's saved corrected action and note into an item view."""
    if view["verdict_id"] is None or not annotator:
        return view
    detail = queries.step_detail(engine, view["item"]["step_id"])
    for verdict in detail["verdicts"]:
        for note in verdict["annotations"]:
            if verdict["id"] == view["verdict_id"] and note["annotator"] == annotator:
                view.update(label=note["label"], corrected=note["corrected_action"] or "", note=note["note"])
    return view


def queue_view(engine: Engine, flt: QueueFilter, position: Any = 0, delta: int = 0) -> dict[str, Any]:
    """The queue table, progress and the item at ``position + delta``.

    Returns:
        the item view (``position``, ``verdict_id``, ``item``, ``label``, ``corrected``, ``note``,
        ``header``) plus ``table`` (DataFrame) and ``progress`` (text).
    """
    rows = flt.rows(engine)
    start = parse_position(position)
    view = _with_annotation(engine, _item(rows, start + delta), flt.annotator)
    view.update(table=queue_frame(rows), progress=progress_text(engine, flt))
    return view


def parse_position(value: Any) -> int:
    """A queue position (0-based) from a widget value.

    Raises:
        UIError: not a whole number >= 0.
    """
    try:
        number = float(value or 0)
    except (TypeError, ValueError):
        raise UIError(f"position must be a whole number >= 0, got {value!r}") from None
    if not number.is_integer() or number < 0:
        raise UIError(f"position must be a whole number >= 0, got {value!r}")
    return int(number)


def save_label(engine: Engine, flt: QueueFilter, verdict_id: Any, label: Any, corrected: Any, note: Any,
               position: Any) -> dict[str, Any]:
    """Upsert the annotator's label on a verdict, then show the next item of the filter.

    Raises:
        UIError: no verdict, no label or no annotator name.
        StoreError: unknown verdict, unknown label or a corrected action that is not an action.
    """
    verdict = parse_id(verdict_id, "verdict id")
    if label in (None, ""):
        raise UIError(f"label is empty; choose one of {', '.join(ANNOTATION_LABELS)} (keys 1-4)")
    if not flt.annotator:
        raise UIError("annotator name is empty; type your name in the Annotator box first")
    saved = queries.upsert_annotation(engine, verdict, str(label), flt.annotator, corrected or None, str(note or ""))
    rows = flt.rows(engine)
    ids = [r["verdict_id"] for r in rows]
    start = parse_position(position)
    following = ids.index(verdict) + 1 if verdict in ids else start  # the saved one may have left the filter
    following = min(following, len(rows) - 1) if rows else 0
    view = _with_annotation(engine, _item(rows, following), flt.annotator)
    view.update(table=queue_frame(rows), progress=progress_text(engine, flt),
                message=f"saved {saved['label']} on verdict {verdict} for {saved['annotator']}")
    return view


def export_labels(engine: Engine, run_id: Any = None, annotator: Any = None,
                  folder: Optional[Path] = None) -> dict[str, Any]:
    """Write the labeled verdicts as ACCEPT/REJECT pairs (JSON Lines) for ``train-verifier --extra``.

    Returns:
        ``{"path": str, "rows": int, "text": str}``.

    Raises:
        UIError: a bad run id, or nothing labeled yet.  StoreError: unknown run.
    """
    run = parse_id(run_id, "run id", required=False)
    who = (str(annotator).strip() or None) if annotator else None
    folder = folder or Path(load_config().data_dir) / "exports"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = folder / f"pairs-{stamp}.jsonl"
    rows = queries.export_pairs(engine, path, run_id=run, annotator=who)
    if not rows:
        path.unlink(missing_ok=True)
        raise UIError("no labeled verdicts match; label some in the queue first (or clear the run/annotator filters)")
    return {"path": str(path), "rows": len(rows),
            "text": f"{len(rows)} pairs written to exports/{path.name}; train on them with "
                    f"`python -m spectool_app train-verifier --extra {path.name}`"}
