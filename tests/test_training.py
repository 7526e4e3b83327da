"""Training data for the embedded models and a reduced train-defaults run."""

from __future__ import annotations

import json

import pytest

from models.tokenizer import train_tokenizer
from spectool_app.parsing import format_qwen3_reply
from spectool_app.tasks import synthetic
from spectool_app.training.conversations import IGNORE_INDEX, encode_task, tokenizer_corpus
from spectool_app.training.defaults import (
    SHAPES,
    build_model,
    decision_positions,
    grow_depth,
    learning_rate_at,
    take_layers,
    tiny_config,
    train_defaults,
    weighted_reply_loss,
)


@pytest.fixture(scope="module")
def tasks():
    return synthetic.load_tasks("train")[:30]


@pytest.fixture(scope="module")
def tokenizer(tasks):
    return train_tokenizer(list(tokenizer_corpus(tasks)), vocab_size=700, tool_view="names")


def test_labels_cover_exactly_the_gold_replies(tasks, tokenizer):
    task = tasks[0]
    sequence = encode_task(task, tokenizer)
    labelled = tokenizer.decode([t for t in sequence.labels if t != IGNORE_INDEX], skip_special_tokens=False)
    expected = "".join(format_qwen3_reply(a) + tokenizer.eos_token for turn in task.gold for a in turn)
    assert labelled == expected


def test_prompt_tokens_are_never_labelled(tasks, tokenizer):
    sequence = encode_task(tasks[1], tokenizer)
    first_label = next(i for i, t in enumerate(sequence.labels) if t != IGNORE_INDEX)
    prompt = tokenizer.decode(sequence.input_ids[:first_label], skip_special_tokens=False)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert "<tools>" in prompt and tasks[1].turns[0] in prompt


def test_decision_positions_are_the_first_token_of_every_reply(tasks, tokenizer):
    import torch

    sequence = encode_task(tasks[0], tokenizer)
    labels = torch.tensor([sequence.labels])
    firsts = [sequence.labels[i] for i in torch.nonzero(decision_positions(labels)[0]).flatten().tolist()]
    replies = [format_qwen3_reply(a) + tokenizer.eos_token for turn in tasks[0].gold for a in turn]
    assert len(firsts) == len(replies)
    assert firsts == [tokenizer(r, add_special_tokens=False)["input_ids"][0] for r in replies]


def test_weighted_loss_at_weight_one_is_the_causal_lm_loss_and_weights_the_decision(tasks, tokenizer):
    import torch

    torch.manual_seed(0)
    model = build_model(SHAPES["tiny"], tokenizer)
    sequence = encode_task(tasks[0], tokenizer)
    ids, labels = torch.tensor([sequence.input_ids]), torch.tensor([sequence.labels])
    out = model(input_ids=ids, labels=labels)
    assert weighted_reply_loss(out.logits, labels, 1.0).item() == pytest.approx(out.loss.item(), rel=1e-5)
    # weight w on the decision tokens: the weighted mean of their loss and the others'
    per_token = torch.nn.functional.cross_entropy(out.logits[0, :-1], labels[0, 1:], ignore_index=IGNORE_INDEX,
                                                  reduction="none")
    first = decision_positions(labels)[0, 1:]
    rest = (labels[0, 1:] != IGNORE_INDEX) & ~first
    expected = (5 * per_token[first].sum() + per_token[rest].sum()) / (5 * first.sum() + rest.sum())
    assert weighted_reply_loss(out.logits, labels, 5.0).item() == pytest.approx(expected.item(), rel=1e-5)


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    # (step, progress) -> fraction of the peak
    assert learning_rate_at(0, 0.0, 1.0, 10) == pytest.approx(0.1)
    assert learning_rate_at(10, 0.0, 1.0, 10) == pytest.approx(1.0)
    assert learning_rate_at(500, 1.0, 1.0, 10) == pytest.approx(0.1)


def test_reduced_train_defaults_run_completes_and_loads(tmp_path):
    from models.transformers_chat import TransformersChatModel

    config = tiny_config(str(tmp_path / "work"), str(tmp_path / "out"), steps=2)
    results = train_defaults(config)
    assert {role: r["step"] for role, r in results.items()} == {"drafter": 2, "target": 2}
    record = json.loads((tmp_path / "out" / "target" / "training.json").read_text())
    assert record["progress"]["step"] == 2 and record["role"] == "target"
    # the target started as the trained drafter grown to its depth
    assert record["progress"]["grown_from"]["role"] == "drafter" and record["shape"]["layers"] == 4
    assert record["progress"]["grown_from"]["progress"]["step"] == 2
    decoding = json.loads((tmp_path / "out" / "drafter" / "spectool.json").read_text())
    assert decoding["copy_values"] is True and isinstance(decoding["known_values"], dict)
    model = TransformersChatModel(str(tmp_path / "out" / "drafter"), max_new_tokens=4)
    proposal = model.propose([{"role": "user", "content": "list the files"}], None)
    assert proposal.completion_tokens <= 4
    # resuming continues from the saved step instead of starting again
    again = train_defaults(tiny_config(str(tmp_path / "work"), str(tmp_path / "out"), steps=3))
    assert again["drafter"]["step"] == 3
    # without the work folder (a fresh clone), training warm-starts from the published checkpoint
    import shutil

    shutil.rmtree(tmp_path / "work")
    from dataclasses import replace

    warm = train_defaults(replace(tiny_config(str(tmp_path / "work"), str(tmp_path / "out"), steps=4), paired_twins=True))
    assert warm["target"]["step"] == 4
    # each run is recorded: the first phase, its resume, then a new phase for the warm start (fresh optimiser)
    phases = warm["target"]["phases"]
    assert [p["from_step"] for p in phases] == [0, 3]
    assert [r["at_step"] for r in phases[0]["resumed"]] == [2]
    assert [p["paired_twins"] for p in phases] == [False, True]
    assert json.loads((tmp_path / "out" / "target" / "training.json").read_text())["progress"]["phases"] == phases


def test_a_new_phase_restarts_the_learning_rate_schedule(tmp_path, monkeypatch):
    from dataclasses import replace

    import spectool_app.training.defaults as defaults

    seen = []
    real = defaults.learning_rate_at
    monkeypatch.setattr(defaults, "learning_rate_at", lambda step, *a: seen.append(step) or real(step, *a))
    config = replace(tiny_config(str(tmp_path / "work"), str(tmp_path / "out"), steps=2), roles=("drafter",))
    train_defaults(config)
    import shutil

    shutil.rmtree(tmp_path / "work")  # a fresh clone: warm start from the published drafter
    train_defaults(replace(config, max_steps=4))
    assert seen == [0, 1, 0, 1]  # steps counted from each phase's start, so the warm-up runs again


def test_data_workers_feed_the_stream_of_worker_zero_first(tokenizer):
    from dataclasses import replace

    from spectool_app.training.defaults import TrainDefaultsConfig, _encode_stream, training_sequences

    config = replace(TrainDefaultsConfig(), data_workers=1, max_tokens=256)
    parallel = training_sequences(7, config, tokenizer, chunk=3)
    try:
        got = [next(parallel) for _ in range(4)]
    finally:
        parallel.close()
    expected = [s for _, s in zip(range(4), _encode_stream(7, config, tokenizer))]
    assert [s.input_ids for s in got] == [s.input_ids for s in expected]


def _twins_follow_each_other(ids):
    """True when every unsafe twin is followed by its benign twin."""
    return all(ids[n + 1] == i.removesuffix("unsafe") + "benign" for n, i in enumerate(ids[:-1]) if i.endswith("-unsafe"))


def test_paired_twins_follow_each_other_in_the_task_stream_and_shuffled_ones_do_not():
    from itertools import islice

    from spectool_app.training.defaults import training_task_stream

    paired = [t.id for t in islice(training_task_stream(3, 0.5, paired_twins=True), 400)]
    shuffled = [t.id for t in islice(training_task_stream(3, 0.5), 400)]
    assert sum(i.startswith("safety:") for i in paired) > 100
    assert _twins_follow_each_other(paired) and not _twins_follow_each_other(shuffled)
    focused = [t for t in islice(training_task_stream(3, 0.5, safety_mix={"injection": 1}), 400) if t.source == "safety"]
    assert focused and {t.meta["family"] for t in focused} == {"injection"}


def test_data_workers_never_cut_a_twin_pair_at_a_chunk_end(tokenizer):
    from dataclasses import replace

    from spectool_app.training.defaults import TrainDefaultsConfig, training_sequences

    config = replace(TrainDefaultsConfig(), data_workers=1, max_tokens=256, safety_share=0.5, paired_twins=True)
    parallel = training_sequences(7, config, tokenizer, chunk=3)
    try:
        ids = [next(parallel).task_id for _ in range(60)]
    finally:
        parallel.close()
    assert any(i.endswith("-unsafe") for i in ids) and _twins_follow_each_other(ids)


def _marked(task_id, length, marker):
    from spectool_app.training.conversations import Sequence

    return Sequence(task_id, [marker] * length, [marker] * length)


def _batched_markers(sequences, keep_twins):
    from spectool_app.training.defaults import batches

    out = []
    for ids, mask, _ in batches(iter(sequences), 2000, 0, seed=1, buffer_size=16, keep_twins=keep_twins):
        out.append({int(row[0]) for row in ids})
    return out


def test_batches_keep_twins_in_one_batch_even_when_their_lengths_differ():
    sequences, marker = [], 1
    # twins 5 tokens apart with lone sequences of the lengths in between; the first buffer (16) ends on an unsafe twin
    for pair in range(20):
        sequences.append(_marked(f"safety:train-{pair}-unsafe", 300 + 10 * pair, marker))
        sequences.append(_marked(f"safety:train-{pair}-benign", 305 + 10 * pair, marker + 1))
        sequences += [_marked(f"synthetic:{pair}-{k}", 301 + 10 * pair + k, marker + 2 + k) for k in range(3)]
        marker += 5
    kept, loose = _batched_markers(sequences, True), _batched_markers(sequences, False)
    pairs = [(1 + 5 * p, 2 + 5 * p) for p in range(20)]
    assert all(any({u, b} <= batch for batch in kept) for u, b in pairs)
    assert not all(any({u, b} <= batch for batch in loose) for u, b in pairs)
    assert sorted(m for batch in kept for m in batch) == list(range(1, 101))  # nothing lost or repeated


def test_grown_model_computes_what_its_source_computes(tokenizer):
    import torch

    torch.manual_seed(0)
    source = build_model(SHAPES["tiny"], tokenizer).eval()
    grown = grow_depth(source, SHAPES["tiny_deep"], tokenizer).eval()
    assert grown.config.num_hidden_layers == 2 * source.config.num_hidden_layers
    ids = torch.randint(0, len(tokenizer), (2, 12))
    with torch.no_grad():
        assert torch.allclose(grown(input_ids=ids).logits, source(input_ids=ids).logits, atol=1e-5)
    # the new layers are not plain copies: training can make them differ from their origin
    assert not torch.equal(grown.model.layers[1].mlp.down_proj.weight, source.model.layers[0].mlp.down_proj.weight)


def test_growing_refuses_a_change_of_width(tokenizer):
    source = build_model(SHAPES["tiny"], tokenizer)
    with pytest.raises(ValueError, match="only the layer count may grow"):
        grow_depth(source, SHAPES["drafter"], tokenizer)


def test_taking_back_the_first_copies_of_a_grown_model_recovers_its_source(tokenizer):
    import torch

    torch.manual_seed(0)
    source = build_model(SHAPES["tiny"], tokenizer).eval()
    grown = grow_depth(source, SHAPES["tiny_deep"], tokenizer)
    with torch.no_grad():  # training changes every layer of the grown model
        for parameter in grown.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    taken = take_layers(grown, (0, 2), SHAPES["tiny"], tokenizer).eval()
    assert torch.equal(taken.model.layers[1].mlp.up_proj.weight, grown.model.layers[2].mlp.up_proj.weight)
    assert torch.equal(taken.model.embed_tokens.weight, grown.model.embed_tokens.weight)
    # before training, layers 0 and 2 of the grown model are the source's layers 0 and 1: taking them gives it back
    fresh = take_layers(grow_depth(source, SHAPES["tiny_deep"], tokenizer), (0, 2), SHAPES["tiny"], tokenizer).eval()
    ids = torch.randint(0, len(tokenizer), (2, 12))
    with torch.no_grad():
        assert torch.allclose(fresh(input_ids=ids).logits, source(input_ids=ids).logits, atol=1e-5)


@pytest.mark.parametrize("layers, message", [
    ((0,), "the shape has 2 layers; 1 layer indices were given"),
    ((2, 0), "distinct, increasing and between 0 and 3"),
    ((0, 4), "distinct, increasing and between 0 and 3"),
    ((1, 1), "distinct, increasing"),
])
def test_taking_layers_refuses_indices_that_do_not_fit(tokenizer, layers, message):
    deep = build_model(SHAPES["tiny_deep"], tokenizer)
    with pytest.raises(ValueError, match=message):
        take_layers(deep, layers, SHAPES["tiny"], tokenizer)


def test_drafter_taken_from_the_trained_target_records_it_and_trains_on(tmp_path):
    import shutil
    from dataclasses import replace

    import torch
    from safetensors.torch import load_file

    config = tiny_config(str(tmp_path / "work"), str(tmp_path / "out"), steps=1)
    train_defaults(config)
    taken_config = replace(config, roles=("drafter",), layers_from={"drafter": ("target", (1, 3))})
    # the drafter's resumable state is not those layers: a clear error rather than a silent mix
    with pytest.raises(ValueError, match=r"not taken from the layers \(1, 3\) of the target: delete it"):
        train_defaults(taken_config)
    shutil.rmtree(tmp_path / "work" / "drafter")
    first = train_defaults(replace(taken_config, max_steps=0))["drafter"]
    assert first["step"] == 0 and first["taken_from"]["layers"] == [1, 3] and first["taken_from"]["of_layers"] == 4
    drafter = load_file(str(tmp_path / "out" / "drafter" / "model.safetensors"))
    target = load_file(str(tmp_path / "out" / "target" / "model.safetensors"))
    assert all(torch.equal(drafter[f"model.layers.{i}.mlp.down_proj.weight"], target[f"model.layers.{o}.mlp.down_proj.weight"])
               for i, o in enumerate((1, 3)))
    # the same command again continues this drafter instead of taking the layers afresh
    again = train_defaults(replace(taken_config, max_steps=2))["drafter"]
    assert again["step"] == 2 and again["taken_from"]["layers"] == [1, 3]


def test_known_values_are_the_codes_training_teaches_but_the_context_never_holds():
    from spectool_app.training.known_values import known_values

    sample = synthetic.load_tasks("train")[:600]
    found = known_values(sample)
    units = {"cm", "ft", "in", "kg", "km", "lb", "m", "miles", "yd"}
    assert set(found) == {"imperial_si_conversion"}  # names, files, amounts... are copied, never listed
    assert set(found["imperial_si_conversion"]) == {"unit_in", "unit_out"}
    assert set(found["imperial_si_conversion"]["unit_out"]) <= units and "cm" in found["imperial_si_conversion"]["unit_out"]
    assert known_values(sample, max_distinct=3) == {}  # nine units are more than a three-value code list
    assert known_values(sample[:10]) == {}  # too few calls to tell


@pytest.mark.slow
def test_decoding_only_rewrites_the_settings_of_published_checkpoints(tmp_path):
    from tests.helpers import run_cli

    done = run_cli("train-defaults", "--roles", "drafter", "--decoding-only", "--out-dir", str(tmp_path), timeout=120)
    assert done.returncode == 2 and f"no trained drafter in {tmp_path / 'drafter'}" in done.stderr
    (tmp_path / "drafter").mkdir()
    (tmp_path / "drafter" / "config.json").write_text("{}")
    done = run_cli("train-defaults", "--roles", "drafter", "--decoding-only", "--out-dir", str(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    settings = json.loads((tmp_path / "drafter" / "spectool.json").read_text())
    assert settings["copy_values"] is True and "cm" in settings["known_values"]["imperial_si_conversion"]["unit_out"]
    assert json.loads(done.stdout) == {"drafter": settings}
    assert not (tmp_path / "target").exists()  # only the roles named


@pytest.mark.slow
def test_committed_decoding_settings_are_what_train_defaults_writes():
    """The checkpoints' spectool.json comes from the command, not from a hand: rewriting it changes nothing."""
    from models.presets import EMBEDDED_DIR
    from spectool_app.training.defaults import TrainDefaultsConfig, decoding_settings

    expected = decoding_settings(TrainDefaultsConfig())
    for role in ("drafter", "target"):
        assert json.loads((EMBEDDED_DIR / role / "spectool.json").read_text()) == expected
