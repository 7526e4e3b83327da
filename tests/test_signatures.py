"""Tests of spectool_app.signatures: binding, validation and equivalence against tiny schemas."""

from __future__ import annotations

import pytest

from spectool_app.actions import ActionError, Answer, Blocked, ToolCall
from spectool_app.parsing import parse_python_call, parse_qwen3_reply
from spectool_app.signatures import (
    MAX_ARGUMENT_STRING,
    SignatureError,
    bind_arguments,
    equivalent,
    validate_call,
)


def _tool(name: str, properties: dict, required: list[str]) -> dict:
    parameters = {"type": "object", "properties": properties, "required": required}
    function = {"name": name, "description": name, "parameters": parameters}
    return {"type": "function", "function": function}


MV = _tool(
    "mv",
    {"source": {"type": "string"}, "destination": {"type": "string"}},
    ["source", "destination"],
)
LS = _tool("ls", {"a": {"type": "boolean", "default": False}}, [])
ECHO = _tool(
    "echo",
    {"content": {"type": "string"}, "file_name": {"type": "string", "default": "None"}},
    ["content"],
)
ORDER = _tool(
    "place_order",
    {
        "symbol": {"type": "string"},
        "amount": {"type": "integer"},
        "price": {"type": "float"},  # BFCL's spelling of number
        "tags": {"type": "array", "items": {"type": "string"}, "default": []},
        "options": {"type": "dict", "properties": {"limit": {"type": "boolean"}}},
        "side": {"type": "string", "enum": ["buy", "sell"], "default": "buy"},
    },
    ["symbol", "amount", "price"],
)
TOOLS = [MV, LS, ECHO, ORDER]


def _order(**overrides) -> ToolCall:
    arguments = {"symbol": "AAPL", "amount": 3, "price": 10.5}
    arguments.update(overrides)
    return ToolCall("place_order", arguments)


# ---------------------------------------------------------------- bind_arguments


def test_bind_positional_to_names():
    # positional vs keyword spelling: "$i" keys take the names in properties order
    call = parse_python_call("mv('a.txt', 'b')")
    assert bind_arguments(call, MV) == ToolCall("mv", {"source": "a.txt", "destination": "b"})


def test_bind_mixed_positional_and_keyword():
    # one positional, one keyword
    call = ToolCall("mv", {"$0": "a.txt", "destination": "b"})
    assert bind_arguments(call, MV).arguments == {"source": "a.txt", "destination": "b"}


def test_bind_fills_absent_defaults():
    # defaults filled: absent optional parameters get the schema's default
    assert bind_arguments(ToolCall("ls", {}), LS) == ToolCall("ls", {"a": False})


def test_bind_keeps_given_value_over_default():
    # a given value wins over the default
    assert bind_arguments(ToolCall("ls", {"a": True}), LS) == ToolCall("ls", {"a": True})


def test_bind_bfcl_none_default_is_null():
    # BFCL writes a Python None default as the string "None"
    bound = bind_arguments(ToolCall("echo", {"content": "hi"}), ECHO)
    assert bound.arguments == {"content": "hi", "file_name": None}


def test_bind_default_is_a_copy():
    # filling a list default does not share the schema's list
    bound = bind_arguments(_order(), ORDER)
    bound.arguments["tags"].append("x")
    assert ORDER["function"]["parameters"]["properties"]["tags"]["default"] == []


def test_bind_bare_bfcl_schema():
    # a schema without the {"type": "function"} wrapper
    bare = {"name": "mv", "parameters": MV["function"]["parameters"]}
    assert bind_arguments(ToolCall("mv", {"$0": "a", "$1": "b"}), bare).arguments == {
        "source": "a",
        "destination": "b",
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            ToolCall("mv", {"$0": "a", "$1": "b", "$2": "c"}),
            r"mv takes 2 parameter\(s\) \(source, destination\); got a positional argument #2",
        ),
        (
            ToolCall("mv", {"$0": "a", "source": "b"}),
            "argument 'source' given both by position and by name",
        ),
        (ToolCall("mv", {"$x": "a"}), r"argument name '\$x' is not allowed"),
        (ToolCall("cp", {}), "call of 'cp' cannot be bound to the schema of 'mv'"),
    ],
)
def test_bind_errors(call, message):
    # too many positional, position and name together, malformed $ key, wrong schema
    with pytest.raises(SignatureError, match=message):
        bind_arguments(call, MV)


def test_bind_malformed_schema():
    # a schema without a function name
    with pytest.raises(SignatureError, match="a tool schema needs"):
        bind_arguments(ToolCall("mv", {}), {"type": "function", "function": {}})


def test_signature_error_is_an_action_error():
    # callers may catch the common base class
    assert issubclass(SignatureError, ActionError)


# ---------------------------------------------------------------- validate_call


def test_validate_returns_bound_call():
    # positional arguments named, defaults filled
    call = ToolCall("place_order", {"$0": "AAPL", "$1": 3, "$2": 10})
    assert validate_call(call, TOOLS) == ToolCall(
        "place_order", {"symbol": "AAPL", "amount": 3, "price": 10, "tags": [], "side": "buy"}
    )


def test_validate_unknown_tool_names_known_ones():
    # unknown tool: the message lists the known tools
    expected = "unknown tool 'rm'; known tools: mv, ls, echo, place_order$"
    with pytest.raises(SignatureError, match=expected):
        validate_call(ToolCall("rm", {}), TOOLS)


def test_validate_unknown_tool_lists_first_twenty():
    # more than 20 tools: the first 20 and a count of the rest
    tools = [_tool(f"t{i}", {}, []) for i in range(25)]
    expected = "known tools: " + ", ".join(f"t{i}" for i in range(20)) + r" \(and 5 more\)"
    with pytest.raises(SignatureError, match=expected):
        validate_call(ToolCall("rm", {}), tools)


def test_validate_unknown_argument_names_allowed_ones():
    # unknown argument name
    expected = "mv has no argument 'dest'; allowed arguments: source, destination"
    with pytest.raises(SignatureError, match=expected):
        validate_call(ToolCall("mv", {"source": "a", "dest": "b"}), TOOLS)


def test_validate_missing_required():
    # missing required arguments are all named
    expected = r"place_order is missing required argument\(s\): amount, price"
    with pytest.raises(SignatureError, match=expected):
        validate_call(ToolCall("place_order", {"symbol": "AAPL"}), TOOLS)


def test_validate_truncated_reply_reports_missing_argument():
    # a truncated Qwen3 reply parses, then fails the signature check
    [call] = parse_qwen3_reply('<tool_call>{"name": "mv", "arguments": {"source": "a", "dest')
    with pytest.raises(SignatureError, match="mv is missing required argument\\(s\\): destination"):
        validate_call(call, TOOLS)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"symbol": 5}, "'symbol' must be string, got integer 5"),
        ({"amount": "3"}, "'amount' must be integer, got string '3'"),
        ({"amount": True}, "'amount' must be integer, got boolean True"),
        ({"amount": 2.5}, "'amount' must be integer, got number 2.5"),
        ({"price": False}, "'price' must be number, got boolean False"),
        ({"price": "10"}, "'price' must be number, got string '10'"),
        ({"tags": "tech"}, "'tags' must be array, got string 'tech'"),
        ({"tags": ["tech", 7]}, r"'tags'\[1\] must be string, got integer 7"),
        ({"options": ["limit"]}, "'options' must be object, got array"),
        ({"options": {"limit": "yes"}}, r"'options'\['limit'\] must be boolean, got string 'yes'"),
        ({"side": "short"}, r"'side' must be one of \['buy', 'sell'\], got 'short'"),
        ({"symbol": None}, "'symbol' must be string, got null None"),
    ],
)
def test_validate_wrong_types(overrides, message):
    # wrong JSON types, bool is not an integer or number, item and nested types, enum, null
    with pytest.raises(SignatureError, match=message):
        validate_call(_order(**overrides), TOOLS)


def test_validate_int_is_a_number():
    # an int where a number is expected is fine
    assert validate_call(_order(price=10), TOOLS).arguments["price"] == 10


def test_validate_null_for_none_default():
    # None is accepted where the default is None
    call = ToolCall("echo", {"content": "hi", "file_name": None})
    assert validate_call(call, TOOLS).arguments == {"content": "hi", "file_name": None}


def test_validate_string_size_limit():
    # an argument string at the limit passes; one character more is refused
    at_limit = ToolCall("echo", {"content": "x" * MAX_ARGUMENT_STRING})
    assert validate_call(at_limit, TOOLS).arguments["content"] == "x" * MAX_ARGUMENT_STRING
    with pytest.raises(SignatureError, match="'content' is 100001 characters; the limit is 100000"):
        validate_call(ToolCall("echo", {"content": "x" * (MAX_ARGUMENT_STRING + 1)}), TOOLS)


def test_validate_one_megabyte_string_inside_a_list():
    # an oversize string nested in a list argument
    with pytest.raises(SignatureError, match=r"'tags'\[0\] is 1000000 characters"):
        validate_call(_order(tags=["x" * 1_000_000]), TOOLS)


# ---------------------------------------------------------------- equivalent


def test_equivalent_positional_vs_keyword():
    # positional vs keyword spelling of the same call
    a = parse_python_call("mv('a.txt', 'b')")
    b = parse_python_call("mv(destination='b', source='a.txt')")
    assert equivalent(a, b, TOOLS) is True


def test_equivalent_default_given_or_omitted():
    # a default written out equals the default left out
    assert equivalent(ToolCall("ls", {}), ToolCall("ls", {"a": False}), TOOLS) is True
    assert equivalent(ToolCall("ls", {}), ToolCall("ls", {"a": True}), TOOLS) is False


def test_equivalent_numbers_by_value():
    # 10 == 10.0, but True is not 1
    assert equivalent(_order(price=10), _order(price=10.0), TOOLS) is True
    assert equivalent(_order(options={"limit": True}), _order(options={"limit": 1}), TOOLS) is False


def test_equivalent_wrong_value_or_name():
    # wrong argument value, wrong function
    assert equivalent(_order(symbol="AAPL"), _order(symbol="aapl"), TOOLS) is False
    assert equivalent(ToolCall("ls", {}), ToolCall("pwd", {}), TOOLS) is False


def test_equivalent_list_order_matters():
    # lists are ordered values
    assert equivalent(_order(tags=["a", "b"]), _order(tags=["b", "a"]), TOOLS) is False


def test_equivalent_unknown_tool_compared_as_written():
    # no schema: equal only when written the same
    assert equivalent(ToolCall("rm", {"$0": "a"}), ToolCall("rm", {"$0": "a"}), TOOLS) is True
    by_name = ToolCall("rm", {"file_name": "a"})
    assert equivalent(ToolCall("rm", {"$0": "a"}), by_name, TOOLS) is False


def test_equivalent_unbindable_call_compared_as_written():
    # too many positional arguments cannot bind; it differs from the bound spelling
    a = ToolCall("mv", {"$0": "a", "$1": "b", "$2": "c"})
    assert equivalent(a, ToolCall("mv", {"source": "a", "destination": "b"}), TOOLS) is False


def test_equivalent_answers_and_refusals():
    # Answer~Answer regardless of text, Blocked~Blocked regardless of reason, kinds never mix
    assert equivalent(Answer("Done."), Answer(""), TOOLS) is True
    assert equivalent(Blocked("unsafe"), Blocked("risky"), TOOLS) is True
    assert equivalent(Answer("x"), Blocked("x"), TOOLS) is False
    assert equivalent(ToolCall("ls", {}), Answer("ls"), TOOLS) is False
    assert equivalent(Blocked(""), ToolCall("ls", {}), TOOLS) is False
