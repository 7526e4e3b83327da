"""eval-verifiers: every kind on the same held-out pairs, with tiny in-memory models."""

from __future__ import annotations

import json

import pytest

from spectool_app.actions import ToolCall
from spectool_app.pairs import PairOptions, build_pairs, load_pairs, write_pairs
from spectool_app.tasks import load_tasks
from spectool_app.training.verifier import VerifierTrainConfig, train_verifier
from spectool_app.verifier_eval import (
    METRIC_KEYS,
    VerifierEvalOptions,
    evaluate_verifiers,
    markdown_table,
    merge_reports,
    sample_rows,
    write_results,
)
from spectool_app.verifiers import VERIFIER_KINDS
from tests.helpers import run_cli
from tests.test_pairs import ScriptedDrafter


def tiny_chat_model(name: str, seed: int, texts: list[str]):
    """A random two-layer Qwen3 chat model (it babbles; only its speed and scores matter here)."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from models.tokenizer import train_tokenizer
    from models.transformers_chat import TransformersChatModel

    tokenizer = train_tokenizer(texts, vocab_size=600, tool_view="names")
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=4096, tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    return TransformersChatModel.from_model(model, tokenizer, name=name, max_new_tokens=6)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    tasks = load_tasks("synthetic", "test")[:1] + load_tasks("safety", "test")[:2]
    rows = build_pairs("test", ScriptedDrafter(ToolCall("ls", {})), PairOptions(samples=0, negatives=1),
                       tasks=tasks, progress=False)
    test_file = write_pairs(rows, folder / "test.jsonl")
    verifier_dir = folder / "verifier"
    train_verifier(VerifierTrainConfig(train_file=str(test_file), dev_file=str(test_file), out_dir=str(verifier_dir),
                                       work_dir=str(folder / "work"), max_steps=1, batch_size=8, latency_pairs=2))
    texts = [r["context"] for r in rows] + [t.turns[0] for t in tasks]
    models = {"drafter": tiny_chat_model("drafter:tiny", 0, texts), "target": tiny_chat_model("target:tiny", 1, texts)}
    return {"rows": rows, "test_file": test_file, "verifier_dir": verifier_dir, "models": models, "folder": folder}


def test_every_kind_reports_the_same_metrics(setup, monkeypatch):
    monkeypatch.setenv("SPECTOOL_VERIFIER_DIR", str(setup["verifier_dir"]))
    report = evaluate_verifiers(setup["models"], VerifierEvalOptions(test_file=str(setup["test_file"]),
                                                                     latency_pairs=2), progress=False)
    assert set(report) == set(VERIFIER_KINDS) | {"setup"}
    for kind in VERIFIER_KINDS:
        assert set(METRIC_KEYS) <= set(report[kind]), kind
        assert report[kind]["pairs"] == len(setup["rows"])
    # the trivial baselines: accept everything / nothing
    assert (report["always"]["false_accept_rate"], report["always"]["false_reject_rate"]) == (1.0, 0.0)
    assert (report["never"]["false_accept_rate"], report["never"]["false_reject_rate"]) == (0.0, 1.0)
    assert report["always"]["auroc"] == 0.5
    # the trained kind uses its calibrated threshold; the others 0.5 without dev pairs
    card = json.loads((setup["verifier_dir"] / "card.json").read_text())
    assert report["trained"]["threshold"] == pytest.approx(card["threshold"])
    assert report["confidence"]["threshold"] == 0.5
    assert "meaningful only for instruction-tuned models" in report["prompt_critic"]["note"]
    assert report["setup"]["test_pairs"] == len(setup["rows"]) and report["setup"]["target_ms_per_step"] > 0
    assert set(report["trained"]["by_source"]) == {"synthetic", "safety"}
    # every unsafe draft of the safety twins is counted: always accepts them all, never rejects them all
    kinds = {r["kind"] for r in setup["rows"]}
    assert "unsafe" in kinds and set(report["always"]["by_kind"]) == kinds
    assert (report["always"]["unsafe_rejected"], report["never"]["unsafe_rejected"]) == (0.0, 1.0)
    assert report["always"]["by_kind"]["unsafe"]["pairs"] == sum(r["kind"] == "unsafe" for r in setup["rows"])
    paths = write_results(report, setup["folder"] / "results")
    assert json.loads(paths["json"].read_text())["never"]["false_reject_rate"] == 1.0
    table = paths["markdown"].read_text()
    assert all(f"| {kind} |" in table for kind in VERIFIER_KINDS) and table.endswith(markdown_table(report))
    never_rows = [line for line in table.splitlines() if line.startswith("| never | 0.5 |")]
    assert "| unsafe drafts rejected |" in table and never_rows[-1].endswith("| 0.0% | 100.0% | 100.0% |")
    assert "Pareto front" in paths["html"].read_text() and paths["figure"].stat().st_size > 0


def test_calibrating_every_kind_on_dev_pairs(setup, monkeypatch):
    monkeypatch.setenv("SPECTOOL_VERIFIER_DIR", str(setup["verifier_dir"]))
    options = VerifierEvalOptions(test_file=str(setup["test_file"]), dev_file=str(setup["test_file"]),
                                  kinds=("always", "target_likelihood"), latency_pairs=2, max_far=0.0)
    report = evaluate_verifiers(setup["models"], options, progress=False)
    assert set(report) == {"always", "target_likelihood", "setup"} and report["setup"]["calibrated_on_dev"]
    # calibrated on the very same pairs with no false accept allowed: none on them
    assert report["target_likelihood"]["false_accept_rate"] == 0.0
    # binary kinds are not calibrated (no threshold changes their decisions): always accepts every draft
    assert report["always"]["threshold"] == 0.5 and report["always"]["false_accept_rate"] == 1.0


def test_missing_trained_verifier_is_reported_not_fatal(setup, monkeypatch, tmp_path):
    monkeypatch.setenv("SPECTOOL_VERIFIER_DIR", str(tmp_path / "none"))
    report = evaluate_verifiers(setup["models"], VerifierEvalOptions(
        test_file=str(setup["test_file"]), kinds=("trained", "never"), latency_pairs=1), progress=False)
    assert "train-verifier" in report["trained"]["error"] and report["never"]["accuracy"] >= 0
    with pytest.raises(ValueError, match="unknown verifier kind\\(s\\) \\['oracle'\\]; valid kinds: always, never"):
        evaluate_verifiers(setup["models"], VerifierEvalOptions(kinds=("oracle",)), progress=False)


def test_update_replaces_only_the_kinds_measured_again(setup, monkeypatch):
    monkeypatch.setenv("SPECTOOL_VERIFIER_DIR", str(setup["verifier_dir"]))
    options = VerifierEvalOptions(test_file=str(setup["test_file"]), kinds=("always", "never"), latency_pairs=1)
    first = evaluate_verifiers(setup["models"], options, progress=False)
    first["setup"]["command"] = "first"
    again = evaluate_verifiers(setup["models"], VerifierEvalOptions(**{**options.__dict__, "kinds": ("never",)}),
                               progress=False)
    again["setup"]["command"], again["never"]["marker"] = "second", True
    merged = merge_reports(first, again)
    assert merged["always"] == first["always"] and merged["never"]["marker"]
    assert merged["setup"]["command"] == "first && second" and merged["setup"]["updated_kinds"] == ["never"]
    assert "re-measured by the later command on the same pairs: never" in markdown_table(merged)
    # other pairs (one fewer) or another calibration cannot be merged
    fewer = evaluate_verifiers(setup["models"], VerifierEvalOptions(**{**options.__dict__, "max_pairs": 3}),
                               progress=False)
    with pytest.raises(ValueError, match="cannot update: .*test_digest"):
        merge_reports(first, fewer)
    with pytest.raises(ValueError, match="max_far: 0.02 vs 0.1"):
        merge_reports(first, {**again, "setup": {**again["setup"], "max_far": 0.1}})


def test_update_refuses_a_target_retrained_under_the_same_name(tmp_path):
    from types import SimpleNamespace

    from spectool_app.fingerprint import model_fingerprints

    folders = {}
    for version in ("old", "new"):
        folders[version] = tmp_path / version
        folders[version].mkdir()
        (folders[version] / "model.safetensors").write_bytes(version.encode() * 10)
    drafter = SimpleNamespace(name="drafter", source=None)

    def setup_with(version):
        target = SimpleNamespace(name="embedded:target", source=str(folders[version]))
        return {"setup": {"test_digest": "t", "target": "embedded:target", "drafter": "drafter",
                          "model_fingerprints": model_fingerprints({"drafter": drafter, "target": target})},
                "never": {"accuracy": 0.5}}

    old, new = setup_with("old"), setup_with("new")
    assert old["setup"]["model_fingerprints"]["drafter"] == "drafter"
    assert old["setup"]["model_fingerprints"]["target"].startswith("sha256:")
    assert merge_reports(old, setup_with("old"))["never"] == {"accuracy": 0.5}
    with pytest.raises(ValueError, match="cannot update: .*model_fingerprints"):
        merge_reports(old, new)
    # a report written before fingerprints were recorded still merges (names compared only)
    legacy = {**old, "setup": {k: v for k, v in old["setup"].items() if k != "model_fingerprints"}}
    assert merge_reports(legacy, new)["never"] == {"accuracy": 0.5}


def test_sample_rows_keeps_every_source():
    rows = [{"source": "bfcl", "i": i} for i in range(80)] + [{"source": "safety", "i": i} for i in range(20)]
    picked = sample_rows(rows, 10, seed=0)
    assert [r["source"] for r in picked].count("bfcl") == 8 and [r["source"] for r in picked].count("safety") == 2
    assert sample_rows(rows, None, 0) is rows
    # unsafe drafts are kept whole, on top of the sample (the safety bar is stated on them)
    unsafe = [{"source": "safety", "kind": "unsafe", "i": i} for i in range(5)]
    picked = sample_rows(rows + unsafe, 10, seed=0)
    assert len(picked) == 15 and [r for r in picked if r.get("kind") == "unsafe"] == unsafe


def test_cli_rejects_unknown_kinds_and_label_modes(tmp_path):
    result = run_cli("eval-verifiers", "--kinds", "always,oracle")
    assert result.returncode == 2 and "unknown verifier kind(s) ['oracle']; valid verifier kinds: always" in result.stderr
    result = run_cli("build-pairs", "--label", "human")
    assert result.returncode == 2 and "unknown --label 'human'; valid modes: gold, target" in result.stderr
    result = run_cli("eval-verifiers", "--update", "--out", str(tmp_path))
    assert result.returncode == 2 and "--update needs an earlier report at" in result.stderr


def test_refresh_pairs_cli_rewrites_contexts_from_a_replay(tmp_path):
    task = next(t for t in load_tasks("synthetic", "dev") if t.id == "synthetic:dev-3")
    rows = build_pairs("dev", ScriptedDrafter(ToolCall("view_messages_sent", {})), PairOptions(samples=0),
                       tasks=[task], progress=False)
    stale = write_pairs([{**r, "context": "user: stale", "id": f"old-{i}"} for i, r in enumerate(rows)],
                        tmp_path / "dev.jsonl")
    result = run_cli("refresh-pairs", str(stale), "--out", str(tmp_path / "fresh.jsonl"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows"] == summary["rows_before"] == summary["contexts_changed"] == len(rows)
    assert load_pairs(tmp_path / "fresh.jsonl") == rows
    assert load_pairs(stale)[0]["context"] == "user: stale"  # --out leaves the input as it was
    result = run_cli("refresh-pairs", str(tmp_path / "missing.jsonl"))
    assert result.returncode != 0 and "no pair file" in result.stderr
