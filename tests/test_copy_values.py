"""Copy-constrained decoding of tool-call string values."""

import pytest
import torch

from models.copy_values import CopyValuesProcessor, allowed_tokens, context_text, open_string_value
from models.tokenizer import train_tokenizer

CALL = '<tool_call>\n{"name": "mv", "arguments": '


@pytest.mark.parametrize("reply, expected", [
    (CALL + '{"source": "rep', "rep"),  # inside a value
    (CALL + '{"sou', None),  # inside a key
    (CALL + '{"source": "a", "dest', None),  # second key
    (CALL + '{"source": "a", "destination": "', ""),  # value just opened
    (CALL + '{"tags": ["x", "y', "y"),  # strings in a list are values
    (CALL + '{"n": 5, "m": {"k": "v', "v"),  # nested object value
    (CALL + '{"a": "b"}}', None),  # arguments closed
    (CALL + '{"a": "b\\', None),  # pending escape
    ('<tool_call>\n{"name": "m', None),  # the tool name is free
    ('Sure, "quoted', None),  # plain answers are free
])
def test_open_string_value(reply, expected):
    assert open_string_value(reply) == expected


def test_context_text_includes_earlier_call_arguments():
    messages = [{"role": "user", "content": "move report.txt"},
                {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "cd", "arguments": {"folder": "docs"}}}]}]
    assert context_text(messages) == 'move report.txt\n\n{"folder": "docs"}'


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(["move report kavo txt into archive folder " * 5, '{"source": "x"}'], vocab_size=600)


def test_only_continuations_found_in_the_context_are_allowed(tokenizer):
    from models.copy_values import _pieces

    by_text, quotes, longest = _pieces(tokenizer)
    allowed = {tokenizer.decode([i]) for i in allowed_tokens("rep", "move report.txt", by_text, longest)}
    assert "o" in allowed and "x" not in allowed
    assert all(("rep" + piece) in "move report.txt" for piece in allowed)


def test_copies_start_and_end_on_word_boundaries(tokenizer):
    from models.copy_values import _pieces, at_boundary, copy_choices

    by_text, _, longest = _pieces(tokenizer)
    context = "move report.txt to kavo_archive"
    assert at_boundary(context, 0) and at_boundary(context, 5) and not at_boundary(context, 6)
    # "rep" is a copy in progress but may not close there ("report" goes on); "report" may
    assert copy_choices("rep", context, by_text, longest)[1] is False
    assert copy_choices("report", context, by_text, longest)[1] is True
    assert copy_choices("kavo", context, by_text, longest)[1] is True  # "_" is a word edge
    # a value may not start inside a word: "eport" has no copy that starts on a boundary
    assert copy_choices("eport", context, by_text, longest) == (set(), False)
    first = {tokenizer.decode([i]) for i in copy_choices("", context, by_text, longest)[0]}
    assert first and all(any(context.startswith(t, i) and at_boundary(context, i) for i in range(len(context)))
                         for t in first)


def test_processor_masks_everything_but_copies_and_the_closing_quote(tokenizer):
    prompt = tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    reply = tokenizer(CALL + '{"source": "', add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + reply])
    processor = CopyValuesProcessor(tokenizer, ["kavo"], prompt_width=len(prompt))
    scores = processor(ids, torch.zeros(1, len(tokenizer)))
    open_ids = (scores[0] == 0).nonzero().flatten().tolist()
    texts = {tokenizer.decode([i]) for i in open_ids}
    assert '"' in texts
    assert texts - {'"'} and all("kavo".startswith(t) or t in "kavo" for t in texts - {'"'})
