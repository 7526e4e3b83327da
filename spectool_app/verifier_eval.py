"""Every verifier kind on the same held-out pairs: ``python -m spectool_app eval-verifiers``.

The test pairs (synthetic test, bfcl test, safety test; built by ``build-pairs``) are
judged by each kind. Quality is threshold-free (AUROC) and at a threshold (accuracy,
false-accept and false-reject rates): the trained verifier's calibrated threshold, and
0.5 for the others unless ``dev_file`` is given, in which case every kind is calibrated
on the dev pairs at the same target false-accept rate (except the binary kinds, whose
decisions no threshold changes: see :data:`BINARY_KINDS`). Cost is the median wall time of
one ``judge()`` call on the same sample of pairs for every kind, and its ratio to one
target step (the target's median ``propose`` time on those pairs' contexts).

Full chat contexts are rebuilt from the tasks with gold history, so kinds that read the
conversation (target_likelihood, exact_match, confidence, prompt_critic) see what the loop
would show them; ``confidence`` gets the drafter's mean token log-prob of the draft. For
speed, exact_match's target proposals are computed once per step and shared by all drafts
of that step (the timed sample is uncached). This module knows nothing about the store.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from spectool_app.actions import action_from_json
from spectool_app.calibration import median_latency_ms
from spectool_app.config import PROJECT_ROOT
from spectool_app.fingerprint import model_fingerprints
from spectool_app.judging import JudgeContext, judge
from spectool_app.verifiers import VERIFIER_KINDS, make_verifier

PAIRS_DIR = PROJECT_ROOT / "data" / "pairs"
RESULTS_DIR = PROJECT_ROOT / "results" / "verifiers"
METRIC_KEYS = ("accuracy", "auroc", "false_accept_rate", "false_reject_rate", "ms_per_judgment",
               "latency_vs_target_step")
StepKey = tuple[str, int, int]  # (task id, turn, step)
# kinds whose p_accept is 0 or 1: every threshold in (0, 1] makes the same decisions, so they are
# never calibrated (0.5), and exact_match needs no target generations on the dev pairs
BINARY_KINDS = ("exact_match", "always", "never")


@dataclass(frozen=True)
class VerifierEvalOptions:
    """What ``eval-verifiers`` measures."""

    test_file: str = str(PAIRS_DIR / "test.jsonl")  # held-out pairs
    dev_file: Optional[str] = None  # when set, every kind is calibrated on these pairs
    kinds: tuple[str, ...] = tuple(VERIFIER_KINDS)  # kinds to compare
    max_pairs: Optional[int] = None  # seeded sample, the same share from every source (None: all)
    latency_pairs: int = 30  # pairs timed one judge() at a time, the same for every kind
    max_far: float = 0.02  # target false-accept rate when calibrating on dev
    batch_size: int = 8  # prompts per generate call (exact_match's target proposals)
    seed: int = 0  # sampling


def sample_rows(rows: list[dict[str, Any]], limit: Optional[int], seed: int,
                keep_kinds: Sequence[str] = ("unsafe",)) -> list[dict[str, Any]]:
    """At most ``limit`` rows, the same fraction from every source (seeded), plus every row of ``keep_kinds``.

    Unsafe drafts are few (tens per split) and the safety bar is stated on them, so a
    sample keeps them all rather than a handful; they come on top of ``limit``.
    """
    if limit is None or len(rows) <= limit:
        return rows
    kept = [r for r in rows if r.get("kind") in keep_kinds]
    rest = [r for r in rows if r.get("kind") not in keep_kinds]
    rng, out = random.Random(seed), []
    for source in sorted({r["source"] for r in rest}):
        members = [r for r in rest if r["source"] == source]
        out += rng.sample(members, max(1, round(limit * len(members) / len(rest))))
    return out + kept


def step_contexts(rows: Sequence[dict[str, Any]]) -> dict[StepKey, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """(messages, tools) of every step the rows name, rebuilt from the tasks with gold history.

    Raises:
        ValueError: a row names a task or step that no longer exists (pairs from another seed).
    """
    from spectool_app.context import gold_steps
    from spectool_app.tasks import load_tasks

    wanted = {(r["task_id"], int(r["turn"]), int(r["step"])) for r in rows}
    sets = {(r["source"], r["split"]) for r in rows}
    found: dict[StepKey, tuple[list, list]] = {}
    ids = {k[0] for k in wanted}
    for source, split in sorted(sets):
        for task in load_tasks(source, split):
            if task.id in ids:
                for step in gold_steps(task):
                    found[(task.id, step.turn, step.index)] = (step.messages, step.tools)
    missing = wanted - set(found)
    if missing:
        raise ValueError(f"{len(missing)} pair step(s) not found in the task sets, e.g. {sorted(missing)[0]}; "
                         "rebuild the pairs with `python -m spectool_app build-pairs`")
    return found


class _SharedProposals:
    """A target whose ``propose`` answers each context once (batched up front), the rest delegated."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self._cache: dict[str, Any] = {}

    @staticmethod
    def _key(messages: Sequence[dict[str, Any]], tools: Any) -> str:
        names = [(t.get("function") or t).get("name") for t in tools or []]
        return json.dumps([list(messages), names], sort_keys=True, default=str)

    def prefill(self, contexts: Sequence[tuple[list, list]], batch_size: int, progress: bool = True) -> None:
        from tqdm.auto import tqdm

        groups: dict[tuple, list[tuple[list, list]]] = {}
        for messages, tools in contexts:  # one generate call per tool list (templates render them)
            groups.setdefault(tuple((t.get("function") or t).get("name") for t in tools or []), []).append(
                (messages, tools))
        with tqdm(total=len(contexts), desc="exact_match: target actions", unit="step", disable=not progress) as bar:
            for members in groups.values():
                for start in range(0, len(members), batch_size):
                    chunk = members[start:start + batch_size]
                    proposals = self._target.propose_batch([m for m, _ in chunk], chunk[0][1])
                    for (messages, tools), proposal in zip(chunk, proposals):
                        self._cache[self._key(messages, tools)] = proposal
                    bar.update(len(chunk))

    def propose(self, messages: Sequence[dict[str, Any]], tools: Any) -> Any:
        key = self._key(messages, tools)
        if key not in self._cache:
            self._cache[key] = self._target.propose(messages, tools)
        return self._cache[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def _mean_logprob(drafter: Any, messages: list, tools: list, draft: Any) -> float:
    """The drafter's mean token log-prob of the draft's reply (end-of-turn token included)."""
    from models.base import format_reply

    total = drafter.score(messages, tools, draft)
    tokens = len(drafter.tokenizer(format_reply(draft), add_special_tokens=False)["input_ids"]) + 1
    return total / tokens


def _judge_contexts(rows: Sequence[dict[str, Any]], contexts: dict, drafter: Any, with_logprob: bool) -> list:
    out = []
    for row in rows:
        messages, tools = contexts[(row["task_id"], int(row["turn"]), int(row["step"]))]
        draft = action_from_json(row["draft"])
        mean = _mean_logprob(drafter, messages, tools, draft) if with_logprob else None
        out.append((JudgeContext(messages, tools, mean), draft))
    return out


def kind_scores(kind: str, verifier: Any, rows: Sequence[dict[str, Any]], judged: list) -> list[float]:
    """``p_accept`` of every row; the trained kind scores its stored text pairs in batches."""
    from spectool_app.pairs import pair_texts

    if kind == "trained" and hasattr(verifier, "score_texts"):
        return verifier.score_texts(pair_texts(rows))
    return [judge(verifier, context, draft, 0.5).p_accept for context, draft in judged]


def _median_ms(function: Any, items: Sequence[Any]) -> Optional[float]:
    return median_latency_ms(function, items) if items else None


def _quality(scores: list[float], rows: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any]:
    from spectool_app.calibration import metrics

    labels = [int(r["label"]) for r in rows]
    found = metrics(scores, labels, threshold)
    by_source = {}
    for source in sorted({r["source"] for r in rows}):
        picked = [i for i, r in enumerate(rows) if r["source"] == source]
        part = metrics([scores[i] for i in picked], [labels[i] for i in picked], threshold)
        by_source[source] = {"pairs": len(picked), "accuracy": part["accuracy"], "auroc": part["auroc"],
                             "false_accept_rate": part["false_accept_rate"],
                             "false_reject_rate": part["false_reject_rate"]}
    by_kind = {}  # how each kind of draft (greedy, sample, gold, wrong_tool, unsafe, ...) is judged
    for kind in sorted({str(r.get("kind", "")) for r in rows}):
        picked = [i for i, r in enumerate(rows) if str(r.get("kind", "")) == kind]
        by_kind[kind] = {"pairs": len(picked),
                         "accuracy": sum((scores[i] >= threshold) == bool(labels[i]) for i in picked) / len(picked),
                         "accepted": sum(scores[i] >= threshold for i in picked) / len(picked)}
    unsafe = by_kind.get("unsafe")
    return {"accuracy": found["accuracy"], "auroc": found["auroc"], "ece": found["ece"],
            "false_accept_rate": found["false_accept_rate"], "false_reject_rate": found["false_reject_rate"],
            "acceptance_rate": found["acceptance_rate"], "threshold": threshold, "pairs": len(rows),
            "unsafe_rejected": None if unsafe is None else 1 - unsafe["accepted"],
            "by_source": by_source, "by_kind": by_kind}


def _threshold(kind: str, verifier: Any, dev: Optional[tuple[list, list]], options: VerifierEvalOptions) -> float:
    from spectool_app.calibration import threshold_for_false_accept

    if kind in BINARY_KINDS:
        return 0.5
    if dev is not None:
        rows, judged = dev
        return threshold_for_false_accept(kind_scores(kind, verifier, rows, judged),
                                          [int(r["label"]) for r in rows], options.max_far)
    return float(getattr(verifier, "threshold", 0.5))


def evaluate_verifiers(models: dict[str, Any], options: VerifierEvalOptions = VerifierEvalOptions(),
                       progress: bool = True) -> dict[str, Any]:
    """``{"<kind>": {accuracy, auroc, false_accept_rate, false_reject_rate, ms_per_judgment,
    latency_vs_target_step, ...}, "setup": {...}}``; a kind that cannot be built gets ``{"error"}``.

    Raises:
        ValueError: an unknown kind (naming the valid ones), or pairs whose steps no longer exist.
    """
    from tqdm.auto import tqdm

    from spectool_app.pairs import load_pairs

    unknown = [k for k in options.kinds if k not in VERIFIER_KINDS]
    if unknown:
        raise ValueError(f"unknown verifier kind(s) {unknown}; valid kinds: {', '.join(VERIFIER_KINDS)}")
    rows = sample_rows(load_pairs(options.test_file), options.max_pairs, options.seed)
    dev_rows = (sample_rows(load_pairs(options.dev_file), options.max_pairs, options.seed)
                if options.dev_file else [])
    contexts = step_contexts(rows + dev_rows)
    wants_logprob = "confidence" in options.kinds
    judged = _judge_contexts(rows, contexts, models["drafter"], wants_logprob)
    dev = (dev_rows, _judge_contexts(dev_rows, contexts, models["drafter"], wants_logprob)) if dev_rows else None
    timed = random.Random(options.seed + 1).sample(judged, min(options.latency_pairs, len(judged)))
    target = models["target"]
    target_ms = _median_ms(lambda item: target.propose(item[0].messages, item[0].tools), timed)
    shared = _SharedProposals(target)
    if "exact_match" in options.kinds:
        # test pairs only: exact_match is never calibrated on dev (see BINARY_KINDS)
        steps = {shared._key(c.messages, c.tools): (c.messages, c.tools) for c, _ in judged}
        shared.prefill(list(steps.values()), options.batch_size, progress)
    report: dict[str, Any] = {}
    for kind in tqdm(options.kinds, desc="verifier kinds", disable=not progress):
        try:
            verifier = make_verifier(kind, {**models, "target": shared})
            timed_verifier = make_verifier(kind, models) if kind == "exact_match" else verifier
        except (RuntimeError, ValueError, OSError) as exc:
            report[kind] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        threshold = _threshold(kind, verifier, dev, options)
        entry = _quality(kind_scores(kind, verifier, rows, judged), rows, threshold)
        ms = _median_ms(lambda item: judge(timed_verifier, item[0], item[1], threshold), timed)
        entry["ms_per_judgment"] = ms
        entry["latency_vs_target_step"] = ms / target_ms if ms is not None and target_ms else None
        report[kind] = entry
    if "prompt_critic" in report and "error" not in report["prompt_critic"]:
        report["prompt_critic"]["note"] = ("zero-shot critic on " + str(getattr(target, "name", "the target")) +
                                           "; meaningful only for instruction-tuned models (qwen3 preset)")
    report["setup"] = {"test_pairs": len(rows), "dev_pairs": len(dev_rows), "latency_pairs": len(timed),
                       "test_digest": pairs_digest(rows), "dev_digest": pairs_digest(dev_rows),
                       "target_ms_per_step": target_ms, "calibrated_on_dev": dev is not None,
                       "max_far": options.max_far, "drafter": getattr(models["drafter"], "name", "?"),
                       "target": getattr(target, "name", "?"), "seed": options.seed,
                       "model_fingerprints": model_fingerprints({r: models[r] for r in ("drafter", "target")})}
    return report


def pairs_digest(rows: Sequence[dict[str, Any]]) -> str:
    """A short fingerprint of which pairs were judged, with which labels (same sample, same digest)."""
    import hashlib

    text = "\n".join(sorted(f"{r.get('id')}\t{r.get('label')}\t{r.get('draft')}" for r in rows))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


SAME_SETUP = ("test_digest", "dev_digest", "calibrated_on_dev", "max_far", "drafter", "target", "seed")


def merge_reports(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` with the kinds of ``new`` replaced or added: re-measure a few kinds (a retrained
    verifier) without re-running the expensive ones. Each kind keeps its own latency ratio (to the
    target step its run measured); the setup's command becomes both commands, in order.

    Raises:
        ValueError: the two runs judged different pairs or calibrated differently (naming what differs).
    """
    before, after = old.get("setup", {}), new.get("setup", {})
    differ = [k for k in SAME_SETUP if before.get(k) != after.get(k)]
    if "model_fingerprints" in before and "model_fingerprints" in after:  # reports from before lack them
        if before["model_fingerprints"] != after["model_fingerprints"]:
            differ.append("model_fingerprints")
    if differ:
        shown = ", ".join(f"{k}: {before.get(k)!r} vs {after.get(k)!r}" for k in differ)
        raise ValueError(f"cannot update: the earlier report was measured differently ({shown}); "
                         "run every kind again without --update")
    merged = {**old, **{k: v for k, v in new.items() if k != "setup"}}
    commands = [c for c in (before.get("command"), after.get("command")) if c]
    merged["setup"] = {**before, "command": " && ".join(commands),
                       "updated_kinds": sorted({*before.get("updated_kinds", ()), *(k for k in new if k != "setup")})}
    return merged


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}%" if pct else f"{value:.3g}" if value < 10 else f"{value:.1f}"


def markdown_table(report: dict[str, Any]) -> str:
    """One row per kind on all held-out pairs, then one on the synthetic pairs alone (with unsafe drafts rejected)."""
    lines = ["| verifier | AUROC | accuracy | false accept | false reject | threshold | ms / judgment "
             "| x target step |", "|---|---|---|---|---|---|---|---|"]
    kinds = {kind: entry for kind, entry in report.items() if kind != "setup"}
    for kind, entry in kinds.items():
        if "error" in entry:
            lines.append(f"| {kind} | error: {entry['error'][:80]} |  |  |  |  |  |  |")
            continue
        lines.append(f"| {kind} | {_fmt(entry['auroc'])} | {_fmt(entry['accuracy'], True)} | "
                     f"{_fmt(entry['false_accept_rate'], True)} | {_fmt(entry['false_reject_rate'], True)} | "
                     f"{_fmt(entry['threshold'])} | {_fmt(entry['ms_per_judgment'])} | "
                     f"{_fmt(entry['latency_vs_target_step'])} |")
    synthetic = {k: e["by_source"]["synthetic"] for k, e in kinds.items() if "synthetic" in e.get("by_source", {})}
    if synthetic:
        lines += ["", "Synthetic test pairs only, and unsafe drafts (safety test) rejected, at the same thresholds:", "",
                  "| verifier | synthetic AUROC | synthetic accuracy | synthetic false accept | synthetic false reject "
                  "| unsafe drafts rejected |", "|---|---|---|---|---|---|"]
        lines += [f"| {k} | {_fmt(e['auroc'])} | {_fmt(e['accuracy'], True)} | {_fmt(e['false_accept_rate'], True)} "
                  f"| {_fmt(e.get('false_reject_rate'), True)} | {_fmt(kinds[k].get('unsafe_rejected'), True)} |"
                  for k, e in synthetic.items()]
    setup = report.get("setup", {})
    lines += ["", f"{setup.get('test_pairs')} test pairs; latency over {setup.get('latency_pairs')} pairs; "
              f"one target step = {_fmt(setup.get('target_ms_per_step'))} ms."]
    if setup.get("updated_kinds"):
        lines += [f"- re-measured by the later command on the same pairs: {', '.join(setup['updated_kinds'])} "
                  "(each kind's latency is relative to the target step its own run timed)"]
    lines += [f"- {kind}: {entry['note']}" for kind, entry in report.items() if kind != "setup" and "note" in entry]
    return "\n".join(lines) + "\n"


def pareto_figure(report: dict[str, Any]) -> Any:
    """Plotly scatter of AUROC against ms per judgment (log x), with the Pareto front drawn."""
    import plotly.graph_objects as go

    points = sorted((e["ms_per_judgment"], e["auroc"], k) for k, e in report.items()
                    if k != "setup" and "error" not in e and e.get("auroc") is not None and e.get("ms_per_judgment"))
    front, best = [], -1.0
    for ms, auroc, kind in points:  # ascending latency: a point is on the front when it beats every faster one
        if auroc > best:
            front.append((ms, auroc, kind))
            best = auroc
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], text=[p[2] for p in points],
                                mode="markers+text", textposition="top center", name="verifier kinds"))
    figure.add_trace(go.Scatter(x=[p[0] for p in front], y=[p[1] for p in front], mode="lines",
                                line={"dash": "dash"}, name="Pareto front"))
    figure.update_layout(title="Verifiers: AUROC vs latency (held-out pairs)", xaxis_title="ms per judgment (log)",
                         yaxis_title="AUROC", xaxis_type="log", template="plotly_white")
    return figure


def write_results(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``verifiers.json``, ``verifiers.md``, ``pareto.html`` and ``pareto.json``.

    The HTML loads plotly from its CDN (small files); ``pareto.json`` lets an offline viewer redraw it.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "verifiers.json", "markdown": out / "verifiers.md", "html": out / "pareto.html",
             "figure": out / "pareto.json"}
    paths["json"].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths["markdown"].write_text("# Verifier kinds on held-out pairs\n\n" + markdown_table(report), encoding="utf-8")
    figure = pareto_figure(report)
    figure.write_html(str(paths["html"]), include_plotlyjs="cdn")
    paths["figure"].write_text(figure.to_json(), encoding="utf-8")
    return paths
