"""Reading argument types, allowed values and required keys from a tool list."""

from models.tool_schema import Param, enum_options, tool_specs, type_name

TOOLS = [
    {"type": "function", "function": {"name": "place_order", "parameters": {
        "type": "object",
        "properties": {
            "order_type": {"type": "string", "description": "Type of the order (Buy/Sell)."},
            "price": {"type": "float", "description": "Price per share."},
            "amount": {"type": "integer"},
            "door": {"type": "array", "items": {"type": "string"},
                     "description": 'Doors. [Enum]: ["driver", "passenger"]'},
            "currency": {"type": "string", "description": "The currency. [Enum]: USD, EUR, JPY."},
            "mode": {"type": "string", "enum": ["on", "off"]},
            "tags": {"type": "list", "items": {"type": "string", "enum": ["a", "b"]}},
            "extra": {"type": ["string", "null"]},
        },
        "required": ["order_type", "price", "not_a_parameter"],
    }}},
    {"name": "pwd", "parameters": {}},  # a bare function dict without parameters
    {"type": "function", "function": {"parameters": {}}},  # no name: skipped
]


def test_types_are_normalised_and_unknown_ones_are_none():
    assert [type_name(t) for t in ("float", "dict", "list", "bool", "str", "int")] == [
        "number", "object", "array", "boolean", "string", "integer"]
    assert type_name(["string", "null"]) is None and type_name("anything") is None and type_name(None) is None


def test_enum_notes_in_both_of_bfcls_forms():
    assert enum_options('The mode. [Enum]: ["engage", "release"]') == ("engage", "release")
    assert enum_options("The base currency. [Enum]: USD, RMB, EUR") == ("USD", "RMB", "EUR")
    assert enum_options("No options here") == () and enum_options("[Enum]: [broken") == ()


def test_tool_specs_read_types_options_and_required_keys():
    specs = tool_specs(TOOLS)
    assert set(specs) == {"place_order", "pwd"} and specs["pwd"].params == {}
    order = specs["place_order"]
    assert order.required == ("order_type", "price")  # a required name that is no parameter is dropped
    assert list(order.params) == ["order_type", "price", "amount", "door", "currency", "mode", "tags", "extra"]
    assert order.params["price"] == Param("number", None, (), "Price per share.")
    assert order.params["door"].type == "array" and order.params["door"].item_type == "string"
    assert order.params["door"].options == ("driver", "passenger")
    assert order.params["currency"].options == ("USD", "EUR", "JPY")
    assert order.params["mode"].options == ("on", "off")
    assert order.params["tags"].options == ("a", "b") and order.params["tags"].type == "array"
    assert order.params["extra"].type is None
