"""Tests of spectool_app.parsing: Qwen3 replies, OpenAI tool_calls, BFCL python calls."""

from __future__ import annotations

import json
import keyword

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessageFunctionToolCall

from spectool_app.actions import ActionError, Answer, Blocked, ToolCall
from spectool_app.parsing import (
    MAX_CALL_TEXT,
    ParseError,
    format_openai_tool_calls,
    format_python_call,
    format_qwen3_reply,
    parse_openai_tool_calls,
    parse_python_call,
    parse_python_calls,
    parse_qwen3_reply,
)


def _block(body: str) -> str:
    return f"<tool_call>\n{body}\n</tool_call>"


# ---------------------------------------------------------------- Qwen3 replies


def test_qwen3_single_call():
    # one well-formed call
    reply = _block('{"name": "mv", "arguments": {"source": "a.txt", "destination": "b"}}')
    assert parse_qwen3_reply(reply) == [ToolCall("mv", {"source": "a.txt", "destination": "b"})]


def test_qwen3_several_calls_in_order():
    # several calls in one message keep their order; text between them is ignored
    reply = (
        'Let me do both.\n<tool_call>{"name": "cd", "arguments": {"folder": "docs"}}</tool_call>\n'
        'then\n<tool_call>{"name": "ls", "arguments": {}}</tool_call>'
    )
    assert parse_qwen3_reply(reply) == [ToolCall("cd", {"folder": "docs"}), ToolCall("ls", {})]


def test_qwen3_think_is_stripped():
    # a closed <think> block before the call
    reply = '<think>\nThe user wants a listing. <tool_call> is a tag.\n</think>\n\n' + _block(
        '{"name": "ls", "arguments": {"a": true}}'
    )
    assert parse_qwen3_reply(reply) == [ToolCall("ls", {"a": True})]


def test_qwen3_think_opened_in_prompt():
    # the chat template opened <think>; the reply starts inside it and only closes it
    reply = 'I should answer directly.\n</think>\n\nThe file is empty.'
    assert parse_qwen3_reply(reply) == [Answer("The file is empty.")]


def test_qwen3_unclosed_leading_think_before_call():
    # an unclosed <think> ends at the first tool call
    reply = '<think>list it' + _block('{"name": "ls", "arguments": {}}')
    assert parse_qwen3_reply(reply) == [ToolCall("ls", {})]


def test_qwen3_unclosed_think_only_is_empty():
    # a reply cut off while thinking has nothing to act on
    with pytest.raises(ParseError, match="empty reply"):
        parse_qwen3_reply("<think>still thinking about it")


def test_qwen3_arguments_as_json_string():
    # arguments may arrive as a JSON string (OpenAI style)
    reply = _block('{"name": "cat", "arguments": "{\\"file_name\\": \\"notes.txt\\"}"}')
    assert parse_qwen3_reply(reply) == [ToolCall("cat", {"file_name": "notes.txt"})]


def test_qwen3_missing_closing_tag_at_end():
    # the last call may lack </tool_call>
    reply = '<tool_call>\n{"name": "pwd", "arguments": {}}\n'
    assert parse_qwen3_reply(reply) == [ToolCall("pwd", {})]


def test_qwen3_closing_tag_inside_a_string_value():
    # a closing tag inside an argument string does not cut the call short
    reply = _block('{"name": "echo", "arguments": {"content": "a </tool_call> b"}}')
    assert parse_qwen3_reply(reply) == [ToolCall("echo", {"content": "a </tool_call> b"})]


def test_qwen3_lenient_json_repairs_quotes_and_trailing_comma():
    # single quotes, Python True and a trailing comma are repaired
    reply = _block("{'name': 'ls', 'arguments': {'a': True,},}")
    assert parse_qwen3_reply(reply) == [ToolCall("ls", {"a": True})]


def test_qwen3_truncated_json_is_repaired():
    # JSON cut off after a complete value is closed by json_repair
    reply = '<tool_call>{"name": "mv", "arguments": {"source": "a", "destination": "b"'
    assert parse_qwen3_reply(reply) == [ToolCall("mv", {"source": "a", "destination": "b"})]


def test_qwen3_truncated_json_drops_half_written_key():
    # a key cut off mid-name is dropped (the signature check then reports it missing)
    reply = '<tool_call>{"name": "mv", "arguments": {"source": "a", "dest'
    assert parse_qwen3_reply(reply) == [ToolCall("mv", {"source": "a"})]


def test_qwen3_truncated_before_arguments():
    # JSON cut off before "arguments" is refused, not read as a call without arguments
    with pytest.raises(ParseError, match="tool call #1 \\(mv\\) has no 'arguments'"):
        parse_qwen3_reply('<tool_call>{"name": "mv", "argum')


def test_qwen3_list_instead_of_object():
    # a list of calls inside one block is not the format
    reply = _block('[{"name": "ls", "arguments": {}}]')
    with pytest.raises(ParseError, match="must be a JSON object .* got a list"):
        parse_qwen3_reply(reply)


def test_qwen3_arguments_not_an_object():
    # arguments given as a list
    with pytest.raises(ParseError, match="'arguments' must be a JSON object, got a list"):
        parse_qwen3_reply(_block('{"name": "ls", "arguments": [1, 2]}'))


def test_qwen3_name_not_a_string():
    # a numeric name
    with pytest.raises(ParseError, match="needs a string 'name', got a number"):
        parse_qwen3_reply(_block('{"name": 5, "arguments": {}}'))


@pytest.mark.parametrize(
    "name",
    ["__import__", "os.system", "rm -rf", "ls;id", "1abc", "", "x" * 65, "_private", "naïve"],
)
def test_qwen3_non_identifier_tool_names(name):
    # dunder, dotted, spaced, leading digit, empty, too long, private, non-ASCII names
    reply = _block(json.dumps({"name": name, "arguments": {}}))
    with pytest.raises(ParseError, match="tool name .* is not allowed"):
        parse_qwen3_reply(reply)


def test_qwen3_hostile_python_in_block_is_not_a_call():
    # python code inside a tool_call block is not JSON and never runs
    with pytest.raises(ParseError, match="tool call #1 must be a JSON object"):
        parse_qwen3_reply(_block("__import__('os').system('id')"))


def test_qwen3_empty_block():
    # <tool_call></tool_call> with nothing inside
    with pytest.raises(ParseError, match="tool call #1 is empty"):
        parse_qwen3_reply("<tool_call>  </tool_call>")


def test_qwen3_unclosed_call_before_next_call():
    # only the last call may lack its closing tag
    reply = '<tool_call>{"name": "ls", "arguments": {<tool_call>{"name": "pwd", "arguments": {}}'
    with pytest.raises(ParseError, match="tool call #1 is not closed"):
        parse_qwen3_reply(reply)


def test_qwen3_stray_closing_tag():
    # </tool_call> with no opening tag
    with pytest.raises(ParseError, match="without an opening <tool_call>"):
        parse_qwen3_reply('{"name": "ls", "arguments": {}}</tool_call>')


def test_qwen3_one_megabyte_reply():
    # a 1 MB argument makes the reply too long to read
    reply = _block(json.dumps({"name": "echo", "arguments": {"content": "x" * 1_000_000}}))
    with pytest.raises(ParseError, match=f"limit is {MAX_CALL_TEXT}"):
        parse_qwen3_reply(reply)


def test_qwen3_nesting_too_deep():
    # 25 nested lists in an argument
    arguments = {"a": json.loads("[" * 25 + "]" * 25)}
    reply = _block(json.dumps({"name": "f", "arguments": arguments}))
    with pytest.raises(ParseError, match="nested more than 20 levels"):
        parse_qwen3_reply(reply)


def test_qwen3_nesting_at_limit_is_accepted():
    # the arguments object plus 19 nested lists is exactly 20 levels
    arguments = {"a": json.loads("[" * 19 + "]" * 19)}
    reply = _block(json.dumps({"name": "f", "arguments": arguments}))
    assert parse_qwen3_reply(reply) == [ToolCall("f", arguments)]


def test_qwen3_recursion_bomb():
    # 100,000 open brackets neither crash nor recurse
    with pytest.raises(ParseError, match="nested more than 20 levels"):
        parse_qwen3_reply("<tool_call>" + "[" * 100_000)


def test_qwen3_blocked():
    # a refusal, any case, reason stripped
    assert parse_qwen3_reply("blocked:  rm would delete the thesis \n") == [
        Blocked("rm would delete the thesis")
    ]


def test_qwen3_blocked_after_think():
    # the BLOCKED: prefix counts after thinking is removed
    assert parse_qwen3_reply("<think>unsafe</think>\nBLOCKED: no") == [Blocked("no")]


def test_qwen3_blocked_with_a_call_is_contradictory():
    # a reply that refuses and calls at once is refused as a whole
    with pytest.raises(ParseError, match="both refuses"):
        parse_qwen3_reply("BLOCKED: unsafe\n" + _block('{"name": "rm", "arguments": {}}'))


def test_qwen3_plain_answer():
    # text without calls is an answer, stripped
    assert parse_qwen3_reply("  Which file do you mean?\n") == [Answer("Which file do you mean?")]


def test_qwen3_text_mentioning_blocked_later_is_an_answer():
    # BLOCKED: only counts at the start
    assert parse_qwen3_reply("Not BLOCKED: fine") == [Answer("Not BLOCKED: fine")]


@pytest.mark.parametrize("reply", ["", "   \n", "<think>x</think>  "])
def test_qwen3_empty_reply(reply):
    # empty, blank, or only thinking
    with pytest.raises(ParseError, match="empty reply"):
        parse_qwen3_reply(reply)


def test_qwen3_not_text():
    # None is not a reply
    with pytest.raises(ParseError, match="expected reply as text, got NoneType"):
        parse_qwen3_reply(None)  # type: ignore[arg-type]


def test_parse_error_is_an_action_error():
    # callers may catch the common base class
    assert issubclass(ParseError, ActionError)


def test_format_qwen3_exact_text():
    # the exact text Qwen3's chat template writes, non-ASCII kept as is
    call = ToolCall("echo", {"content": "café", "n": 1})
    assert format_qwen3_reply(call) == (
        '<tool_call>\n{"name": "echo", "arguments": {"content": "café", "n": 1}}\n</tool_call>'
    )
    assert format_qwen3_reply(Blocked("unsafe")) == "BLOCKED: unsafe"
    assert format_qwen3_reply(Answer("Done.")) == "Done."


def test_format_qwen3_refuses_other_types():
    # a dict is not an action
    with pytest.raises(TypeError, match="expected a ToolCall, Answer or Blocked, got dict"):
        format_qwen3_reply({"name": "ls"})  # type: ignore[arg-type]


# ---------------------------------------------------------------- OpenAI tool_calls


def test_openai_dicts():
    # the dict form a server returns
    tool_calls = [
        {"type": "function", "function": {"name": "cd", "arguments": '{"folder": "x"}'}},
        {"id": "c2", "type": "function", "function": {"name": "ls", "arguments": "{}"}},
    ]
    expected = [ToolCall("cd", {"folder": "x"}), ToolCall("ls", {})]
    assert parse_openai_tool_calls(tool_calls) == expected


def test_openai_client_objects():
    # the openai client's own objects
    item = ChatCompletionMessageFunctionToolCall(
        id="c1", type="function", function={"name": "ls", "arguments": '{"a": true}'}
    )
    assert parse_openai_tool_calls([item]) == [ToolCall("ls", {"a": True})]


def test_openai_json_text_and_none():
    # the JSON text of the list; None means no calls
    text = '[{"type": "function", "function": {"name": "pwd", "arguments": ""}}]'
    assert parse_openai_tool_calls(text) == [ToolCall("pwd", {})]
    assert parse_openai_tool_calls(None) == []


def test_openai_arguments_already_an_object():
    # arguments given as an object instead of its JSON text
    tool_calls = [{"function": {"name": "cat", "arguments": {"file_name": "a"}}}]
    assert parse_openai_tool_calls(tool_calls) == [ToolCall("cat", {"file_name": "a"})]


@pytest.mark.parametrize(
    ("tool_calls", "message"),
    [
        ({"function": {}}, "tool_calls must be a list, got dict"),
        ("not json", "tool_calls text is not JSON"),
        (["ls"], r"tool_calls\[0\] needs a 'function'"),
        ([{"type": "custom", "custom": {}}], "only 'function' calls are allowed"),
        ([{"function": {"name": "os.system", "arguments": "{}"}}], "tool name 'os.system'"),
        ([{"function": {"name": "ls", "arguments": "[1]"}}], "must be a JSON object, got a list"),
        ([{"function": {"arguments": "{}"}}], "needs a string 'name', got null"),
    ],
)
def test_openai_malformed(tool_calls, message):
    # not a list, not JSON, no function, custom tool, bad name, list arguments, no name
    with pytest.raises(ParseError, match=message):
        parse_openai_tool_calls(tool_calls)


def test_format_openai_exact():
    # ids call_0, call_1 and arguments as JSON text
    calls = [ToolCall("cd", {"folder": "é"}), ToolCall("ls", {})]
    assert format_openai_tool_calls(calls) == [
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "cd", "arguments": '{"folder": "é"}'},
        },
        {"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{}"}},
    ]


# ---------------------------------------------------------------- BFCL python calls


def test_python_positional_vs_keyword_spelling():
    # positional arguments keep their position as "$i"
    assert parse_python_calls("sort('x', reverse=True)") == [
        ToolCall("sort", {"$0": "x", "reverse": True})
    ]


def test_python_list_of_calls():
    # the BFCL list form
    assert parse_python_calls("[cd(folder='a'), ls()]") == [
        ToolCall("cd", {"folder": "a"}),
        ToolCall("ls", {}),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('id')", "must be a plain identifier"),
        ("mv(source=open('/etc/passwd').read())", "is not a literal value"),
        ("mv(source=cat('a.txt'))", "is not a literal value"),
        ("__import__('os')", "private or dunder name"),
        ("ls(*args)", r"\*args is not allowed"),
        ("ls(**kw)", r"\*\*kwargs is not allowed"),
        ("ls(a=1, a=2)", "argument 'a' given twice in ls"),
        ("ls(", "not valid python call syntax"),
        ("x = 1", "not valid python call syntax"),
        ("42", "expected a function call, got Constant"),
        ("", "empty call text"),
    ],
)
def test_python_hostile_and_malformed(text, message):
    # attribute call, non-literal argument, nested call, dunder, star args, repeats, syntax
    with pytest.raises(ParseError, match=message):
        parse_python_calls(text)


def test_python_one_megabyte_argument():
    # a 1 MB argument is refused before parsing
    with pytest.raises(ParseError, match=f"limit is {MAX_CALL_TEXT}"):
        parse_python_calls("echo(content='" + "x" * 1_000_000 + "')")


def test_python_nesting_too_deep():
    # 25 nested lists
    with pytest.raises(ParseError, match="nested more than 20 levels"):
        parse_python_calls("f(a=" + "[" * 25 + "]" * 25 + ")")


def test_python_call_exactly_one():
    # parse_python_call wants one call
    with pytest.raises(ParseError, match="expected exactly one call, got 2"):
        parse_python_call("[ls(), pwd()]")


def test_format_python_call_exact():
    # positional first, then keywords, repr literals
    call = ToolCall("sort", {"reverse": True, "$0": "x"})
    assert format_python_call(call) == "sort('x', reverse=True)"


# ---------------------------------------------------------------- round trips (hypothesis)

_identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name)
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**18), max_value=10**18)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)


def _containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


_values = st.recursive(_scalars, _containers, max_leaves=12)
_calls = st.builds(ToolCall, _identifiers, st.dictionaries(_identifiers, _values, max_size=5))


@settings(max_examples=150, deadline=None)
@given(st.lists(_calls, min_size=1, max_size=3))
def test_qwen3_round_trip(calls):
    # format -> parse gives the same calls, several per message joined by newlines
    reply = "\n".join(format_qwen3_reply(call) for call in calls)
    assert parse_qwen3_reply(reply) == calls


@settings(max_examples=150, deadline=None)
@given(_calls)
def test_python_call_round_trip(call):
    # format -> parse gives the same call
    assert parse_python_calls(format_python_call(call)) == [call]


@settings(max_examples=150, deadline=None)
@given(st.lists(_calls, max_size=3))
def test_openai_round_trip(calls):
    # format -> parse, as dicts and as JSON text
    formatted = format_openai_tool_calls(calls)
    assert parse_openai_tool_calls(formatted) == calls
    assert parse_openai_tool_calls(json.dumps(formatted)) == calls


_plain_text = st.text(min_size=1, max_size=60).map(str.strip).filter(
    lambda text: text
    and not text.upper().startswith("BLOCKED:")
    and "<tool_call>" not in text
    and "</tool_call>" not in text
    and "think>" not in text
)


@settings(max_examples=100, deadline=None)
@given(_plain_text)
def test_answer_and_blocked_round_trip(text):
    # stripped text round-trips as an answer and as a refusal reason
    assert parse_qwen3_reply(format_qwen3_reply(Answer(text))) == [Answer(text)]
    assert parse_qwen3_reply(format_qwen3_reply(Blocked(text))) == [Blocked(text)]
