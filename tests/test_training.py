"""Training data for the embedded models and a reduced train-defaults run."""

from __future__ import annotations

import json

import pytest

from models.tokenizer import train_tokenizer
from spectool_app.parsing import format_qwen3_reply
from spectool_app.tasks import synthetic
from spectool_app.training.conversations import IGNORE_INDEX, encode_task, tokenizer_corpus
from spectool_app.training.defaults import learning_rate_at, tiny_config, train_defaults


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
    model = TransformersChatModel(str(tmp_path / "out" / "drafter"), max_new_tokens=4)
    proposal = model.propose([{"role": "user", "content": "list the files"}], None)
    assert proposal.completion_tokens <= 4
    # resuming continues from the saved step instead of starting again
    again = train_defaults(tiny_config(str(tmp_path / "work"), str(tmp_path / "out"), steps=3))
    assert again["drafter"]["step"] == 3
    # without the work folder (a fresh clone), training warm-starts from the published checkpoint
    import shutil

    shutil.rmtree(tmp_path / "work")
    warm = train_defaults(tiny_config(str(tmp_path / "work"), str(tmp_path / "out"), steps=4))
    assert warm["target"]["step"] == 4
