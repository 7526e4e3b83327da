"""Back-end schemas and instances, and Episode execution, isolation and checking."""

from __future__ import annotations

import copy
import inspect
import subprocess
import sys

import pytest

from spectool_app import backends, envs
from spectool_app.actions import Answer, ToolCall
from spectool_app.backends import BackendError, new_instance, tool_class, tool_schemas
from spectool_app.envs import CheckResult, Episode, ToolResult, same_effect, stringify_result
from spectool_app.task import Task

FS_CONFIG = {
    "root": {
        "home": {
            "type": "directory",
            "contents": {
                "notes.txt": {"type": "file", "content": "b\na"},
                "docs": {"type": "directory", "contents": {}},
            },
        }
    }
}


def fs_task(gold: list[list] | None = None, turns: int = 2, **extra) -> Task:
    """A small file-system + math task written by hand (gold default: nothing to do)."""
    return Task(
        id="test:fs",
        source="synthetic",
        split="test",
        turns=[f"turn {i}" for i in range(turns)],
        involved_classes=["GorillaFileSystem", "MathAPI"],
        initial_config={"GorillaFileSystem": copy.deepcopy(FS_CONFIG)},
        gold=gold if gold is not None else [[Answer("")] for _ in range(turns)],
        **extra,
    )


def schema_of(class_name: str, tool: str) -> dict:
    return next(s for s in tool_schemas(class_name) if s["function"]["name"] == tool)


def walk_types(node: dict) -> list[str]:
    found = [node["type"]] if "type" in node else []
    for sub in node.get("properties", {}).values():
        found += walk_types(sub)
    if "items" in node:
        found += walk_types(node["items"])
    return found


# --- backends -----------------------------------------------------------------------


def test_backend_classes_are_the_eight_multi_turn_ones():
    # the agreed set, mapped to bfcl module paths
    assert sorted(backends.BACKEND_CLASSES) == [
        "GorillaFileSystem", "MathAPI", "MessageAPI", "TicketAPI",
        "TradingBot", "TravelAPI", "TwitterAPI", "VehicleControlAPI",
    ]
    assert backends.BACKEND_CLASSES["TwitterAPI"].endswith(".posting_api")


def test_schema_conversion_of_an_array_of_floats():
    # float -> number inside items; OpenAI function form
    mean = schema_of("MathAPI", "mean")
    assert mean["type"] == "function"
    parameters = mean["function"]["parameters"]
    assert parameters["type"] == "object"
    assert parameters["required"] == ["numbers"]
    assert parameters["properties"]["numbers"]["type"] == "array"
    assert parameters["properties"]["numbers"]["items"] == {"type": "number"}
    assert parameters["properties"]["numbers"]["description"].startswith("List of numbers")
    assert "response" not in mean["function"]


def test_no_bfcl_type_spelling_survives():
    # dict / float / tuple / any never reach a schema, in all 8 classes
    for class_name in backends.BACKEND_CLASSES:
        for schema in tool_schemas(class_name):
            types = walk_types(schema["function"]["parameters"])
            assert not set(types) & {"dict", "float", "tuple", "any"}, schema["function"]["name"]


def test_defaults_follow_the_python_method():
    # bfcl writes None as "None"; other defaults kept; nested object kept
    find = schema_of("GorillaFileSystem", "find")
    assert find["function"]["parameters"]["properties"]["name"]["default"] is None
    assert find["function"]["parameters"]["properties"]["path"]["default"] == "."
    edit = schema_of("TicketAPI", "edit_ticket")
    updates = edit["function"]["parameters"]["properties"]["updates"]
    assert updates["type"] == "object"
    assert list(updates["properties"]) == ["title", "description", "status", "priority"]


def test_property_order_is_the_positional_order():
    # purchase_insurance: the doc lists insurance_cost before booking_id, Python does not
    schema = schema_of("TravelAPI", "purchase_insurance")
    assert list(schema["function"]["parameters"]["properties"]) == [
        "access_token", "insurance_type", "booking_id", "insurance_cost", "card_id",
    ]


def test_tool_schemas_returns_a_fresh_copy():
    # a caller editing its copy does not change the next one
    first = tool_schemas("MathAPI")
    first[0]["function"]["name"] = "changed"
    assert tool_schemas("MathAPI")[0]["function"]["name"] != "changed"


def test_tool_class():
    # owner found in the given classes; unknown names say which classes were searched
    assert tool_class("ls", ["MathAPI", "GorillaFileSystem"]) == "GorillaFileSystem"
    assert tool_class("mean", ["MathAPI", "GorillaFileSystem"]) == "MathAPI"
    with pytest.raises(BackendError, match="no tool 'fly' in the back-ends MathAPI"):
        tool_class("fly", ["MathAPI"])
    with pytest.raises(BackendError, match="allowed: GorillaFileSystem"):
        tool_class("ls", ["Nope"])


def test_new_instance_is_isolated_from_its_config():
    # the config is deep-copied: running the instance never edits it
    config = copy.deepcopy(FS_CONFIG)
    instance = new_instance("GorillaFileSystem", config)
    instance.touch(file_name="new.txt")
    assert config == FS_CONFIG
    assert "new.txt" not in new_instance("GorillaFileSystem", config).root.contents


def test_new_instance_unknown_class():
    # the message names the allowed classes
    with pytest.raises(BackendError, match="unknown back-end class 'Shell'; allowed: .*TravelAPI"):
        new_instance("Shell", {})


def test_long_context_instance_shares_nothing_with_module_data():
    # bfcl pads long-context travel state with module-level cards; editing one stays local
    from bfcl_eval.eval_checker.multi_turn_eval.func_source_code import long_context

    before = copy.deepcopy(long_context.CREDIT_CARD_EXTENSION)
    instance = new_instance("TravelAPI", {}, long_context=True)
    card = next(iter(long_context.CREDIT_CARD_EXTENSION))
    instance.credit_card_list[card]["balance"] = -1
    assert long_context.CREDIT_CARD_EXTENSION == before


# --- execution ----------------------------------------------------------------------


def test_execute_binds_and_runs():
    # positional argument bound to its name, default filled, dict result as JSON
    episode = Episode(fs_task())
    result = episode.execute(ToolCall("cat", {"$0": "notes.txt"}))
    bound = ToolCall("cat", {"file_name": "notes.txt"})
    assert result == ToolResult(bound, True, '{"file_content": "b\\na"}', None)
    assert episode.execute(ToolCall("ls", {})).call == ToolCall("ls", {"a": False})


def test_unknown_tool_is_an_error_result():
    # not a tool of this task
    result = Episode(fs_task()).execute(ToolCall("post_tweet", {"content": "hi"}))
    assert result.ok is False
    assert "unknown tool 'post_tweet'" in result.error
    assert result.content.startswith("Error during execution: unknown tool 'post_tweet'")


def test_bad_arguments_are_error_results():
    # wrong type, unknown argument, missing required argument
    episode = Episode(fs_task())
    wrong_type = episode.execute(ToolCall("tail", {"file_name": "notes.txt", "lines": "two"}))
    unknown = episode.execute(ToolCall("cat", {"file_name": "notes.txt", "mode": "x"}))
    missing = episode.execute(ToolCall("cat", {}))
    assert [wrong_type.ok, unknown.ok, missing.ok] == [False, False, False]
    assert "'lines' must be integer" in wrong_type.error
    assert "no argument 'mode'" in unknown.error
    assert "missing required argument(s): file_name" in missing.error


def test_raising_method_is_an_error_result():
    # echo into a directory makes the back-end raise AttributeError
    result = Episode(fs_task()).execute(ToolCall("echo", {"content": "x", "file_name": "docs"}))
    assert result.ok is False
    assert result.error == "AttributeError: 'Directory' object has no attribute '_write'"
    assert result.content == "Error during execution: 'Directory' object has no attribute '_write'"


def test_error_dict_is_not_ok():
    # a back-end's {"error": ...} answer
    result = Episode(fs_task()).execute(ToolCall("cat", {"file_name": "missing.txt"}))
    assert result.ok is False
    assert result.error == "cat: 'missing.txt': No such file or directory"
    assert result.content == '{"error": "cat: \'missing.txt\': No such file or directory"}'


@pytest.mark.parametrize(
    "name",
    ["__init__", "_load_scenario", "__class__", "_api_description", "__getattribute__",
     "_current_dir"],
)
def test_hostile_names_cannot_run(name):
    # private and dunder attributes are never reached
    episode = Episode(fs_task())
    before = episode.state()
    result = episode.execute(ToolCall(name, {"scenario": {}}))
    assert result.ok is False
    assert episode.state() == before


def test_hostile_names_refused_even_without_validation(monkeypatch):
    # second guard: the executor itself only calls documented public tools
    monkeypatch.setattr(envs, "validate_call", lambda call, tools: call)
    episode = Episode(fs_task())
    for name in ["_load_scenario", "__init__", "long_context"]:
        result = episode.execute(ToolCall(name, {}))
        assert (result.ok, result.error) == (False, f"no tool {name!r} in this episode")


def test_execute_rejects_non_calls():
    # an Answer is not executed; that is the caller's bug, not a bad call
    with pytest.raises(TypeError, match="takes a ToolCall, got Answer"):
        Episode(fs_task()).execute(Answer("hi"))


def test_stringify_like_bfcl():
    # str as is, dict -> JSON (str() when not serializable), other -> str()
    assert stringify_result("x") == "x"
    assert stringify_result({"a": [1]}) == '{"a": [1]}'
    assert stringify_result({"a": {1, 2}}) == "{'a': {1, 2}}"
    assert stringify_result([1, "a"]) == "[1, 'a']"
    assert stringify_result(None) == "None"


def test_mutable_python_defaults_stay_untouched():
    # post_tweet stores its mentions list and mention() extends it: never the shared default
    from bfcl_eval.eval_checker.multi_turn_eval.func_source_code.posting_api import TwitterAPI

    task = Task(
        id="test:tw", source="synthetic", split="test", turns=["t"],
        involved_classes=["TwitterAPI"],
        initial_config={"TwitterAPI": {"username": "u", "password": "p"}}, gold=[[Answer("")]],
    )
    episode = Episode(task)
    episode.execute(ToolCall("authenticate_twitter", {"username": "u", "password": "p"}))
    posted = episode.execute(ToolCall("post_tweet", {"content": "hello"}))
    tweet_id = int(posted.content.split('"id": ')[1].split(",")[0])
    mention = ToolCall("mention", {"tweet_id": tweet_id, "mentioned_usernames": ["@x"]})
    assert episode.execute(mention).ok
    assert inspect.signature(TwitterAPI.post_tweet).parameters["mentions"].default == []
    assert posted.call.arguments["mentions"] == []  # the logged call was not edited either


# --- turns, tools, forks ------------------------------------------------------------


def test_tools_hide_excluded_and_not_yet_offered():
    # cp excluded always; sort offered from turn 1 on
    episode = Episode(fs_task(excluded_tools=["cp"], held_out_tools={1: ["sort"]}))
    names0 = [s["function"]["name"] for s in episode.tools()]
    names1 = [s["function"]["name"] for s in episode.tools(1)]
    assert "cp" not in names0 and "cp" not in names1
    assert "sort" not in names0 and "sort" in names1
    assert "mean" in names0  # the second class's tools follow the first's
    assert episode.execute(ToolCall("sort", {"file_name": "notes.txt"})).ok is False
    episode.begin_turn(1)
    assert episode.execute(ToolCall("sort", {"file_name": "notes.txt"})).ok is True


def test_begin_turn_moves_forward_only():
    # same turn again is fine; earlier or out-of-range turns are refused
    episode = Episode(fs_task(turns=2))
    episode.begin_turn(0)
    episode.begin_turn(1)
    assert episode.turn == 1
    with pytest.raises(ValueError, match="turns only move forward: at turn 1, asked for 0"):
        episode.begin_turn(0)
    with pytest.raises(ValueError, match=r"turn 2 is out of range; this task has turns 0..1"):
        episode.begin_turn(2)


def test_fork_is_independent():
    # changes on either side after the fork stay on that side; logs too
    episode = Episode(fs_task())
    episode.execute(ToolCall("touch", {"file_name": "a.txt"}))
    fork = episode.fork()
    fork.execute(ToolCall("touch", {"file_name": "b.txt"}))
    episode.execute(ToolCall("rm", {"file_name": "notes.txt"}))
    files = lambda ep: sorted(ep.state()["GorillaFileSystem"]["root"].contents)  # noqa: E731
    assert files(episode) == ["a.txt", "docs"]
    assert files(fork) == ["a.txt", "b.txt", "docs", "notes.txt"]
    assert [r.call.name for r in episode.results()] == ["touch", "rm"]
    assert [r.call.name for r in fork.results()] == ["touch", "touch"]


def test_state_is_a_copy():
    # editing what state() returned does not edit the episode
    episode = Episode(fs_task())
    state = episode.state()
    state["GorillaFileSystem"]["root"].contents.clear()
    assert "notes.txt" in episode.state()["GorillaFileSystem"]["root"].contents
    assert episode.state()["MathAPI"] == {}


def test_same_effect():
    # positional vs keyword spelling; different targets; the episode is left as it was
    episode = Episode(fs_task())
    before = episode.state()
    touch_x, touch_y = ToolCall("touch", {"file_name": "x"}), ToolCall("touch", {"file_name": "y"})
    assert same_effect(episode, ToolCall("touch", {"$0": "x"}), touch_x)
    assert not same_effect(episode, touch_x, touch_y)
    assert not same_effect(episode, ToolCall("cat", {"file_name": "notes.txt"}), ToolCall("ls", {}))
    assert episode.state() == before and episode.results() == []


# --- check --------------------------------------------------------------------------


def run(task: Task, per_turn: list[list[ToolCall]]) -> Episode:
    episode = Episode(task)
    for turn, calls in enumerate(per_turn):
        episode.begin_turn(turn)
        for call in calls:
            episode.execute(call)
    return episode


MKDIR = ToolCall("mkdir", {"dir_name": "new"})


def test_check_passes_for_gold():
    # the gold calls, keyword or positional
    task = fs_task(gold=[[MKDIR, Answer("")], [Answer("")]])
    positional = ToolCall("mkdir", {"$0": "new"})
    assert run(task, [[positional], []]).check() == CheckResult(True, None, "", "")


def test_check_state_mismatch():
    # another directory name: the public state differs
    task = fs_task(gold=[[MKDIR, Answer("")], [Answer("")]])
    result = run(task, [[ToolCall("mkdir", {"dir_name": "old"})], []]).check()
    assert (result.passed, result.turn) == (False, 0)
    assert result.error_type == "multi_turn:instance_state_mismatch"


def test_check_missing_result_string():
    # the state is right but the gold's cat output never reached the agent
    cat = ToolCall("cat", {"file_name": "notes.txt"})
    task = fs_task(gold=[[cat, Answer("")], [Answer("")]])
    result = run(task, [[ToolCall("ls", {})], []]).check()
    assert (result.turn, result.error_type) == (0, "multi_turn:execution_response_mismatch")
    # extra read-only calls are fine
    assert run(task, [[ToolCall("ls", {}), cat], []]).check().passed


def test_check_empty_turn():
    # a turn with gold calls where the agent called nothing
    task = fs_task(gold=[[Answer("")], [MKDIR, Answer("")]])
    result = run(task, [[], []]).check()
    assert (result.turn, result.error_type) == (1, "multi_turn:empty_turn_model_response")


def test_check_irrelevance():
    # a turn without gold calls where the agent called a tool (even a harmless one)
    task = fs_task(gold=[[Answer("")], [MKDIR, Answer("")]])
    result = run(task, [[ToolCall("ls", {})], [MKDIR]]).check()
    assert (result.passed, result.turn) == (False, 0)
    assert result.error_type == "multi_turn:irrelevance_error:decoder_success"


def test_check_state_of_each_turn():
    # doing turn 0's work in turn 1 fails turn 0 although the end state is right
    task = fs_task(gold=[[MKDIR, Answer("")], [ToolCall("ls", {}), Answer("")]])
    result = run(task, [[ToolCall("ls", {})], [MKDIR, ToolCall("ls", {})]]).check()
    assert (result.turn, result.error_type) == (0, "multi_turn:instance_state_mismatch")


def test_check_on_a_fork_and_twice():
    # check() changes nothing: the same verdict twice, on the episode and its fork
    task = fs_task(gold=[[MKDIR, Answer("")], [Answer("")]])
    episode = run(task, [[MKDIR], []])
    assert episode.check().passed and episode.check().passed and episode.fork().check().passed


def test_importing_envs_stays_light():
    # no model SDKs, and bfcl_eval.utils (which writes into site-packages) is never imported
    code = (
        "import sys; from spectool_app.envs import Episode;"
        "from spectool_app.tasks.bfcl import load_task;"
        "e = Episode(load_task('bfcl:multi_turn_base_0')); e.check();"
        "print(sorted(m for m in ('bfcl_eval.utils', 'bfcl_eval.constants.model_config', 'openai',"
        " 'anthropic', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
