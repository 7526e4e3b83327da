"""A small byte-level BPE tokenizer and a compact Qwen3-style chat template for the embedded models.

The pre-tokenizer first cuts text into letter runs, digit runs and single other characters
(each piece isolated), then maps bytes to the byte-level alphabet *without* the GPT-2 regex.
A value therefore gets the same tokens after a space in the prompt (``to Paris``) and inside
JSON quotes (``"Paris"``), which is what a tiny model needs to copy values.

The chat template speaks Qwen3's tool format (``<tools>`` in the system turn, ``<tool_call>``
JSON in assistant turns, ``<tool_response>`` inside a user turn) without its long boilerplate.

This module does not know about models, training data or actions: it only builds, saves and
loads a tokenizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

TEMPLATE_PATH = Path(__file__).with_name("chat_template.jinja")
CHAT_TEMPLATE = TEMPLATE_PATH.read_text(encoding="utf-8")
_JSON_TOOL_LINE = "{{- '\\n' + (tool | tojson) -}}"
# The embedded models are trained on these back-ends only: listing the tool names is enough for
# them, and it keeps prompts ~10x shorter than full JSON schemas (prompt length is their latency).
COMPACT_CHAT_TEMPLATE = CHAT_TEMPLATE.replace(_JSON_TOOL_LINE, "{{- '\\n' + tool.function.name -}}")
assert COMPACT_CHAT_TEMPLATE != CHAT_TEMPLATE, "chat template changed: update the compact tool line"
TOOL_VIEWS = {"json": CHAT_TEMPLATE, "names": COMPACT_CHAT_TEMPLATE}

IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
SPECIAL_TOKENS = (END_OF_TEXT, IM_START, IM_END)  # dropped by decode(skip_special_tokens=True)
# Added (atomic) but not "special", as in Qwen3: decoding keeps them, so replies parse.
MARKUP_TOKENS = (
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)
PRE_SPLIT = r"\p{L}+|\p{N}+|[^\p{L}\p{N}]"  # letter runs, digit runs, each other character
MIN_VOCAB = 512  # 256 byte symbols + specials + room for some merges


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRE_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 4096, tool_view: str = "json"
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer with SpecTool's pre-split and chat template.

    Args:
        texts: training strings (rendered chats, tool schemas, values...).
        vocab_size: target vocabulary size, special and markup tokens included.
        tool_view: how the chat template lists tools: "json" (full schemas) or "names".

    Returns:
        A fast tokenizer with ``eos_token="<|im_end|>"``, ``pad_token="<|endoftext|>"``,
        left padding and :data:`CHAT_TEMPLATE` set; ``save_pretrained`` round-trips it.

    Raises:
        ValueError: ``vocab_size`` below :data:`MIN_VOCAB`.
    """
    if tool_view not in TOOL_VIEWS:
        raise ValueError(f"unknown tool_view {tool_view!r}; allowed: {', '.join(TOOL_VIEWS)}")
    if vocab_size < MIN_VOCAB:
        raise ValueError(f"vocab_size must be at least {MIN_VOCAB} (256 bytes + specials), got {vocab_size}")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = _pre_tokenizer()
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS) + list(MARKUP_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    # Re-register markup tokens as non-special so decode(skip_special_tokens=True) keeps them.
    core.add_tokens([AddedToken(t, special=False, normalized=False) for t in MARKUP_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=IM_END,
        pad_token=END_OF_TEXT,
        padding_side="left",
        model_input_names=["input_ids", "attention_mask"],
    )
    tokenizer.chat_template = TOOL_VIEWS[tool_view]
    return tokenizer


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer saved with ``save_pretrained`` (offline, from a local folder)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
