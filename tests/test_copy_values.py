"""Copy-constrained decoding of tool-call string values."""

import pytest
import torch

from models.copy_values import (
    CopyValuesProcessor,
    Position,
    allowed_tokens,
    context_text,
    number_literals,
    call_name,
    open_name,
    open_string_value,
    open_value,
    scan,
)
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


@pytest.mark.parametrize("reply, expected", [
    (CALL + '{"ticket_id": ', ("number", "")),  # a value is due: it may start as a number
    (CALL + '{"ticket_id": 460', ("number", "460")),  # a number in progress
    (CALL + '{"ids": [3, 4', ("number", "4")),  # list items too
    (CALL + '{"ticket_id": 460, ', None),  # a key is due
    (CALL + '{"flag": tr', None),  # booleans are free
    (CALL + '{"a": 1}}', None),  # arguments closed
    (CALL + '{"name": "Zek', ("string", "Zek")),
    (CALL + '{"sou', ("key", "sou")),  # a key of the arguments object
    (CALL + '{"a": 1, "', ("key", "")),
    (CALL + '{"m": {"k', None),  # nested keys are free
])
def test_open_value_finds_numbers_in_progress(reply, expected):
    assert open_value(reply) == expected


def test_number_literals_come_from_the_context():
    literals = number_literals("bump ticket #46081 to priority 12; cost 460.0 on 2026-03-07, room USR004")
    assert {"46081", "46081.0", "12", "460.0", "460", "2026", "7", "7.0"} <= literals
    # parts of words and of dates are not numbers; digits 0-9 are always allowed
    assert not {"004", "4608", "03", "-03", "07"} & literals


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


def test_processor_holds_numbers_to_numbers_in_the_context():
    tokenizer = train_tokenizer(['{"ticket_id": 46081, "n": 7}', "ticket 46081 and 55 more"] * 5, vocab_size=600)
    prompt = tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]

    def open_texts(reply: str) -> set[str]:
        ids = torch.tensor([prompt + tokenizer(CALL + reply, add_special_tokens=False)["input_ids"]])
        scores = CopyValuesProcessor(tokenizer, ["bump ticket 46081"], len(prompt))(ids, torch.zeros(1, len(tokenizer)))
        return {tokenizer.decode([i]) for i in (scores[0] == 0).nonzero().flatten().tolist()}

    numeric = lambda texts: {t for t in texts if t and all(c in "-0123456789." for c in t)}  # noqa: E731
    started = open_texts('{"ticket_id": ')
    assert numeric(started) and all("46081".startswith(t) or len(t) == 1 for t in numeric(started))
    assert '"' in started  # a string value may start instead
    middle = open_texts('{"ticket_id": 460')
    assert numeric(middle) and all("46081.0".startswith("460" + t) for t in numeric(middle))
    assert "," not in middle and "}" not in middle  # 460 is not a number of the context
    done = open_texts('{"ticket_id": 46081')
    assert "," in done and "}" in done and not numeric(done) - {".", ".0", "0"}


def test_open_name_and_call_name():
    assert open_name('<tool_call>\n{"name": "get_') == "get_"
    assert open_name('<tool_call>\n{"name": "') == ""
    assert open_name(CALL) is None and open_name("plain answer") is None
    assert call_name(CALL + '{"sou') == "mv" and call_name('<tool_call>\n{"name": "m') is None


TOOLS = [{"type": "function", "function": {"name": "mv", "parameters": {"properties": {"source": {}, "destination": {}}}}},
         {"type": "function", "function": {"name": "cd", "parameters": {"properties": {"folder": {}}}}}]


def test_processor_holds_names_and_keys_to_the_tool_list(tokenizer):
    prompt = tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]

    def open_texts(reply: str, tools=TOOLS) -> set[str]:
        ids = torch.tensor([prompt + tokenizer(reply, add_special_tokens=False)["input_ids"]])
        scores = CopyValuesProcessor(tokenizer, ["move report"], len(prompt), tools)(ids, torch.zeros(1, len(tokenizer)))
        return {tokenizer.decode([i]) for i in (scores[0] == 0).nonzero().flatten().tolist()}

    name_start = open_texts('<tool_call>\n{"name": "')
    assert name_start and all("mv".startswith(t) or "cd".startswith(t) for t in name_start)
    assert '"' not in name_start  # an empty name is not a tool
    assert open_texts('<tool_call>\n{"name": "mv') == {'"'}  # the name is complete
    keys = open_texts(CALL + '{"')
    assert keys and all("source".startswith(t) or "destination".startswith(t) for t in keys)
    assert not any("folder".startswith(t) for t in keys if not "source".startswith(t) and not "destination".startswith(t))
    ids = torch.tensor([prompt + tokenizer('<tool_call>\n{"name": "', add_special_tokens=False)["input_ids"]])
    free = CopyValuesProcessor(tokenizer, ["move report"], len(prompt))(ids, torch.zeros(1, len(tokenizer)))
    assert bool((free == 0).all())  # without a tool list the name is free


@pytest.mark.parametrize("reply, expected", [
    ('{"a": ', Position("due", key="a", written=("a",))),
    ('{"a": [1, ', Position("due", key="a", item=True, written=("a",))),
    ('{"a": ["x", "y', Position("string", "y", key="a", item=True, written=("a",))),
    ('{"a": {"k": "v', Position("string", "v", written=("a",))),  # nested deeper: no owner
    ('{"a": tr', Position("bare", "tr", key="a", written=("a",))),
    ('{', Position("key_due", opened=True)),
    ('{"a": 1, ', Position("key_due", written=("a",))),
    ('{"a": "x"', Position("after", key="a", written=("a",))),
    ('{"a": [1]', Position("after", key="a", written=("a",))),
    ('{"a": 1 ', Position("after", key="a", written=("a",))),
    ('{"a": "x", "b', Position("key", "b", written=("a",))),
])
def test_scan_says_where_in_the_arguments_a_reply_ends(reply, expected):
    assert scan(CALL + reply) == expected


ORDER_TOOLS = [{"type": "function", "function": {"name": "place_order", "parameters": {
    "type": "object",
    "properties": {
        "order_type": {"type": "string", "description": "Type of the order (Buy/Sell)."},
        "symbol": {"type": "string"},
        "amount": {"type": "integer"},
        "door": {"type": "array", "items": {"type": "string"}, "description": '[Enum]: ["driver", "rear_left"]'},
        "flag": {"type": "boolean"},
    },
    "required": ["order_type", "symbol"],
}}}]
ORDER = '<tool_call>\n{"name": "place_order", "arguments": '


@pytest.fixture(scope="module")
def order_tokenizer():
    texts = [ORDER + '{"order_type": "Sell", "symbol": "KHZ", "amount": 41, "door": ["driver", "rear_left"], '
             '"flag": true, "x": false}', "list 41 shares of KHZ for sale at 59"] * 5
    return train_tokenizer(texts, vocab_size=600)


def _open_texts(tokenizer, reply: str, context: str = "list 41 shares of KHZ for sale at 59",
                known_values=None) -> set[str]:
    prompt = tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + tokenizer(ORDER + reply, add_special_tokens=False)["input_ids"]])
    processor = CopyValuesProcessor(tokenizer, [context], len(prompt), ORDER_TOOLS, known_values)
    scores = processor(ids, torch.zeros(1, len(tokenizer)))
    return {tokenizer.decode([i]) for i in (scores[0] == 0).nonzero().flatten().tolist()}


def test_a_value_starts_as_its_parameter_type_demands(order_tokenizer):
    def starts(key: str) -> set[str]:
        return {t for t in _open_texts(order_tokenizer, '{"' + key + '": ') if not t.isspace()}

    assert starts("order_type") == {'"'}  # a string: only its opening quote
    assert starts("door") == {"["}  # a list
    amount = starts("amount")
    assert amount and all(t and all(c in "-0123456789." for c in t) for t in amount)  # a number, no quote
    assert starts("flag") and all("true".startswith(t) or "false".startswith(t) for t in starts("flag"))


def test_values_come_from_the_context_the_description_or_the_listed_options(order_tokenizer):
    sell = _open_texts(order_tokenizer, '{"order_type": "Se')  # "Sell" is in the description, not the context
    assert sell and all("Sell".startswith("Se" + t) for t in sell - {'"'})
    doors = _open_texts(order_tokenizer, '{"door": ["')  # only the listed options, though not in the context
    assert doors and all("driver".startswith(t) or "rear_left".startswith(t) for t in doors)
    assert '"' not in doors  # an empty string is no option
    assert _open_texts(order_tokenizer, '{"door": ["driver') == {'"'}


def test_keys_are_written_once_and_the_object_closes_only_with_the_required_ones(order_tokenizer):
    keys = _open_texts(order_tokenizer, '{"order_type": "Sell", "')
    assert keys and not any("order_type".startswith(t) and not "symbol".startswith(t) for t in keys)
    early = _open_texts(order_tokenizer, '{"order_type": "Sell"')
    assert "," in early and "}" not in early  # symbol is required and not written yet
    assert "}" in _open_texts(order_tokenizer, '{"order_type": "Sell", "symbol": "KHZ"')
    number_done = _open_texts(order_tokenizer, '{"order_type": "Sell", "amount": 41')
    assert "," in number_done and "}" not in number_done and '"' not in number_done
    assert "}" not in _open_texts(order_tokenizer, "{")  # nothing written: required keys are missing
    everything = '{"order_type": "Sell", "symbol": "KHZ", "amount": 41, "door": ["driver"], "flag": true'
    assert "," not in _open_texts(order_tokenizer, everything) and "}" in _open_texts(order_tokenizer, everything)


def test_known_values_of_a_parameter_may_be_written_though_not_in_the_context(order_tokenizer):
    """A checkpoint's known_values (codes taught in training) are one more source, for their parameter only."""
    assert _open_texts(order_tokenizer, '{"symbol": "rear') == {'"'}  # not in the context: only the quote is left
    known = {"place_order": {"symbol": ["rear_left"]}}
    taught = _open_texts(order_tokenizer, '{"symbol": "rear', known_values=known)
    assert taught - {'"'} and all("_left".startswith(t) for t in taught - {'"'})
    assert _open_texts(order_tokenizer, '{"order_type": "rear', known_values=known) == {'"'}  # another parameter
    other_tool = {"cancel_order": {"symbol": ["rear_left"]}}
    assert _open_texts(order_tokenizer, '{"symbol": "rear', known_values=other_tool) == {'"'}


def test_copyable_means_a_word_aligned_copy():
    from models.copy_values import copyable

    assert copyable("cm", "cm\nin") and copyable("report", "move report.txt")
    assert not copyable("rep", "move report.txt") and not copyable("cm", "centimeters")
