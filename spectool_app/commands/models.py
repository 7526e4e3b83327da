"""``train-defaults`` and ``eval-models``: build and measure the embedded drafter and target."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from spectool_app.commands import UsageError, comma_list
from spectool_app.config import PROJECT_ROOT

if TYPE_CHECKING:
    from spectool_app.training.defaults import TrainDefaultsConfig

MODELS_RESULTS = PROJECT_ROOT / "results" / "models"  # eval-models writes models.json here


def _cmd_train_defaults(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from spectool_app.training.defaults import ROLES, TrainDefaultsConfig, tiny_config, train_defaults

    roles = comma_list(args.roles, ROLES, "role")
    config = TrainDefaultsConfig()
    if args.tiny:
        config = tiny_config(config.work_dir, config.out_dir)
    minutes = dict(config.minutes)
    for role, value in (("drafter", args.drafter_minutes), ("target", args.target_minutes)):
        if value is not None:
            if value < 0:
                raise UsageError(f"--{role}-minutes must be 0 or more (0: no training, only the start), got {value}")
            minutes[role] = value
    overrides = {"roles": roles, "minutes": minutes, "seed": args.seed}
    overrides.update({k: v for k, v in (("out_dir", args.out_dir), ("work_dir", args.work_dir)) if v})
    learning_rate = dict(config.learning_rate)
    learning_rate.update({k: v for k, v in (("drafter", args.drafter_lr), ("target", args.target_lr)) if v})
    overrides["learning_rate"] = learning_rate
    if args.drafter_layers_from_target:
        overrides["layers_from"] = {"drafter": ("target", _layer_list(args.drafter_layers_from_target))}
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    for name in ("tokens_per_batch", "data_workers"):
        value = getattr(args, name)
        if value is not None:
            if value < (1 if name == "tokens_per_batch" else 0):
                raise UsageError(f"--{name.replace('_', '-')} must be a whole number of at least "
                                 f"{1 if name == 'tokens_per_batch' else 0}, got {value}")
            overrides[name] = value
    if args.safety_share is not None:
        if not 0 <= args.safety_share < 1:
            raise UsageError(f"--safety-share must be at least 0 and below 1 (a fraction of the training "
                             f"sequences), got {args.safety_share}")
        overrides["safety_share"] = args.safety_share
    if args.decision_weight is not None:
        if args.decision_weight <= 0:
            raise UsageError(f"--decision-weight must be above 0 (the loss weight of each reply's first token; "
                             f"1 weighs it like any other), got {args.decision_weight}")
        overrides["decision_weight"] = args.decision_weight
    if args.paired_twins:
        overrides["paired_twins"] = True
    if args.safety_mix is not None:
        overrides["safety_mix"] = _safety_mix(args.safety_mix)
    config = replace(config, **overrides)
    if args.decoding_only:
        return _write_decoding_only(config)
    results = train_defaults(config)
    print(json.dumps(results, indent=2))
    return 0


def _safety_mix(text: str) -> dict[str, int]:
    """``beyond_policy=3,injection=1`` as {family: weight}, or a UsageError naming what is allowed."""
    from spectool_app.tasks.safety import FAMILIES, kinds_for

    allowed = (f"FAMILY=WEIGHT pairs joined by commas, families {', '.join(FAMILIES)}, whole-number weights "
               f"(e.g. beyond_policy=3,injection=1,exfiltration=1)")
    mix: dict[str, int] = {}
    for part in text.split(","):
        family, equals, weight = part.strip().partition("=")
        if not equals or not weight.strip().isdigit() or family.strip() in mix:
            raise UsageError(f"--safety-mix: cannot read {part.strip()!r}; give {allowed}")
        mix[family.strip()] = int(weight)
    try:
        kinds_for(mix)
    except ValueError as exc:
        raise UsageError(f"--safety-mix: {exc}; give {allowed}") from None
    return mix


def _write_decoding_only(config: TrainDefaultsConfig) -> int:
    """Rewrite the decoding settings (spectool.json) of the published checkpoints, no training."""
    from spectool_app.training.defaults import decoding_settings, write_decoding_settings

    folders = {role: Path(config.out_dir) / role for role in config.roles}
    for role, folder in folders.items():
        if not (folder / "config.json").is_file():
            raise UsageError(f"--decoding-only: no trained {role} in {folder} (train it first, or name --out-dir)")
    settings = decoding_settings(config)  # the same for every role: drawn once from the training sample
    for folder in folders.values():
        write_decoding_settings(folder, settings)
    print(json.dumps({role: settings for role in folders}, indent=2, sort_keys=True))
    return 0


def _layer_list(text: str) -> tuple[int, ...]:
    """``"0,6,12"`` -> ``(0, 6, 12)``; anything else is a usage error naming the expected form."""
    try:
        layers = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--drafter-layers-from-target takes comma-separated layer indices such as "
                         f"0,6,12,18,24,30, got {text!r}") from None
    return layers


def add_train_defaults_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train-defaults", help="train the embedded drafter and target (resumable)")
    train.add_argument("--roles", default="drafter,target", help="comma-separated: drafter,target")
    train.add_argument("--drafter-minutes", type=float, help="time budget of the drafter (default 20)")
    train.add_argument("--target-minutes", type=float, help="time budget of the target (default 60)")
    train.add_argument("--drafter-layers-from-target", metavar="LAYERS",
                       help="start the drafter as these layers of the trained target (comma-separated indices, "
                       "as many as the drafter shape has: 0,6,12,18,24,30), then train it --drafter-minutes "
                       "(0: publish the layers as they are)")
    train.add_argument("--out-dir", help="where checkpoints go (default models/embedded)")
    train.add_argument("--work-dir", help="resumable state (default data/train-defaults)")
    train.add_argument("--max-steps", type=int, help="stop each role after this many optimiser steps")
    train.add_argument("--drafter-lr", type=float, help="peak learning rate of the drafter (default 3e-3)")
    train.add_argument("--target-lr", type=float, help="peak learning rate of the target (default 3e-4)")
    train.add_argument("--tokens-per-batch", type=int, help="padded tokens per optimiser step (default 4096; "
                       "a GPU wants far more)")
    train.add_argument("--data-workers", type=int, help="processes that render and tokenize training "
                       "conversations (default 0: the training process does it; a GPU needs several)")
    train.add_argument("--safety-share", type=float,
                       help="fraction of training sequences drawn from the safety templates (default 0.25)")
    train.add_argument("--decision-weight", type=float,
                       help="loss weight of each reply's first token, where a tool call, an answer or BLOCKED is "
                       "chosen (default 1: like every other token)")
    train.add_argument("--paired-twins", action="store_true",
                       help="train each safety twin pair side by side in one batch, so what the twins share "
                       "cancels and what tells them apart is learnt (default: shuffled apart)")
    train.add_argument("--safety-mix", help="which safety families the safety templates come from, and how often: "
                       "FAMILY=WEIGHT,... (e.g. beyond_policy=3,injection=1,exfiltration=1; a family not named is "
                       "left out; default every kind once)")
    train.add_argument("--decoding-only", action="store_true", help="no training: rewrite the decoding settings "
                       "(spectool.json: copy_values and the known values drawn from the training tasks) of the "
                       "published checkpoints of --roles")
    train.add_argument("--tiny", action="store_true", help="reduced sizes for a smoke test")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(handler=_cmd_train_defaults)


def _cmd_eval_models(args: argparse.Namespace) -> int:
    from models.presets import load_preset
    from spectool_app.model_cards import write_model_cards
    from spectool_app.model_eval import EvalOptions, evaluate_models

    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be at least 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    models = load_preset(args.preset)
    options = EvalOptions(max_steps=args.max_steps, batch_size=args.batch_size, seed=args.seed)
    report = evaluate_models(models, options)
    command = " ".join(["python -m spectool_app eval-models", *args.argv_tail])
    if args.write_cards:
        write_model_cards(report, command)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "models.json").write_text(json.dumps({**report, "command": command}, indent=2, sort_keys=True) + "\n",
                                         encoding="utf-8")
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for role in ("drafter", "target"):
            print(role, json.dumps(report.get(role), sort_keys=True))
        print("latency_ratio", report.get("latency_ratio"))
    return 0


def add_eval_models_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval-models", help="step-level exact match, blocking rates and latency")
    evaluate.add_argument("--preset", help="model preset (default: SPECTOOL_PRESET or embedded)")
    evaluate.add_argument("--max-steps", type=int, help="sample this many steps per task set (default: all)")
    evaluate.add_argument("--batch-size", type=int, default=8)
    evaluate.add_argument("--write-cards", action="store_true", help="write the results into the model cards")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--out", default=str(MODELS_RESULTS), help="folder for models.json ('' to skip; "
                          "default results/models, read by scripts/update_readme_results.py)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--threads", type=int, help="torch CPU threads while evaluating (default: torch's own, one "
                          "per core); ms_per_action depends on it, the report records it")
    evaluate.set_defaults(handler=_cmd_eval_models)




def add_parser(commands: argparse._SubParsersAction) -> None:
    add_train_defaults_parser(commands)
    add_eval_models_parser(commands)
