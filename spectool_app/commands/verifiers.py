"""``build-pairs``, ``build-guard-pairs``, ``eval-guard``, ``refresh-pairs``, ``merge-pairs``, ``train-verifier``, ``calibrate-verifier``, ``eval-verifiers``."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
import sys

from spectool_app.commands import UsageError, comma_list

DEFAULT_PAIRS = "data/pairs"  # relative to the working directory, as typed


def _command(args: argparse.Namespace) -> str:
    return shlex.join(["python", "-m", "spectool_app", args.command, *args.argv_tail])


def _load_role(role: str, preset: str | None):
    from models.presets import load_model, preset_name, preset_specs

    chosen = preset_name(preset)
    return load_model(str(preset_specs(chosen)[role]), role, chosen)


def _report(args: argparse.Namespace, summary: dict, line: str) -> int:
    """One line for people on stderr; the summary as one JSON object on stdout with ``--json``."""
    print(line, file=sys.stderr)
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


def _splits(text: str) -> list[str]:
    from spectool_app.pairs import SPLIT_SOURCES

    return list(comma_list(text, tuple(SPLIT_SOURCES), "split"))


def _cmd_build_pairs(args: argparse.Namespace) -> int:
    from spectool_app.pairs import LABEL_MODES, PairOptions, build_pairs, class_balance, write_pairs

    if args.label not in LABEL_MODES:
        raise UsageError(f"unknown --label {args.label!r}; valid modes: {', '.join(LABEL_MODES)}")
    splits = _splits(args.splits)
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip()) if args.sources else None
    options = PairOptions(samples=args.samples, temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                          negatives=args.negatives,
                          label=args.label, batch_size=args.batch_size, max_tasks=args.max_tasks,
                          safety_train_pairs=args.safety_train_pairs, seed=args.seed, sources=sources)
    drafter = _load_role("drafter", args.preset)
    target = _load_role("target", args.preset) if args.label == "target" else None
    out, summary = Path(args.out), {"command": _command(args), "splits": {}}
    for split in splits:
        rows = build_pairs(split, drafter, options, target)
        name = f"{split}.jsonl" if args.label == "gold" else f"{split}-{args.label}.jsonl"
        path = write_pairs(rows, out / name)
        balance = class_balance(rows)
        summary["splits"][split] = {"file": str(path), **balance}
        print(f"{split}: {balance['rows']} pairs, {balance['accept']} ACCEPT / {balance['reject']} REJECT "
              f"({100 * balance['accept_share']:.1f}% ACCEPT) -> {path}", file=sys.stderr)
        for kind, (accept, reject) in balance["by_kind"].items():
            print(f"  {kind:<17} ACCEPT {accept:>6}  REJECT {reject:>6}", file=sys.stderr)
    (out / f"summary-{args.label}.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


def _add_build_pairs(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build-pairs", help="ACCEPT/REJECT pairs from drafter samples and hard negatives")
    build.add_argument("--splits", default="train,dev,test", help="comma-separated: train,dev,test")
    build.add_argument("--samples", type=int, default=2, help="temperature samples per step besides greedy")
    build.add_argument("--temperature", type=float, default=0.7, help="of the extra samples")
    build.add_argument("--max-new-tokens", type=int, default=128, help="generation cap per draft")
    build.add_argument("--negatives", type=int, default=2, help="generic hard negatives per step")
    build.add_argument("--label", default="gold", help="gold (equivalence to gold) or target (agreement)")
    build.add_argument("--max-tasks", type=int, help="per task source, a seeded sample of tasks")
    build.add_argument("--sources", help="comma-separated task sources: synthetic,bfcl,safety (default: all)")
    build.add_argument("--safety-train-pairs", type=int, default=480, help="safety training twin pairs")
    build.add_argument("--batch-size", type=int, default=16)
    build.add_argument("--out", default=DEFAULT_PAIRS, help="folder for <split>.jsonl")
    build.add_argument("--preset", help="model preset (default: SPECTOOL_PRESET or embedded)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    build.set_defaults(handler=_cmd_build_pairs)


def _cmd_build_guard_pairs(args: argparse.Namespace) -> int:
    from spectool_app.guard import GuardPairOptions, guard_eval_rows, guard_eval_sets, guard_rows
    from spectool_app.pairs import class_balance, write_pairs

    if args.model_calls < 0:
        raise UsageError(f"--model-calls must be at least 0 (0: none), got {args.model_calls}")
    try:
        train = guard_rows(GuardPairOptions(pairs=args.pairs, focus_pairs=args.focus_pairs, seed=args.seed,
                                            lookalikes=args.lookalikes, premature=args.premature,
                                            crossed=args.crossed))
    except ValueError as exc:  # the counts: guard_rows names what is allowed
        raise UsageError(str(exc)) from exc
    dev, crossed = guard_eval_sets("dev")
    dev += crossed if args.crossed else []
    if args.model_calls or args.dev_model_calls:
        from spectool_app.guard import model_call_rows
        from spectool_app.runner import load_models
        from spectool_app.tasks import load_tasks
        from spectool_app.tasks.safety import training_tasks

        models = load_models(args.preset)
        if args.model_calls:  # pairs of their own seed: instances neither the rows above nor the models saw
            train += model_call_rows(models, training_tasks(seed=args.seed + 2, n=args.model_calls))
        if args.dev_model_calls:  # calibration then weighs the calls the loop meets, not only the gold ones
            dev += model_call_rows(models, load_tasks("safety", "dev"), "dev")
    out, summary = Path(args.out), {"command": _command(args), "splits": {}}
    for split, rows in (("train", train), ("dev", dev), ("test", guard_eval_rows("test"))):
        path = write_pairs(rows, out / f"{split}.jsonl")
        balance = class_balance(rows)
        summary["splits"][split] = {"file": str(path), **balance}
        print(f"{split}: {balance['rows']} rows, {balance['accept']} SAFE / {balance['reject']} UNSAFE -> {path}",
              file=sys.stderr)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


def _add_build_guard_pairs(commands: argparse._SubParsersAction) -> None:
    from spectool_app.guard import GuardPairOptions

    defaults = GuardPairOptions()
    build = commands.add_parser("build-guard-pairs", help="SAFE/UNSAFE rows for the safety guard (train: safety "
                                "training templates; dev, test: the safety sets' risky steps)")
    build.add_argument("--out", default="data/guard", help="folder for train.jsonl, dev.jsonl, test.jsonl")
    build.add_argument("--pairs", type=int, default=defaults.pairs, help="safety training pairs over every kind")
    build.add_argument("--focus-pairs", type=int, default=defaults.focus_pairs,
                       help="extra pairs over the kinds whose cue is a comparison (guard.FOCUS_KINDS)")
    build.add_argument("--seed", type=int, default=defaults.seed, help="safety template seed")
    build.add_argument("--lookalikes", type=float, default=defaults.lookalikes,
                       help="share of pairs whose risky steps also get a call with one argument changed (0 to 1)")
    build.add_argument("--premature", action="store_true",
                       help="also each pair's forbidden call at the steps gold takes before the risky one in its "
                            "turn (before the check the policy needs), UNSAFE in both twins")
    build.add_argument("--crossed", action="store_true",
                       help="also each pair's forbidden call at its benign twin's risky step, UNSAFE where it is not "
                            "that twin's gold call (train and dev), so that the guard judges the call, not only "
                            "the situation")
    build.add_argument("--model-calls", type=int, default=0,
                       help="fresh training pairs whose risky steps also get the calls the models themselves write "
                            "there (the drafter's, the target's and its best non-refusal; 0: none)")
    build.add_argument("--dev-model-calls", action="store_true",
                       help="dev.jsonl also gets the models' calls at every safety dev pair's risky step, labelled "
                            "the same way, so that calibrate-verifier weighs what the loop meets")
    build.add_argument("--preset", help="model preset for --model-calls and --dev-model-calls (default: "
                                        "SPECTOOL_PRESET or embedded)")
    build.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    build.set_defaults(handler=_cmd_build_guard_pairs)


def _cmd_eval_guard(args: argparse.Namespace) -> int:
    from spectool_app.guard import SafetyGuard, guard_report

    if args.split not in ("dev", "test"):
        raise UsageError(f"--split must be dev or test, got {args.split!r}")
    if args.ordinary < 0:
        raise UsageError(f"--ordinary must be 0 or more calls, got {args.ordinary}")
    report = guard_report(SafetyGuard(args.guard, threshold=args.threshold), args.split, args.ordinary)
    line = (f"guard on safety {args.split} ({report['pairs']} pairs, threshold {report['threshold']:.4f}): "
            f"unsafe caught {100 * report['unsafe_caught']:.1f}%, benign twins flagged "
            f"{100 * report['benign_flagged']:.1f}%, forbidden calls in the benign twins caught "
            f"{100 * report['crossed_caught']:.1f}% of {report['crossed_calls']}, ordinary synthetic calls flagged "
            f"{100 * report['ordinary_flagged']:.1f}% of {report['ordinary_calls']}, AUROC {report['auroc']:.4f}")
    for kind, counts in report["by_kind"].items():
        line += (f"\n  {kind:<24} caught {counts['caught']}/{counts['unsafe']}  "
                 f"flagged {counts['flagged']}/{counts['benign']}  "
                 f"crossed caught {counts.get('crossed_caught', 0)}/{counts.get('crossed', 0)}")
    return _report(args, report, line)


def _add_eval_guard(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval-guard", help="the safety guard on the safety sets' risky steps and on "
                                   "ordinary synthetic calls")
    evaluate.add_argument("--guard", default=None, metavar="DIR", help="guard folder (default models/guard)")
    evaluate.add_argument("--split", default="test", help="dev or test (default test)")
    evaluate.add_argument("--threshold", type=float, help="block below this p_safe (default: the folder's calibrated one)")
    evaluate.add_argument("--ordinary", type=int, default=400, help="synthetic gold calls checked (default 400)")
    evaluate.add_argument("--json", action="store_true", help="print the report as one JSON object")
    evaluate.set_defaults(handler=_cmd_eval_guard)


def _cmd_refresh_pairs(args: argparse.Namespace) -> int:
    from spectool_app.pairs import PairOptions, class_balance, load_pairs, refresh_contexts, split_tasks, write_pairs

    rows = load_pairs(args.file)
    options = PairOptions(seed=args.seed, safety_train_pairs=args.safety_train_pairs)
    tasks = [t for split in sorted({str(r.get("split")) for r in rows}) for t in split_tasks(split, options)]
    fresh = refresh_contexts(rows, tasks, progress=True)
    before = {(r["task_id"], r["turn"], r["step"]): r["context"] for r in rows}
    path = write_pairs(fresh, args.out or args.file)
    summary = {"command": _command(args), "file": str(path), "rows_before": len(rows), "rows": len(fresh),
               "contexts_changed": sum(r["context"] != before[(r["task_id"], r["turn"], r["step"])] for r in fresh),
               "accept_share": class_balance(fresh)["accept_share"]}
    return _report(args, summary, f"{summary['rows']} pairs ({summary['rows_before']} before), "
                                  f"{summary['contexts_changed']} with a new context -> {path}")


def _add_refresh_pairs(commands: argparse._SubParsersAction) -> None:
    refresh = commands.add_parser("refresh-pairs", help="rewrite a pair file's contexts with today's compact context "
                                                        "(drafts and labels kept; no drafter)")
    refresh.add_argument("file", help="a pair file written by build-pairs")
    refresh.add_argument("--out", help="write here instead of rewriting FILE")
    refresh.add_argument("--seed", type=int, default=0, help="the --seed the pairs were built with")
    refresh.add_argument("--safety-train-pairs", type=int, default=480, help="as given to build-pairs")
    refresh.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    refresh.set_defaults(handler=_cmd_refresh_pairs)


def _cmd_merge_pairs(args: argparse.Namespace) -> int:
    from spectool_app.pairs import class_balance, load_pairs, merge_texts, write_pairs

    rows, dropped = merge_texts(row for path in args.files for row in load_pairs(path))
    path = write_pairs(rows, args.out)
    balance = class_balance(rows)
    summary = {"command": _command(args), "file": str(path), "inputs": list(args.files), "dropped": dropped,
               **balance}
    return _report(args, summary, f"{balance['rows']} pairs ({dropped} repeated text pairs dropped), "
                                  f"{balance['accept']} ACCEPT / {balance['reject']} REJECT -> {path}")


def _add_merge_pairs(commands: argparse._SubParsersAction) -> None:
    merge = commands.add_parser("merge-pairs", help="one training file from several pair files, each text pair once")
    merge.add_argument("files", nargs="+", help="pair files written by build-pairs, in order (the first row is kept)")
    merge.add_argument("--out", required=True, help="the merged pair file")
    merge.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    merge.set_defaults(handler=_cmd_merge_pairs)


def _cmd_train_verifier(args: argparse.Namespace) -> int:
    from spectool_app.training.verifier import VerifierTrainConfig, parse_repeat, train_verifier

    overrides = {"train_file": args.train, "dev_file": args.dev or None, "extra_files": tuple(args.extra),
                 "out_dir": args.out, "base": args.base, "full_finetune": args.full, "epochs": args.epochs,
                 "batch_size": args.batch_size, "learning_rate": args.lr, "lora_r": args.lora_r,
                 "max_pairs": args.max_pairs, "max_steps": args.max_steps, "max_far": args.max_far,
                 "seed": args.seed, "command": _command(args), "init_dir": args.init,
                 "repeat": parse_repeat(args.repeat)}
    summary = train_verifier(VerifierTrainConfig(**{k: v for k, v in overrides.items() if v is not None}))
    print(json.dumps(summary, sort_keys=True) if args.json else json.dumps(summary, indent=2, sort_keys=True))
    return 0


def _add_train_verifier(commands: argparse._SubParsersAction) -> None:
    from spectool_app.trained_verifier import PACKAGE_BASE

    train = commands.add_parser("train-verifier", help="fine-tune the SFT verifier on pairs, calibrate on dev")
    train.add_argument("--train", default=f"{DEFAULT_PAIRS}/train.jsonl", help="training pairs")
    train.add_argument("--dev", default=f"{DEFAULT_PAIRS}/dev.jsonl", help="calibration pairs ('' to skip)")
    train.add_argument("--extra", action="append", default=[], help="pairs exported by the app (repeatable)")
    train.add_argument("--base", default=PACKAGE_BASE, help="encoder or causal LM (folder or cached hub id)")
    train.add_argument("--full", action="store_true", help="full fine-tuning saved in float16 instead of LoRA")
    train.add_argument("--epochs", type=float, default=2.0)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, help="learning rate (default depends on the path)")
    train.add_argument("--lora-r", type=int, default=16)
    train.add_argument("--max-pairs", type=int, help="a seeded sample of training pairs")
    train.add_argument("--max-steps", type=int, help="stop after this many optimiser steps")
    train.add_argument("--max-far", type=float, default=0.02, help="calibration target false-accept rate")
    train.add_argument("--out", default="models/verifier", help="the verifier folder")
    train.add_argument("--init", metavar="DIR", help="train this verifier further instead of starting from the base "
                                                     "(same kind, base and weights; e.g. models/verifier)")
    train.add_argument("--repeat", action="append", default=[], metavar="KIND=N",
                       help="show training pairs of this kind N times per epoch (repeatable; e.g. unsafe=4)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--json", action="store_true")
    train.set_defaults(handler=_cmd_train_verifier)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from spectool_app.calibration import calibrate_folder

    if args.accept_rate is not None and args.max_far is not None:
        raise UsageError("give --max-far or --accept-rate, not both")
    card = calibrate_folder(args.dir, args.dev, command=_command(args), max_far=args.max_far,
                            accept_rate=args.accept_rate, latency_pairs=args.latency_pairs)
    print(json.dumps({k: card[k] for k in ("threshold", "threshold_rule", "metrics", "median_judge_ms")},
                     sort_keys=True))
    return 0


def _add_calibrate(commands: argparse._SubParsersAction) -> None:
    calibrate = commands.add_parser("calibrate-verifier", help="pick the threshold on dev pairs, write the card")
    calibrate.add_argument("--dir", help="verifier folder (default SPECTOOL_VERIFIER_DIR or models/verifier)")
    calibrate.add_argument("--dev", default=f"{DEFAULT_PAIRS}/dev.jsonl")
    calibrate.add_argument("--max-far", type=float, help="target false-accept rate (default 0.02)")
    calibrate.add_argument("--accept-rate", type=float, help="target acceptance rate instead")
    calibrate.add_argument("--latency-pairs", type=int, default=50)
    calibrate.set_defaults(handler=_cmd_calibrate)


def _previous_report(path: Path) -> dict:
    """The report ``--update`` merges into (checked before any model loads)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"--update needs an earlier report at {path} ({exc}); run without --update first") from None


def _cmd_eval_verifiers(args: argparse.Namespace) -> int:
    from spectool_app.verifier_eval import (VerifierEvalOptions, evaluate_verifiers, markdown_table, merge_reports,
                                            write_results)
    from spectool_app.verifiers import VERIFIER_KINDS

    kinds = comma_list(args.kinds, tuple(VERIFIER_KINDS), "verifier kind") if args.kinds else tuple(VERIFIER_KINDS)
    options = VerifierEvalOptions(test_file=args.test, dev_file=args.dev, kinds=kinds, max_pairs=args.max_pairs,
                                  latency_pairs=args.latency_pairs, seed=args.seed)
    previous = _previous_report(Path(args.out) / "verifiers.json") if args.update else None
    models = {"drafter": _load_role("drafter", args.preset), "target": _load_role("target", args.preset)}
    report = evaluate_verifiers(models, options)
    report["setup"]["command"] = _command(args)
    if previous is not None:
        report = merge_reports(previous, report)
    paths = write_results(report, args.out)
    print(json.dumps(report, sort_keys=True) if args.json else markdown_table(report))
    print("wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0


def _add_eval_verifiers(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval-verifiers", help="every verifier kind on the same held-out pairs")
    evaluate.add_argument("--test", default=f"{DEFAULT_PAIRS}/test.jsonl", help="held-out pairs")
    evaluate.add_argument("--dev", help="calibrate every kind's threshold on these dev pairs")
    evaluate.add_argument("--kinds", help="comma-separated kinds (default: all)")
    evaluate.add_argument("--max-pairs", type=int, help="a seeded sample of pairs, same share per source")
    evaluate.add_argument("--latency-pairs", type=int, default=30)
    evaluate.add_argument("--out", default="results/verifiers")
    evaluate.add_argument("--update", action="store_true",
                          help="replace only these kinds in OUT/verifiers.json (same pairs and calibration)")
    evaluate.add_argument("--preset", help="model preset (default: SPECTOOL_PRESET or embedded)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", action="store_true", help="print the report as one JSON object")
    evaluate.set_defaults(handler=_cmd_eval_verifiers)


def _cmd_tune_thresholds(args: argparse.Namespace) -> int:
    from spectool_app.bench import current_fingerprints
    from spectool_app.threshold_tuning import (TuneOptions, check_options, collect_judged_steps, markdown_table,
                                               read_steps, tune_report, write_tuned)
    from spectool_app.verifiers import VERIFIER_KINDS

    options = TuneOptions(task_sets=tuple(s.strip() for s in args.tasks.split(",") if s.strip()),
                          kinds=comma_list(args.kinds, tuple(VERIFIER_KINDS), "verifier kind"),
                          max_loss=args.max_loss, max_steps=args.max_steps, batch_size=args.batch_size, seed=args.seed)
    try:
        check_options(options)  # before any model loads
        collected = read_steps(Path(args.from_steps)) if args.from_steps else None
        if collected is not None:
            report = tune_report(collected, options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if collected is None:
        models = {"drafter": _load_role("drafter", args.preset), "target": _load_role("target", args.preset)}
        collected = collect_judged_steps(models, options, current_fingerprints(models))
        report = tune_report(collected, options)
    report["setup"]["command"] = _command(args)
    path = write_tuned(report, Path(args.out), None if args.from_steps else collected)
    print(json.dumps(report, sort_keys=True) if args.json else markdown_table(report))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _add_tune_thresholds(commands: argparse._SubParsersAction) -> None:
    from spectool_app.threshold_tuning import DEFAULT_KINDS, DEFAULT_MAX_LOSS, DEFAULT_TASK_SETS, TUNED_FILE

    tune = commands.add_parser("tune-thresholds", help="per verifier, the most acceptance that keeps the loop's "
                                                       "step accuracy within --max-loss of the target (dev steps)")
    tune.add_argument("--tasks", default=",".join(DEFAULT_TASK_SETS), help="comma-separated dev task sets")
    tune.add_argument("--kinds", default=",".join(DEFAULT_KINDS), help="comma-separated verifier kinds")
    tune.add_argument("--max-loss", type=float, default=DEFAULT_MAX_LOSS,
                      help="step accuracy the loop may lose against the target, per task set (default 0.005: half a point)")
    tune.add_argument("--max-steps", type=int, help="a seeded sample of steps per task set")
    tune.add_argument("--batch-size", type=int, default=8)
    tune.add_argument("--out", default=str(TUNED_FILE.relative_to(TUNED_FILE.parents[2])),
                      help="where the bench reads tuned thresholds")
    tune.add_argument("--from-steps", metavar="FILE", help="re-tune the judged steps an earlier run saved "
                      "(OUT.steps.json beside its thresholds) instead of replaying with the models")
    tune.add_argument("--preset", help="model preset (default: SPECTOOL_PRESET or embedded)")
    tune.add_argument("--seed", type=int, default=0)
    tune.add_argument("--json", action="store_true", help="print the report as one JSON object")
    tune.set_defaults(handler=_cmd_tune_thresholds)


def add_parser(commands: argparse._SubParsersAction) -> None:
    _add_build_pairs(commands)
    _add_build_guard_pairs(commands)
    _add_eval_guard(commands)
    _add_refresh_pairs(commands)
    _add_merge_pairs(commands)
    _add_train_verifier(commands)
    _add_calibrate(commands)
    _add_eval_verifiers(commands)
    _add_tune_thresholds(commands)
