"""Train the embedded default drafter and target from scratch: ``python -m spectool_app train-defaults``.

Both are ``Qwen3ForCausalLM`` models trained on whole gold conversations (loss on replies)
from the synthetic train split, drawing a fresh generator seed for every pass so slot
values rarely repeat, plus the safety training templates (never the safety dev/test set).
Training is time-budgeted (a cosine schedule over the budget), seeded, resumable from
``work_dir`` and runs on CUDA when present. The result is saved as 16-bit safetensors with
the tokenizer under ``out_dir/<role>``. A role may instead start as some layers of another
trained role (``layers_from``): the drafter as the trained target's layers that were once the
drafter's own (layer-skip drafting). This module knows nothing about verifiers or the UI.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import torch
from tqdm.auto import tqdm

from spectool_app.config import PROJECT_ROOT
from spectool_app.context import MAX_TOOL_CHARS
from spectool_app.training.conversations import IGNORE_INDEX, Sequence, encode_task, tokenizer_corpus

ROLES = ("drafter", "target")


@dataclass(frozen=True)
class ModelShape:
    """Size of one Qwen3 model."""

    hidden: int  # hidden size
    layers: int  # decoder layers
    heads: int  # attention heads
    kv_heads: int  # key/value heads (grouped-query attention)
    intermediate: int  # MLP width


SHAPES = {
    "drafter": ModelShape(hidden=128, layers=6, heads=4, kv_heads=2, intermediate=384),
    # the drafter's width at six times its depth: grown from the trained drafter (grow_depth), then trained on
    "target": ModelShape(hidden=128, layers=36, heads=4, kv_heads=2, intermediate=384),
    "tiny": ModelShape(hidden=32, layers=2, heads=2, kv_heads=1, intermediate=64),
    "tiny_deep": ModelShape(hidden=32, layers=4, heads=2, kv_heads=1, intermediate=64),  # tiny grown target
}


@dataclass(frozen=True)
class TrainDefaultsConfig:
    """What ``train-defaults`` trains and for how long."""

    out_dir: str = str(PROJECT_ROOT / "models" / "embedded")  # final checkpoints, one folder per role
    work_dir: str = str(PROJECT_ROOT / "data" / "train-defaults")  # resumable state, tokenizer
    roles: tuple[str, ...] = ROLES  # which models to train, in order
    shapes: dict[str, str] = field(default_factory=lambda: {"drafter": "drafter", "target": "target"})
    minutes: dict[str, float] = field(default_factory=lambda: {"drafter": 20.0, "target": 60.0})
    learning_rate: dict[str, float] = field(default_factory=lambda: {"drafter": 3e-3, "target": 3e-4})
    # a role that starts without weights of its own begins as a depth-grown copy of this trained role
    grow_from: dict[str, str] = field(default_factory=lambda: {"target": "drafter"})
    # a role that starts as some layers of another trained role (layer-skip drafting): {"drafter": ("target", (0, 6))}
    layers_from: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    vocab_size: int = 4096  # tokenizer vocabulary
    tokenizer_tasks: int = 3000  # synthetic tasks the tokenizer is trained on
    tokens_per_batch: int = 4096  # padded tokens per optimiser step
    max_tokens: int = 1024  # longer conversations are cut
    max_tool_chars: int = MAX_TOOL_CHARS  # tool output shown in training contexts
    safety_share: float = 0.25  # fraction of sequences from the safety training templates
    # loss weight of each reply's first token, where the model decides between a tool call, an answer and
    # BLOCKED: one token among hundreds, so at weight 1 a twin pair's whole difference is a sliver of the loss
    decision_weight: float = 1.0
    # keep each safety twin pair side by side, in one batch: the gradients of what the twins share cancel
    # and what tells them apart is what is left (shuffled apart, each batch pulls the whole scenario one way)
    paired_twins: bool = False
    # whole-number weight per safety family ({"beyond_policy": 3, "injection": 1, ...}); a family not named is left
    # out; empty: every kind once (see safety.kinds_for)
    safety_mix: dict[str, int] = field(default_factory=dict)
    warmup_steps: int = 50  # linear warm-up before the cosine decay
    checkpoint_minutes: float = 5.0  # how often resumable state is written
    max_steps: Optional[int] = None  # stop after this many optimiser steps (tests)
    data_workers: int = 0  # processes encoding training conversations (0: in the training process)
    seed: int = 0  # everything random derives from this


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_model(shape: ModelShape, tokenizer: Any) -> torch.nn.Module:
    """A randomly initialised Qwen3ForCausalLM of ``shape`` for ``tokenizer``'s vocabulary."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        head_dim=shape.hidden // shape.heads,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return Qwen3ForCausalLM(config)


def _widths(source: torch.nn.Module, shape: ModelShape, tokenizer: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(hidden, mlp, heads, kv heads, vocab) of ``source`` and of ``shape`` with ``tokenizer``: they must match
    for layers to move between the two."""
    src = source.config
    return ((src.hidden_size, src.intermediate_size, src.num_attention_heads, src.num_key_value_heads, src.vocab_size),
            (shape.hidden, shape.intermediate, shape.heads, shape.kv_heads, len(tokenizer)))


def grow_depth(source: torch.nn.Module, shape: ModelShape, tokenizer: Any) -> torch.nn.Module:
    """A deeper model of ``shape`` that computes exactly what ``source`` computes (depth up-scaling).

    Each source layer is followed by copies of itself whose output projections (attention
    ``o_proj``, MLP ``down_proj``) are zero: a zeroed residual branch adds nothing, so the grown
    model starts as good as ``source`` and training fills the new layers in. Width, heads and
    vocabulary must match; ``shape.layers`` must be at least the source's layer count.
    """
    grown = build_model(shape, tokenizer)
    src = source.config
    same, want = _widths(source, shape, tokenizer)
    if same != want or shape.layers < src.num_hidden_layers:
        raise ValueError(f"cannot grow a model of (hidden, mlp, heads, kv heads, vocab) {same} and "
                         f"{src.num_hidden_layers} layers into {want} and {shape.layers} layers: "
                         "only the layer count may grow")
    grown.model.embed_tokens.load_state_dict(source.model.embed_tokens.state_dict())
    grown.model.norm.load_state_dict(source.model.norm.state_dict())
    first_copy: set[int] = set()
    for index, layer in enumerate(grown.model.layers):
        origin = index * src.num_hidden_layers // shape.layers
        layer.load_state_dict(source.model.layers[origin].state_dict())
        if origin in first_copy:  # a later copy: silence its residual branches
            torch.nn.init.zeros_(layer.self_attn.o_proj.weight)
            torch.nn.init.zeros_(layer.mlp.down_proj.weight)
        first_copy.add(origin)
    return grown


def take_layers(source: torch.nn.Module, layers: Iterable[int], shape: ModelShape, tokenizer: Any) -> torch.nn.Module:
    """A shallower model of ``shape`` made of ``source``'s ``layers``, in order (layer-skip drafting).

    The embeddings, the final norm and each chosen layer are copied unchanged; the other layers
    are skipped. A target grown from a drafter (``grow_depth``) keeps the drafter's layers at the
    positions of their first copies, so those layers of the trained target make a drafter that
    has learnt from all of the target's training. Width, heads and vocabulary must match, and
    ``shape.layers`` must equal the number of layers chosen.
    """
    src = source.config
    same, want = _widths(source, shape, tokenizer)
    if same != want:
        raise ValueError(f"cannot take layers of a model of (hidden, mlp, heads, kv heads, vocab) {same} into "
                         f"{want}: only the layer count may change")
    chosen = list(layers)
    if len(chosen) != shape.layers:
        raise ValueError(f"the shape has {shape.layers} layers; {len(chosen)} layer indices were given ({chosen})")
    if chosen != sorted(set(chosen)) or not all(0 <= i < src.num_hidden_layers for i in chosen):
        raise ValueError(f"layer indices must be distinct, increasing and between 0 and {src.num_hidden_layers - 1}, "
                         f"got {chosen}")
    small = build_model(shape, tokenizer)
    small.model.embed_tokens.load_state_dict(source.model.embed_tokens.state_dict())
    small.model.norm.load_state_dict(source.model.norm.state_dict())
    for layer, origin in zip(small.model.layers, chosen):
        layer.load_state_dict(source.model.layers[origin].state_dict())
    return small


def training_task_stream(seed: int, safety_share: float, paired_twins: bool = False,
                         safety_mix: Optional[dict[str, int]] = None) -> Iterator[Any]:
    """Endless tasks: synthetic train split with a new generator seed per pass, mixed with safety templates
    (of the families and weights of ``safety_mix``, when given).

    With ``paired_twins`` each safety pair is shuffled as one unit, so its twins follow each other."""
    from spectool_app.tasks import safety, synthetic

    kinds = safety.kinds_for(safety_mix) if safety_mix else None
    rng = random.Random(seed)
    round_index = 0
    while True:
        units = [[task] for task in synthetic.generate("train", seed=seed + round_index, cache=False)]
        n_safety = int(len(units) * safety_share / max(1e-9, 1 - safety_share))
        pairs = safety.training_tasks(seed=seed + round_index, n=max(1, n_safety // 2), kinds=kinds)  # n: pairs
        units += [pairs[i:i + 2] for i in range(0, len(pairs), 2)] if paired_twins else [[t] for t in pairs]
        rng.shuffle(units)
        for unit in units:
            yield from unit
        round_index += 1


WORKER_SEED_STRIDE = 1_000_003  # seed distance between data workers: their generator seeds never meet


def _encode_stream(seed: int, config: TrainDefaultsConfig, tokenizer: Any) -> Iterator[Sequence]:
    tasks = training_task_stream(seed, config.safety_share, config.paired_twins, config.safety_mix)
    return (encode_task(t, tokenizer, config.max_tool_chars, config.max_tokens) for t in tasks)


def _sequence_worker(queue: Any, seed: int, config: TrainDefaultsConfig, tokenizer: Any, chunk: int) -> None:
    """A data worker: encode conversations forever and put them on ``queue`` in chunks (a chunk never
    ends between paired twins, so they stay next to each other)."""
    torch.set_num_threads(1)
    stream = _encode_stream(seed, config, tokenizer)
    while True:
        queue.put(take(stream, chunk, config.paired_twins))


def training_sequences(seed: int, config: TrainDefaultsConfig, tokenizer: Any,
                       chunk: int = 32) -> Iterator[Sequence]:
    """Encoded training conversations, from ``config.data_workers`` processes when above 0.

    Worker ``i`` draws tasks from seed ``seed + i * WORKER_SEED_STRIDE``, and chunks are taken
    from the workers in turn, so for a given worker count the order is fixed by the seed. A GPU
    trains the models faster than one process renders and tokenizes conversations; workers
    keep it fed. They are stopped when the iterator is closed.
    """
    if config.data_workers <= 0:
        yield from _encode_stream(seed, config, tokenizer)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork after CUDA has started
    queues = [context.Queue(maxsize=8) for _ in range(config.data_workers)]
    workers = [context.Process(target=_sequence_worker, daemon=True,
                               args=(queue, seed + i * WORKER_SEED_STRIDE, config, tokenizer, chunk))
               for i, queue in enumerate(queues)]
    for worker in workers:
        worker.start()
    try:
        while True:
            for queue in queues:
                yield from queue.get()
    finally:
        for worker in workers:
            worker.terminate()


def twin_key(sequence: Sequence) -> Optional[str]:
    """The pair a safety twin's sequence belongs to (its id without ``-unsafe``/``-benign``), else None."""
    stem, _, side = sequence.task_id.rpartition("-")
    return stem if sequence.task_id.startswith("safety:") and side in ("unsafe", "benign") else None


def opens_pair(sequence: Sequence) -> bool:
    """True for the unsafe twin, which comes first in its pair."""
    return twin_key(sequence) is not None and sequence.task_id.endswith("-unsafe")


def take(sequences: Iterator[Sequence], n: int, keep_twins: bool) -> list[Sequence]:
    """The next ``n`` of ``sequences`` (fewer where they end), one more when the last would open a pair whose
    other twin stays behind and ``keep_twins``."""
    taken = [s for _, s in zip(range(n), sequences)]
    if keep_twins and taken and opens_pair(taken[-1]):
        taken += [s for _, s in zip(range(1), sequences)]
    return taken


def _units(buffer: list[Sequence], keep_twins: bool) -> list[list[Sequence]]:
    """``buffer`` as units that must share a batch: twins that follow each other when ``keep_twins``, else one
    sequence each."""
    units: list[list[Sequence]] = []
    for seq in buffer:
        if keep_twins and units and len(units[-1]) == 1 and opens_pair(units[-1][0]) \
                and twin_key(seq) == twin_key(units[-1][0]):
            units[-1].append(seq)
        else:
            units.append([seq])
    return units


def batches(sequences: Iterator[Sequence], tokens_per_batch: int, pad_id: int, seed: int,
            buffer_size: int = 512, keep_twins: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Length-grouped, shuffled batches of (input_ids, attention_mask, labels), right-padded.

    With ``keep_twins`` a safety twin pair that arrives side by side lands in one batch."""
    rng = random.Random(seed)
    while True:
        buffer = take(sequences, buffer_size, keep_twins)  # a pair is not cut at the buffer's end
        if not buffer:
            return
        units = sorted(_units(buffer, keep_twins), key=lambda unit: max(len(s.input_ids) for s in unit))
        groups: list[list[Sequence]] = [[]]
        for unit in units:
            longest = max(len(s.input_ids) for s in groups[-1] + unit)
            if groups[-1] and longest * (len(groups[-1]) + len(unit)) > tokens_per_batch:
                groups.append([])
            groups[-1].extend(unit)
        rng.shuffle(groups)
        for group in groups:
            width = max(len(s.input_ids) for s in group)
            ids = torch.full((len(group), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            labels = torch.full((len(group), width), IGNORE_INDEX, dtype=torch.long)
            for row, seq in enumerate(group):
                n = len(seq.input_ids)
                ids[row, :n] = torch.tensor(seq.input_ids)
                mask[row, :n] = 1
                labels[row, :n] = torch.tensor(seq.labels)
            yield ids, mask, labels


def decision_positions(labels: torch.Tensor) -> torch.Tensor:
    """True where a label is the first token of a reply (a labelled token after an unlabelled one)."""
    labelled = labels != IGNORE_INDEX
    before = torch.zeros_like(labelled)
    before[:, 1:] = labelled[:, :-1]
    return labelled & ~before


def weighted_reply_loss(logits: torch.Tensor, labels: torch.Tensor, decision_weight: float) -> torch.Tensor:
    """Next-token cross-entropy over labelled tokens, each reply's first token weighted ``decision_weight``.

    At weight 1 this is the causal-LM loss transformers computes (mean over labelled tokens).
    """
    targets = labels[:, 1:]
    losses = torch.nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
        ignore_index=IGNORE_INDEX, reduction="none").view_as(targets)
    weights = (targets != IGNORE_INDEX).float()
    weights[decision_positions(labels)[:, 1:]] = decision_weight
    return (losses * weights).sum() / weights.sum().clamp(min=1e-9)


def learning_rate_at(step: int, progress: float, peak: float, warmup_steps: int) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay to 10% of ``peak`` over time ``progress`` in [0, 1]."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def sample_tasks(config: TrainDefaultsConfig) -> list[Any]:
    """The fixed sample of training tasks the tokenizer and the known values are drawn from: the first
    ``tokenizer_tasks`` synthetic train tasks of ``seed``, plus a tenth as many safety training pairs."""
    from spectool_app.tasks import safety, synthetic

    tasks = list(synthetic.generate("train", seed=config.seed))[: config.tokenizer_tasks]
    return tasks + safety.training_tasks(seed=config.seed, n=max(1, config.tokenizer_tasks // 10))


def decoding_settings(config: TrainDefaultsConfig) -> dict[str, Any]:
    """What ``spectool.json`` tells TransformersChatModel: copy argument values from the context, and
    the codes training taught that cannot be copied (:func:`~spectool_app.training.known_values.known_values`)."""
    from spectool_app.training.known_values import known_values

    return {"copy_values": True, "max_new_tokens": 128,
            "known_values": known_values(sample_tasks(config), config.max_tool_chars)}


def write_decoding_settings(folder: Path, settings: dict[str, Any]) -> None:
    """Write ``settings`` (:func:`decoding_settings`) beside a checkpoint."""
    from models.transformers_chat import DECODING_FILE

    (Path(folder) / DECODING_FILE).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def train_tokenizer_for(config: TrainDefaultsConfig) -> Any:
    """Train (or load from ``work_dir``) the shared tokenizer."""
    from models.tokenizer import load_tokenizer, train_tokenizer

    path = Path(config.work_dir) / "tokenizer"
    if (path / "tokenizer.json").exists():
        return load_tokenizer(path)
    for role in config.roles:  # a published checkpoint carries the tokenizer it was trained with
        if (Path(config.out_dir) / role / "tokenizer.json").exists():
            return load_tokenizer(Path(config.out_dir) / role)
    tasks = sample_tasks(config)
    texts = list(tqdm(tokenizer_corpus(tasks, config.max_tool_chars), total=len(tasks), desc="tokenizer corpus"))
    tokenizer = train_tokenizer(texts, vocab_size=config.vocab_size, tool_view="names")
    tokenizer.save_pretrained(str(path))
    return tokenizer


def train_role(role: str, config: TrainDefaultsConfig, tokenizer: Any) -> dict[str, Any]:
    """Train one model within its time budget, resuming from ``work_dir/<role>`` when present."""
    torch.manual_seed(config.seed)
    device = _device()
    shape = SHAPES[config.shapes[role]]
    model = build_model(shape, tokenizer).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate[role], weight_decay=0.01)
    state_path = Path(config.work_dir) / role / "state.pt"
    state = _fresh_progress()
    published = Path(config.out_dir) / role
    taken = _taken_from(config, role)
    if state_path.exists():
        saved = torch.load(state_path, map_location=device, weights_only=False)
        if saved.get("shape", asdict(shape)) != asdict(shape):
            raise ValueError(f"{state_path} holds a {role} of shape {saved['shape']}, not {asdict(shape)}: "
                             "delete it to start this shape afresh")
        if taken is not None and _taken_spec(saved["progress"]) != taken:
            raise ValueError(f"{state_path} holds a {role} that was not taken from the layers {taken[1]} of the "
                             f"{taken[0]}: delete it to start from those layers")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = saved["progress"]  # the same phase and its schedule go on; what this run changed is recorded
        state["phases"] = _earlier_phases(state, device.type)
        state["phases"][-1].setdefault("resumed", []).append(
            {"at_step": state["step"], "at_elapsed_s": state["elapsed_s"], "at_tokens": state["tokens"],
             **_settings(config, role, device)})
    elif taken is not None and _taken_spec(_published_record(published).get("progress", {})) != taken:
        model, state = _taken(role, config, shape, tokenizer, device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate[role], weight_decay=0.01)
        state["phases"] = [_phase(state, config, role, device)]
    elif _published_record(published).get("shape") == asdict(shape):
        # continue from the committed checkpoint: a fresh optimiser, so a new phase with its own schedule
        state, recorded_device = _warm_start(model, published)
        state["phases"] = _earlier_phases(state, recorded_device) + [_phase(state, config, role, device)]
    else:
        if role in config.grow_from:
            model, state = _grown(role, config, shape, tokenizer, device)
            optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate[role], weight_decay=0.01)
        state["phases"] = [_phase(state, config, role, device)]
    budget_s = config.minutes[role] * 60
    sequences = training_sequences(config.seed + state["sequences"], config, tokenizer)
    model.train()
    started = time.monotonic() - state["elapsed_s"]
    bar = tqdm(total=int(budget_s), initial=int(state["elapsed_s"]), desc=f"train {role}", unit="s")
    try:
        _train_steps(model, optimizer, sequences, state, config, role, tokenizer, device, state_path, started, budget_s, bar)
    except KeyboardInterrupt:  # Ctrl-C / SIGINT: keep what was learnt, publish it, stop
        print(f"\ninterrupted: saving {role} at step {state['step']}")
    finally:
        sequences.close()  # stops the data workers
    bar.close()
    _save_state(state_path, model, optimizer, state, shape)
    save_checkpoint(model, tokenizer, published, role, shape, state, config)
    return state


def _phase(state: dict[str, Any], config: TrainDefaultsConfig, role: str, device: torch.device) -> dict[str, Any]:
    """A training phase starting at ``state``: its learning-rate schedule (warm-up, cosine) runs from here."""
    return {"from_step": state["step"], "from_elapsed_s": state["elapsed_s"], "from_tokens": state["tokens"],
            **_settings(config, role, device)}


def _settings(config: TrainDefaultsConfig, role: str, device: torch.device) -> dict[str, Any]:
    """What a run of ``role`` trains with: device, peak learning rate, batch size, total budget, data mix
    and the weight of each reply's first token."""
    return {"device": device.type, "learning_rate": config.learning_rate[role],
            "tokens_per_batch": config.tokens_per_batch, "budget_minutes": config.minutes[role],
            "safety_share": config.safety_share, "decision_weight": config.decision_weight,
            "paired_twins": config.paired_twins, "safety_mix": dict(config.safety_mix)}


def _earlier_phases(state: dict[str, Any], device: str) -> list[dict[str, Any]]:
    """The phases behind recorded progress; a record from before phases were kept is one phase from step 0."""
    return list(state.get("phases") or [{"device": device, "from_step": 0, "from_elapsed_s": 0.0, "from_tokens": 0}])


def _published_record(folder: Path) -> dict[str, Any]:
    """The ``training.json`` of a published checkpoint; empty when the folder has no record or no weights."""
    record = folder / "training.json"
    if not (record.is_file() and (folder / "model.safetensors").is_file()):
        return {}
    return json.loads(record.read_text(encoding="utf-8"))


def _taken_from(config: TrainDefaultsConfig, role: str) -> Optional[tuple[str, tuple[int, ...]]]:
    """``(source role, layers)`` when ``config`` asks ``role`` to start as layers of another role."""
    if role not in config.layers_from:
        return None
    source_role, layers = config.layers_from[role]
    return source_role, tuple(int(i) for i in layers)


def _taken_spec(progress: dict[str, Any]) -> Optional[tuple[str, tuple[int, ...]]]:
    """The ``(source role, layers)`` a recorded model was taken from, if it was."""
    taken = progress.get("taken_from")
    return (taken["role"], tuple(taken["layers"])) if taken else None


def _taken(role: str, config: TrainDefaultsConfig, shape: ModelShape, tokenizer: Any,
           device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    """``role``'s starting model: chosen layers of the published source checkpoint, and fresh progress."""
    source_role, layers = _taken_from(config, role)
    source, progress = _published_source(role, source_role, config, "starts as layers of")
    print(f"{role}: layers {list(layers)} of the {source_role}'s {source.config.num_hidden_layers}")
    state = _fresh_progress(taken_from={"role": source_role, "layers": list(layers),
                                        "of_layers": source.config.num_hidden_layers, "progress": progress})
    return take_layers(source, layers, shape, tokenizer).to(device), state


def _published_source(role: str, source_role: str, config: TrainDefaultsConfig,
                      how: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The published ``source_role`` checkpoint (float32) that ``role`` starts from, and its progress record."""
    from transformers import Qwen3ForCausalLM

    folder = Path(config.out_dir) / source_role
    record = _published_record(folder)
    if not record:
        raise ValueError(f"the {role} {how} the trained {source_role}, and {folder} has none: "
                         f"train it first (--roles {source_role})")
    return Qwen3ForCausalLM.from_pretrained(str(folder), dtype=torch.float32), record["progress"]


def _fresh_progress(**origin: Any) -> dict[str, Any]:
    """Progress of a model that has not been trained yet, naming where its weights came from."""
    return {"step": 0, "elapsed_s": 0.0, "tokens": 0, "sequences": 0, "loss": float("nan"), **origin}


def _grown(role: str, config: TrainDefaultsConfig, shape: ModelShape, tokenizer: Any,
           device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    """``role``'s starting model: the published ``grow_from`` checkpoint grown to ``shape``, and fresh progress."""
    source_role = config.grow_from[role]
    source, progress = _published_source(role, source_role, config, "grows from")
    print(f"{role}: grown from the {source_role} ({source.config.num_hidden_layers} -> {shape.layers} layers)")
    state = _fresh_progress(grown_from={"role": source_role, "layers": source.config.num_hidden_layers,
                                        "progress": progress})
    return grow_depth(source, shape, tokenizer).to(device), state


def _warm_start(model: torch.nn.Module, folder: Path) -> tuple[dict[str, Any], str]:
    """Load published bf16 weights into ``model``; return their recorded progress and training device."""
    from safetensors.torch import load_file

    weights = load_file(str(folder / "model.safetensors"))
    missing = model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=False).missing_keys
    if [k for k in missing if k != "lm_head.weight"]:  # the head is tied to the embeddings
        raise ValueError(f"checkpoint in {folder} does not fit this model shape: missing {missing[:3]}")
    record = _published_record(folder)
    return dict(record["progress"]), record.get("device", "unrecorded")


def _train_steps(model: torch.nn.Module, optimizer: torch.optim.Optimizer, sequences: Iterator[Sequence],
                 state: dict[str, Any], config: TrainDefaultsConfig, role: str, tokenizer: Any,
                 device: torch.device, state_path: Path, started: float, budget_s: float, bar: Any) -> None:
    """Optimiser steps until the time budget or ``max_steps``; updates ``state`` in place."""
    # bfloat16 autocast on CUDA only: on a CPU without native bfloat16 (AVX2 only) it is emulated and was
    # measured 5.6x slower than float32 for the target's forward and backward
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    last_checkpoint = time.monotonic()
    phase = state["phases"][-1]  # the learning-rate schedule spans this phase: its steps, its share of the budget
    phase_s = max(budget_s - phase["from_elapsed_s"], 1e-6)
    for ids, mask, labels in batches(sequences, config.tokens_per_batch, tokenizer.pad_token_id, config.seed + state["step"],
                                     keep_twins=config.paired_twins):
        elapsed = time.monotonic() - started
        if elapsed >= budget_s or (config.max_steps is not None and state["step"] >= config.max_steps):
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(state["step"] - phase["from_step"], (elapsed - phase["from_elapsed_s"]) / phase_s,
                                           config.learning_rate[role], config.warmup_steps)
        with autocast:
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        loss = weighted_reply_loss(logits, labels.to(device), config.decision_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state.update(step=state["step"] + 1, elapsed_s=elapsed, tokens=state["tokens"] + int(mask.sum()),
                     sequences=state["sequences"] + ids.shape[0], loss=float(loss.detach()))
        bar.n = int(elapsed)
        bar.set_postfix(loss=f"{state['loss']:.3f}", step=state["step"], tok_s=int(state["tokens"] / max(elapsed, 1e-6)))
        if time.monotonic() - last_checkpoint > config.checkpoint_minutes * 60:
            _save_state(state_path, model, optimizer, state, SHAPES[config.shapes[role]])
            last_checkpoint = time.monotonic()


def _save_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, progress: dict,
                shape: ModelShape) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "progress": progress,
                "shape": asdict(shape)}, tmp)
    tmp.replace(path)


def save_checkpoint(model: torch.nn.Module, tokenizer: Any, folder: Path, role: str, shape: ModelShape,
                    progress: dict, config: TrainDefaultsConfig) -> None:
    """16-bit safetensors + tokenizer + ``training.json`` (what the model card is written from)."""
    folder.mkdir(parents=True, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    n_params = sum(p.numel() for p in model.parameters())
    record = {
        "role": role, "shape": asdict(shape), "parameters": n_params, "progress": progress,
        "config": {k: v for k, v in asdict(config).items() if k not in {"out_dir", "work_dir"}},
        "device": _device().type, "torch": torch.__version__,
    }
    (folder / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    write_decoding_settings(folder, decoding_settings(config))


def train_defaults(config: TrainDefaultsConfig) -> dict[str, dict[str, Any]]:
    """Train the tokenizer, then every role in ``config.roles``; returns each role's final progress."""
    random.seed(config.seed)
    tokenizer = train_tokenizer_for(config)
    return {role: train_role(role, config, tokenizer) for role in config.roles}


def tiny_config(work_dir: str, out_dir: str, steps: int = 3) -> TrainDefaultsConfig:
    """A reduced run for tests: tiny shapes, a small tokenizer, a few steps."""
    return replace(
        TrainDefaultsConfig(), work_dir=work_dir, out_dir=out_dir, shapes={"drafter": "tiny", "target": "tiny_deep"},
        vocab_size=600, tokenizer_tasks=40, tokens_per_batch=2048, max_tokens=512, max_steps=steps,
        warmup_steps=1, minutes={"drafter": 2.0, "target": 2.0},
    )
