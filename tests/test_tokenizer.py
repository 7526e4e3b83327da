"""Tokenizer training, save/load, the chat template and value tokenization (CPU, no checkpoint)."""

from __future__ import annotations

import json
import random

import pytest

from models.tokenizer import CHAT_TEMPLATE, MARKUP_TOKENS, load_tokenizer, train_tokenizer
from spectool_app.actions import ToolCall
from spectool_app.parsing import format_openai_tool_calls, format_qwen3_reply

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "book_flight",
            "description": "Book a flight.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "seats": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
]
VALUES = ["Paris", "San Francisco", "it's", "report_final.txt", "2024-05-01", "Zyxquorb", "42"]


def _corpus() -> list[str]:
    rng = random.Random(0)
    words = ["Paris", "Rome", "Oslo", "flight", "book", "file", "report", "seats", "city", "name"]
    texts = []
    for _ in range(300):
        city, seats = rng.choice(words), rng.randint(1, 500)
        texts.append(f"Please {rng.choice(words)} a {rng.choice(words)} to {city} for {seats} people.")
        texts.append(json.dumps({"name": "book_flight", "arguments": {"city": city, "seats": seats}}))
    return texts


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(_corpus(), vocab_size=800)


def test_round_trip_save_load(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    sample = "<|im_start|>user\nFly to Paris, 3 seats<|im_end|>\n<tool_call>\n{}\n</tool_call>"
    # same ids, specials, padding side and template after the round trip
    assert loaded.encode(sample) == tokenizer.encode(sample)
    assert (loaded.eos_token, loaded.pad_token, loaded.padding_side) == ("<|im_end|>", "<|endoftext|>", "left")
    assert loaded.chat_template == CHAT_TEMPLATE
    assert len(loaded) == len(tokenizer) <= 800


def test_special_and_markup_tokens_are_atomic(tokenizer):
    for token in ("<|im_start|>", "<|im_end|>", "<|endoftext|>", *MARKUP_TOKENS):
        # one id per special or markup token
        assert len(tokenizer.encode(token)) == 1, token
    ids = tokenizer.encode('<tool_call>\n{"a": 1}\n</tool_call><|im_end|>')
    # decoding drops <|im_end|> but keeps the tool-call tags the parser needs
    assert tokenizer.decode(ids, skip_special_tokens=True) == '<tool_call>\n{"a": 1}\n</tool_call>'


def test_too_small_vocabulary_is_refused():
    # vocab smaller than the byte alphabet plus specials
    with pytest.raises(ValueError, match="at least 512"):
        train_tokenizer(["abc"], vocab_size=100)


def test_template_renders_tools_calls_and_results(tokenizer):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Fly to Paris"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"type": "function", "function": {"name": "book_flight", "arguments": {"city": "Paris"}}},
                {"type": "function", "function": {"name": "book_flight", "arguments": '{"city": "Rome"}'}},
            ],
        },
        {"role": "tool", "content": "booked 1"},
        {"role": "tool", "content": "booked 2"},
        {"role": "assistant", "content": "Done."},
    ]
    text = tokenizer.apply_chat_template(
        messages, tools=TOOLS, add_generation_prompt=True, tokenize=False
    )
    expected = (
        "<|im_start|>system\nBe brief.\n<tools>\n" + json.dumps(TOOLS[0]) + "\n</tools><|im_end|>\n"
        "<|im_start|>user\nFly to Paris<|im_end|>\n"
        "<|im_start|>assistant\n"
        '<tool_call>\n{"name": "book_flight", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "book_flight", "arguments": {"city": "Rome"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nbooked 1\n</tool_response>\n"
        "<tool_response>\nbooked 2\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\nDone.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert text == expected


def test_template_without_tools_or_system_has_no_system_turn(tokenizer):
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    # a bare user turn and the generation prompt
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_template_tool_call_matches_format_qwen3_reply(tokenizer):
    call = ToolCall("book_flight", {"city": "Zürich", "seats": 2})
    message = {"role": "assistant", "content": "", "tool_calls": format_openai_tool_calls([call])}
    text = tokenizer.apply_chat_template([message], tokenize=False)
    # what the model is trained on equals what score() measures
    assert text == "<|im_start|>assistant\n" + format_qwen3_reply(call) + "<|im_end|>\n"


@pytest.mark.parametrize("value", VALUES)
def test_value_tokens_same_in_prompt_and_json(tokenizer, value):
    value_tokens = tokenizer.tokenize(value)
    in_prompt = tokenizer.tokenize(f"Book a flight to {value} now")
    in_json = tokenizer.tokenize(json.dumps({"city": value}))

    def contains(haystack: list[str], needle: list[str]) -> bool:
        return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))

    # after a space in the prompt and inside JSON quotes the value has the same tokens
    assert contains(in_prompt, value_tokens) and contains(in_json, value_tokens)
