"""Run exports: JSON Lines (one object per step) and OpenTelemetry GenAI spans (OTLP/JSON)."""

from __future__ import annotations

import json
import re

import pytest

from db.engine import open_store
from spectool_app.cli import main
from spectool_app.export import export_run, otel_document
from spectool_app.runner import RunRequest, stream_run
from spectool_app.tasks.bfcl import load_task
from tests.test_loop import GoldModel

TASK_ID = "bfcl:multi_turn_base_0"  # 14 steps, 10 of them tool calls
STEPS, TOOL_CALLS = 14, 10


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('export') / 'runs.db'}"
    engine = open_store(url)
    task = load_task(TASK_ID)
    models = {"drafter": GoldModel(task, "drafter", wrong_at={(0, 1)}), "target": GoldModel(task, "target")}
    request = RunRequest(mode="speculative", verifier="exact_match", task_ids=(TASK_ID,))
    run_id = list(stream_run(request, engine, models=models))[0][0]
    yield url, engine, run_id
    engine.dispose()


def test_jsonl_has_one_object_per_step_with_its_rows(store):
    _, engine, run_id = store
    rows = [json.loads(line) for line in "".join(export_run(engine, run_id, "jsonl")).splitlines()]
    assert len(rows) == STEPS
    first = rows[0]
    assert (first["task_id"], first["turn"], first["step"], first["source"]) == (TASK_ID, 0, 0, "draft")
    assert first["action"] == {"kind": "tool_call", "name": "cd", "arguments": {"folder": "document"}}
    # exact_match runs the target to judge: its generation is the step's one target row (purpose "verify")
    assert [len(first[k]) for k in ("drafts", "verdicts", "fallbacks", "policy_checks", "tool_executions")] == [
        1, 1, 1, 1, 1]
    assert first["fallbacks"][0]["purpose"] == "verify"
    assert first["tool_executions"][0]["ok"] is True
    # the wrong draft: rejected by exact_match, the target's mkdir ran instead
    wrong = rows[1]
    assert wrong["drafts"][0]["action"] == {"kind": "tool_call", "name": "ls", "arguments": {"a": True}}
    assert (wrong["verdicts"][0]["accepted"], wrong["source"], wrong["draft_correct"]) == (False, "target", False)
    # its action is reused on rejection: no second target call
    assert [(f["purpose"], f["action"]["name"]) for f in wrong["fallbacks"]] == [("verify", "mkdir")]
    assert set(wrong["timings_s"]) == {"draft", "verify", "fallback", "policy", "tool", "overhead", "total"}


def test_otel_spans_nest_run_episode_step_and_calls(store):
    _, engine, run_id = store
    document = otel_document(engine, run_id)
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    # run + episode + 14 steps + 14 drafts + 14 verdicts + 14 target calls (exact_match) + 10 tool executions
    assert len(spans) == 1 + 1 + STEPS + STEPS + STEPS + STEPS + TOOL_CALLS
    ids = {s["spanId"] for s in spans}
    assert len(ids) == len(spans)
    assert len({s["traceId"] for s in spans}) == 1 and re.fullmatch(r"[0-9a-f]{32}", spans[0]["traceId"])
    assert all(re.fullmatch(r"[0-9a-f]{16}", s["spanId"]) for s in spans)
    roots = [s for s in spans if not s["parentSpanId"]]
    assert [r["name"] for r in roots] == [f"spectool.run {run_id}"]
    assert all(s["parentSpanId"] in ids for s in spans if s["parentSpanId"])
    assert all(int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]) for s in spans)
    by_id = {s["spanId"]: s for s in spans}
    step = next(s for s in spans if s["name"] == "step 0.1")
    children = [s["name"] for s in spans if s["parentSpanId"] == step["spanId"]]
    assert children == ["chat drafter", "verify exact_match", "chat target", "execute_tool mkdir"]
    assert by_id[step["parentSpanId"]]["name"] == f"invoke_agent {TASK_ID}"


def attributes(span):
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_otel_attributes_follow_the_genai_conventions(store):
    _, engine, run_id = store
    spans = otel_document(engine, run_id)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    chat = attributes(next(s for s in spans if s["name"] == "chat drafter"))
    assert (chat["gen_ai.operation.name"], chat["gen_ai.request.model"]) == ("chat", "drafter")
    assert (chat["gen_ai.usage.output_tokens"], chat["spectool.role"]) == ("5", "drafter")  # OTLP: int64 as text
    tool = attributes(next(s for s in spans if s["name"] == "execute_tool cd"))
    assert (tool["gen_ai.operation.name"], tool["gen_ai.tool.name"]) == ("execute_tool", "cd")
    assert json.loads(tool["gen_ai.tool.call.arguments"]) == {"folder": "document"}
    verdict = attributes(next(s for s in spans if s["name"] == "verify exact_match"))
    assert (verdict["spectool.verifier.p_accept"], verdict["spectool.verifier.accepted"]) == (1.0, True)


def test_export_cli_writes_files_and_names_bad_formats(store, tmp_path, capsys):
    url, _, run_id = store
    out = tmp_path / "trace.json"
    assert main(["export", str(run_id), "--format", "otel", "--out", str(out), "--db", url]) == 0
    assert "resourceSpans" in json.loads(out.read_text())
    assert main(["export", str(run_id), "--db", url]) == 0  # jsonl on stdout
    assert len(capsys.readouterr().out.splitlines()) == STEPS
    # unknown format: one line naming the valid ones, exit 2
    assert main(["export", str(run_id), "--format", "xml", "--db", url]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: unknown export format 'xml'; valid formats: jsonl, otel"]
    # unknown run: exit 1
    assert main(["export", "999", "--db", url]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: unknown run 999; list runs with `python -m spectool_app runs list`"]
