"""Chat context built from a task and its history."""

from spectool_app.actions import Answer, Blocked, ToolCall
from spectool_app.context import StepRecord, build_messages, gold_steps, system_message
from spectool_app.tasks.bfcl import load_task


def test_first_step_shows_system_and_first_user_turn_only():
    task = load_task("bfcl:multi_turn_base_0")
    messages = build_messages(task, 0, [[]])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[1]["content"].startswith("Move 'final_report.pdf' within document directory")


def test_history_renders_tool_calls_results_answers_and_blocks():
    task = load_task("bfcl:multi_turn_base_0")
    history = [[StepRecord(ToolCall("cd", {"folder": "document"}), '{"current_working_directory": "document"}'),
                StepRecord(Answer("Moved."))],
               [StepRecord(Blocked("not allowed"))]]
    messages = build_messages(task, 1, history)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user", "assistant"]
    assert messages[2]["tool_calls"] == [{"type": "function", "function": {"name": "cd", "arguments": {"folder": "document"}}}]
    assert messages[3]["content"] == '{"current_working_directory": "document"}'
    assert messages[-1]["content"] == "BLOCKED: not allowed"


def test_long_tool_output_is_clipped_for_the_model():
    task = load_task("bfcl:multi_turn_base_0")
    history = [[StepRecord(ToolCall("cat", {"file_name": "a"}), "x" * 50)]]
    tool_message = build_messages(task, 0, history, max_tool_chars=10)[-1]
    assert tool_message["content"] == "x" * 10 + "... [40 more characters]"


def test_policy_is_part_of_the_system_turn():
    task = load_task("bfcl:multi_turn_base_0")
    task.policy = "Never delete files."
    assert system_message(task)["content"].endswith("\nPolicy: Never delete files.")


def test_gold_steps_replay_real_tool_outputs_in_order():
    task = load_task("bfcl:multi_turn_base_0")
    steps = list(gold_steps(task))
    assert len(steps) == task.steps
    # third step of turn 0 sees the results of cd and mkdir
    third = steps[2]
    assert (third.turn, third.index, third.gold) == (0, 2, ToolCall("mv", {"source": "final_report.pdf", "destination": "temp"}))
    assert [m["role"] for m in third.messages][-4:] == ["assistant", "tool", "assistant", "tool"]
    # the last step of a turn is its closing answer
    assert steps[3].gold == Answer("")
