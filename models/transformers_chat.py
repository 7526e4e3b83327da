"""A ChatModel that runs a causal LM in this process with ``transformers`` (local folder or hub id).

Prompts are rendered by the tokenizer's own chat template
(``apply_chat_template(messages, tools=tools, add_generation_prompt=True)``), so the same class
runs the embedded tiny models and Qwen3 checkpoints. Generation is greedy by default
(``temperature > 0`` samples, seeded per call), uses the KV cache, pads batches on the left and
stops at the end-of-turn token. Nothing is downloaded unless ``SPECTOOL_ALLOW_DOWNLOAD=1``.

This module does not know which model plays which role (see ``presets``) or what the tools do;
it does not truncate prompts longer than the model's context.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from transformers.generation.logits_process import LogitsProcessorList
from transformers.generation.stopping_criteria import StoppingCriteria, StoppingCriteriaList

from models.base import (
    BackendError,
    Message,
    ModelUnavailableError,
    Proposal,
    Tools,
    format_reply,
    make_proposal,
)
from models.copy_values import CopyValuesProcessor, context_text
from models.no_refusal import NoRefusalProcessor
from spectool_app.actions import Action

DECODING_FILE = "spectool.json"  # optional decoding settings saved beside a checkpoint


def read_decoding_settings(source: str) -> dict[str, Any]:
    """``spectool.json`` of a local checkpoint folder ({} for hub ids or when absent)."""
    import json

    path = Path(source) / DECODING_FILE
    if not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelUnavailableError(f"{path} is not valid JSON: {exc}") from exc
    allowed = {"copy_values", "max_new_tokens", "known_values"}
    if not isinstance(settings, dict) or set(settings) - allowed:
        raise ModelUnavailableError(f"{path} may only hold {sorted(allowed)}, got {settings!r}")
    known = settings.get("known_values", {})
    if not (isinstance(known, dict) and all(
            isinstance(params, dict) and all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                                             for v in params.values()) for params in known.values())):
        raise ModelUnavailableError(f"{path}: known_values must map tool -> parameter -> list of strings, "
                                    f"got {known!r}")
    return settings

DEFAULT_MAX_NEW_TOKENS = 256
# Extra template variables: Qwen3's template reads enable_thinking; templates that don't ignore it.
DEFAULT_TEMPLATE_KWARGS = {"enable_thinking": False}


def downloads_allowed() -> bool:
    """True when ``SPECTOOL_ALLOW_DOWNLOAD=1``: hub ids may then be fetched."""
    return os.environ.get("SPECTOOL_ALLOW_DOWNLOAD", "") == "1"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` -> cuda when available, else cpu."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype | str:
    """``None`` -> bfloat16 on cuda, float32 on cpu; names like "bfloat16" or "auto" are accepted."""
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}; use float32, bfloat16, float16 or auto")
    return value


def _load(source: str, device: torch.device, dtype: torch.dtype | str) -> tuple[Any, Any]:
    """Load model and tokenizer offline (unless downloads are allowed) or raise ModelUnavailableError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local_only = not downloads_allowed()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        model = AutoModelForCausalLM.from_pretrained(
            source, local_files_only=local_only, dtype=dtype, device_map=str(device)
        )
    except (OSError, ValueError) as exc:
        where = "a local folder" if Path(source).exists() else "a hub id"
        raise ModelUnavailableError(
            f"cannot load model {source!r} ({where}): {type(exc).__name__}: "
            f"{(str(exc).splitlines() or [''])[0][:200]}. "
            "Point at local weights with a folder that holds config.json and the tokenizer "
            "(SPECTOOL_DRAFTER / SPECTOOL_TARGET=<folder>), or set SPECTOOL_ALLOW_DOWNLOAD=1 "
            "to let the hub id download."
        ) from exc
    return model, tokenizer


class _Cancelled(StoppingCriteria):
    """Stops generation once ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def greedy_with_candidate(
    model: Any, prompt_ids: Sequence[int], candidate: Sequence[int], processors: Any,
    stop_ids: Sequence[int], max_new_tokens: int,
) -> tuple[list[int], list[torch.Tensor]]:
    """Greedy decoding of one prompt that first checks ``candidate`` tokens in a single forward pass.

    Returns the generated token ids (ending with a stop id when one was chosen) and the scores
    each was chosen from: the logits after ``processors`` (a logits processor or None, shown the
    ids so far), which is what generate records for this project's in-place copy-values processor.
    """
    device = next(model.parameters()).device
    ids = list(prompt_ids) + list(candidate[:max_new_tokens])
    output = model(input_ids=torch.tensor([ids], device=device), use_cache=True,
                   logits_to_keep=len(ids) - len(prompt_ids) + 1)
    cache, rows = output.cache, output.logits[0]
    tokens: list[int] = []
    logits: list[torch.Tensor] = []
    while True:
        for row in rows:
            scores = row.unsqueeze(0)
            if processors is not None:
                seen = torch.tensor([list(prompt_ids) + tokens], device=device)
                scores = processors(seen, scores)
            token = int(scores.argmax(dim=-1))
            tokens.append(token)
            logits.append(scores[0])
            if token in stop_ids or len(tokens) >= max_new_tokens:
                return tokens, logits
            if len(tokens) > len(candidate) or token != candidate[len(tokens) - 1]:
                break  # the model's own choice: later rows were computed after another token
        unused = cache.get_seq_length() - (len(prompt_ids) + len(tokens) - 1)
        if unused > 0:
            cache.crop(-unused)
        output = model(input_ids=torch.tensor([[tokens[-1]]], device=device), cache=cache, use_cache=True)
        cache, rows = output.cache, output.logits[0, -1:]


class TransformersChatModel:
    """Chat model backed by ``AutoModelForCausalLM`` + ``AutoTokenizer`` (see module docstring)."""

    def __init__(
        self,
        path_or_hub_id: str | Path,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = 0.0,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        """Load a model from a local folder or a cached hub id.

        Args:
            path_or_hub_id: folder with config.json + tokenizer, or a hub id ("Qwen/Qwen3-1.7B").
            device: torch device; None picks cuda when available, else cpu.
            dtype: torch dtype or its name; None is bfloat16 on cuda, float32 on cpu.
            max_new_tokens: generation budget per reply.
            temperature: 0 is greedy; above 0 samples with this temperature (no top-k/top-p).
            seed: base seed for sampling; call i uses ``seed + i``.
            name: display name; defaults to the source.

        Raises:
            ModelUnavailableError: the folder or cached hub model cannot be loaded.
        """
        source = str(path_or_hub_id)
        resolved = resolve_device(device)
        decoding = read_decoding_settings(source)
        model, tokenizer = _load(source, resolved, resolve_dtype(dtype, resolved))
        if max_new_tokens == DEFAULT_MAX_NEW_TOKENS:
            max_new_tokens = int(decoding.get("max_new_tokens", max_new_tokens))
        self._setup(model, tokenizer, name or source, max_new_tokens, temperature, seed, source)
        self.copy_values = bool(decoding.get("copy_values", False))
        self.known_values = decoding.get("known_values", {})

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        name: str = "in-memory",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> "TransformersChatModel":
        """Wrap an already built model and tokenizer (tests, freshly trained models)."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, name, max_new_tokens, temperature, seed)
        return self

    def _setup(
        self, model: Any, tokenizer: Any, name: str, max_new_tokens: int, temperature: float, seed: int,
        source: Optional[str] = None,
    ) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be 0 (greedy) or positive, got {temperature}")
        if getattr(tokenizer, "chat_template", None) is None:
            raise ModelUnavailableError(f"the tokenizer of {name!r} has no chat template")
        self.name = name  # shown in logs, the database and the UI
        self.source = source  # the folder or hub id it was loaded from (bench fingerprints); None in memory
        self.model = model.eval()  # the causal LM, in inference mode
        self.tokenizer = tokenizer  # its tokenizer, with a chat template
        self.max_new_tokens = max_new_tokens  # generation budget per reply
        self.temperature = temperature  # 0 = greedy
        self.seed = seed  # base seed for sampling
        self.template_kwargs = dict(DEFAULT_TEMPLATE_KWARGS)  # extra chat-template variables
        self.copy_values = False  # constrain tool calls: names and keys to the tool list, values to copies from the context
        self.known_values: dict[str, dict[str, list[str]]] = {}  # tool -> param -> values taught, not copied
        self._calls = 0  # generate calls so far (sampling seed offset)
        self._lock = threading.Lock()  # one forward at a time per model
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.stop_ids = self._stop_ids()  # end-of-turn token ids

    def _stop_ids(self) -> list[int]:
        ids: list[int] = []
        configured = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        candidates = [self.tokenizer.eos_token_id, self.tokenizer.convert_tokens_to_ids("<|im_end|>")]
        candidates += configured if isinstance(configured, list) else [configured]
        unk = self.tokenizer.unk_token_id
        for token_id in candidates:
            if isinstance(token_id, int) and token_id != unk and token_id not in ids:
                ids.append(token_id)
        if not ids:
            raise ModelUnavailableError(f"{self.name!r}: the tokenizer has no end-of-turn token")
        return ids

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        return next(self.model.parameters()).device

    def render(self, messages: Sequence[Message], tools: Tools | None) -> str:
        """The prompt text: chat template with tools and the assistant generation prompt."""
        try:
            return self.tokenizer.apply_chat_template(
                list(messages), tools=tools or None, add_generation_prompt=True, tokenize=False,
                **self.template_kwargs,
            )
        except Exception as exc:  # jinja errors have many types; name the model and the cause
            raise BackendError(f"{self.name}: chat template failed: {type(exc).__name__}: {exc}") from exc

    def propose(
        self, messages: Sequence[Message], tools: Tools | None, cancel: threading.Event | None = None
    ) -> Proposal:
        """Generate one reply (see :meth:`propose_batch`)."""
        return self.propose_batch([messages], tools, cancel)[0]

    def propose_batch(
        self, batch: Sequence[Sequence[Message]], tools: Tools | None, cancel: threading.Event | None = None,
        allow_refusal: bool = True,
    ) -> list[Proposal]:
        """Generate one reply per conversation in one left-padded batch.

        ``cancel``, when given and set by another thread, stops generation after the current
        token (the parallel loop mode drops the target's work once a draft is accepted).
        ``allow_refusal=False`` keeps replies from starting ``BLOCKED:`` (see :mod:`models.no_refusal`).

        Returns:
            Proposals in input order; ``latency_s`` is the whole batch's wall time.
        """
        if not batch:
            return []
        started = time.perf_counter()
        prompts = [self.render(messages, tools) for messages in batch]
        encoded = self.tokenizer(prompts, add_special_tokens=False, padding=True, return_tensors="pt")
        encoded = {k: v.to(self.device) for k, v in encoded.items()}
        with self._lock, torch.inference_mode():
            stopping = StoppingCriteriaList([_Cancelled(cancel)]) if cancel is not None else None
            width = encoded["input_ids"].shape[1]
            copying = self._copy_processor(batch, width, tools)
            chosen = ([] if allow_refusal else [NoRefusalProcessor(self.tokenizer, width)]) + [copying]
            processors = LogitsProcessorList([p for p in chosen if p is not None]) or None
            output = self.model.generate(**encoded, **self._generation_kwargs(), stopping_criteria=stopping,
                                         logits_processor=processors)
        new_tokens = output.sequences[:, encoded["input_ids"].shape[1] :]
        logprobs = self._chosen_logprobs(output.logits, new_tokens)
        latency = time.perf_counter() - started
        prompt_lengths = encoded["attention_mask"].sum(dim=1).tolist()
        return [
            self._proposal(new_tokens[row], logprobs[row], int(prompt_lengths[row]), latency)
            for row in range(len(prompts))
        ]

    def propose_unrefused(self, messages: Sequence[Message], tools: Tools | None) -> Proposal:
        """This model's best reply that is not a refusal (a guard judges the call instead)."""
        return self.propose_batch([messages], tools, allow_refusal=False)[0]

    def propose_assisted(self, messages: Sequence[Message], tools: Tools | None, hint: str) -> Proposal:
        """Generate one reply, checking ``hint`` (a draft reply) as candidate tokens in one forward pass.

        Greedy assisted decoding: the prompt and the hint's tokens go through the model together;
        the hint is kept up to the first token where the model's own (processed) greedy choice
        differs, that choice replaces it, and decoding goes on token by token from there. The
        reply is the one :meth:`propose` would give (up to floating-point ties); only the number
        of forward passes changes. Sampling models ignore the hint.
        """
        if self.temperature > 0 or not hint:
            return self.propose(messages, tools)
        started = time.perf_counter()
        prompt_ids = self.tokenizer(self.render(messages, tools), add_special_tokens=False)["input_ids"]
        candidate = self.tokenizer(hint, add_special_tokens=False)["input_ids"][: self.max_new_tokens]
        processors = self._copy_processor([messages], len(prompt_ids), tools)
        with self._lock, torch.inference_mode():
            tokens, logits = greedy_with_candidate(
                self.model, prompt_ids, candidate, processors, self.stop_ids, self.max_new_tokens
            )
        new_tokens = torch.tensor(tokens, dtype=torch.long)
        logprobs = self._chosen_logprobs([row.unsqueeze(0) for row in logits], new_tokens.unsqueeze(0))[0]
        return self._proposal(new_tokens, logprobs, len(prompt_ids), time.perf_counter() - started)

    def _copy_processor(self, batch: Sequence[Sequence[Message]], prompt_width: int,
                        tools: Tools | None) -> Optional[CopyValuesProcessor]:
        """The copy-values constraint for ``batch`` (None when this model decodes freely)."""
        if not self.copy_values:
            return None
        contexts = [context_text(messages) for messages in batch]
        return CopyValuesProcessor(self.tokenizer, contexts, prompt_width, tools, self.known_values)

    def _generation_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "eos_token_id": self.stop_ids,
            "pad_token_id": self.tokenizer.pad_token_id,
            "use_cache": True,
            "return_dict_in_generate": True,
            "output_logits": True,
        }
        if self.temperature > 0:
            torch.manual_seed(self.seed + self._calls)
            kwargs.update(do_sample=True, temperature=self.temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        self._calls += 1
        return kwargs

    @staticmethod
    def _chosen_logprobs(logits: Sequence[torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
        """Log-probability (unscaled logits) of each generated token: [batch, new_tokens]."""
        steps = [
            torch.log_softmax(step.float(), dim=-1).gather(1, tokens[:, i : i + 1]).squeeze(1)
            for i, step in enumerate(logits)
        ]
        return torch.stack(steps, dim=1).cpu()

    def _proposal(
        self, tokens: torch.Tensor, logprobs: torch.Tensor, prompt_tokens: int, latency: float
    ) -> Proposal:
        ids = tokens.tolist()
        length = next((i + 1 for i, t in enumerate(ids) if t in self.stop_ids), len(ids))
        ended = length > 0 and ids[length - 1] in self.stop_ids
        text = self.tokenizer.decode(ids[: length - 1] if ended else ids[:length], skip_special_tokens=True)
        mean = float(logprobs[:length].mean()) if length else None
        return make_proposal(
            text, prompt_tokens=prompt_tokens, completion_tokens=length, latency_s=latency, mean_logprob=mean
        )

    def score(self, messages: Sequence[Message], tools: Tools | None, action: Action) -> float:
        """Sum log-likelihood of the action's formatted reply plus the end-of-turn token."""
        return self.score_text(messages, tools, format_reply(action))

    def score_text(
        self, messages: Sequence[Message], tools: Tools | None, reply: str, end_of_turn: bool = True
    ) -> float:
        """Sum log-likelihood of ``reply`` as the assistant's answer, in one forward pass.

        Args:
            reply: the assistant text (without the end-of-turn token).
            end_of_turn: also count the end-of-turn token after the reply.
        """
        prompt_ids = self.tokenizer(self.render(messages, tools), add_special_tokens=False)["input_ids"]
        reply_ids = self.tokenizer(reply, add_special_tokens=False)["input_ids"]
        if end_of_turn:
            reply_ids = reply_ids + [self.stop_ids[0]]
        if not reply_ids:
            return 0.0
        ids = torch.tensor([prompt_ids + reply_ids], device=self.device)
        with self._lock, torch.inference_mode():
            logits = self.model(input_ids=ids, logits_to_keep=len(reply_ids) + 1).logits[0, :-1]
        target = torch.tensor(reply_ids, device=logits.device).unsqueeze(1)
        return float(torch.log_softmax(logits.float(), dim=-1).gather(1, target).sum())
