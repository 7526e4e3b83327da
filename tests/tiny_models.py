"""Tiny Qwen3 drafter and target saved to a folder, so tests can run the real CLI on them.

Both are ``Qwen3ForCausalLM`` (hidden 32, 2 layers) with a tokenizer trained by
``models.tokenizer.train_tokenizer`` (tools listed by name). A randomly initialised model
babbles until ``max_new_tokens`` (256, which a model folder cannot lower), so the random
weights are rewired into a fixed reply instead of trained (no training, built in about a
second): every block's attention output and MLP output projections are zeroed, so the last
hidden state is the current token's embedding, and the (untied) output head maps each token of
the reply to the next one. One added token holds the JSON object of the drafter's call, so no
token repeats inside a reply and a next-token table is enough:

- the drafter always calls ``ls`` with no arguments (:data:`DRAFTER_REPLY`);
- the target always answers ``Done.`` (:data:`TARGET_REPLY`).

With these, ``speculative`` + ``exact_match`` rejects every draft and the target's answer
ends each turn after one step, while ``shadow`` + ``always`` executes ``ls`` up to the
per-turn step limit and records the target's answer beside it: every step then has a draft,
a verdict, a target proposal, a policy check and a tool execution.

This module knows nothing about the loop or the store; it only builds model folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

CALL_JSON = '{"name": "ls", "arguments": {}}'  # one added token
DRAFTER_REPLY = f"<tool_call>{CALL_JSON}</tool_call>"
TARGET_REPLY = "Done."
REPLIES = {"drafter": DRAFTER_REPLY, "target": TARGET_REPLY}
HIDDEN = 32  # model width
LAYERS = 2  # transformer blocks
LOGIT_SCALE = 4.0  # margin of the wired next-token choices (the chosen token gets p > 0.99)
DONE_MARKER = "tiny-models.done"  # written last: a folder with it is complete


def _tokenizer() -> Any:
    from tokenizers import AddedToken

    from models.tokenizer import train_tokenizer
    from spectool_app.tasks import load_task_set

    texts = [turn for task in load_task_set("synthetic:test")[:60] for turn in task.turns]
    texts += ["You are a tool-using assistant.", "error: unknown tool", *REPLIES.values()]
    tokenizer = train_tokenizer(texts, vocab_size=600, tool_view="names")
    tokenizer.add_tokens([AddedToken(CALL_JSON, special=False, normalized=False)])
    return tokenizer


def _wired_qwen3(tokenizer: Any, reply: str, seed: int) -> Any:
    """A Qwen3 whose greedy reply to any prompt ending in the generation prompt is ``reply``."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=LAYERS,
        num_attention_heads=4, num_key_value_heads=2, head_dim=HIDDEN // 4, max_position_embeddings=4096,
        tie_word_embeddings=False, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config).eval()
    chain = tokenizer("\n" + reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    if len(set(chain)) != len(chain):
        raise ValueError(f"reply {reply!r} repeats a token ({chain}); a next-token table cannot say it")
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embeddings = model.model.embed_tokens.weight
        head = model.lm_head.weight
        head.zero_()
        for current, following in zip(chain, chain[1:]):
            head[following] = LOGIT_SCALE * embeddings[current] / embeddings[current].norm()
    return model


def build_tiny_models(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Build (or reuse) the tiny drafter and target under ``folder``; returns ``{role: model folder}``."""
    folder = Path(folder)
    paths = {role: folder / role for role in REPLIES}
    if (folder / DONE_MARKER).exists():
        return paths
    tokenizer = _tokenizer()
    for offset, (role, reply) in enumerate(REPLIES.items()):
        _wired_qwen3(tokenizer, reply, seed + offset).save_pretrained(str(paths[role]))
        tokenizer.save_pretrained(str(paths[role]))
    (folder / DONE_MARKER).write_text("ok\n")
    return paths


def tiny_model_env(folder: Path) -> dict[str, str]:
    """Environment variables that make the CLI load the tiny models (built on first use)."""
    paths = build_tiny_models(folder)
    return {"SPECTOOL_DRAFTER": str(paths["drafter"]), "SPECTOOL_TARGET": str(paths["target"]),
            "SPECTOOL_PRESET": "embedded", "OMP_NUM_THREADS": "1"}  # one thread: tiny models, shared cores
