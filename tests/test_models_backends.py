"""ChatModel back-ends on tiny CPU models and a stub OpenAI server; presets without checkpoints."""

from __future__ import annotations

import random
import socket

import pytest
import torch

from models import presets
from models.base import BackendError, ChatModel, ModelUnavailableError, Proposal, format_reply, propose_unrefused
from models.no_refusal import NoRefusalProcessor, refusal_starts
from models.openai_chat import OpenAIChatModel, to_openai_messages
from models.tokenizer import train_tokenizer
from models.transformers_chat import TransformersChatModel
from spectool_app.actions import Answer, Blocked, ToolCall
from tests.openai_stub_server import Canned, StubServer, completion, model_reply, tool_call

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "book_flight",
            "description": "Book a flight.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
CITIES = ["Paris", "Rome", "Oslo", "Lima"]


def ask(city: str) -> list[dict]:
    return [{"role": "user", "content": f"Book a flight to {city} please"}]


def tiny_qwen3(tokenizer, hidden: int = 64, init: float = 0.02, seed: int = 0):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=hidden // 4, max_position_embeddings=1024,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=True,
        initializer_range=init, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    return Qwen3ForCausalLM(config).eval()


@pytest.fixture(scope="module")
def tokenizer():
    rng = random.Random(0)
    texts = [f"Book a flight to {rng.choice(CITIES)} please, {rng.randint(1, 99)} seats" for _ in range(300)]
    texts += [format_reply(ToolCall("book_flight", {"city": c})) for c in CITIES]
    return train_tokenizer(texts, vocab_size=700)


@pytest.fixture(scope="module")
def random_model(tokenizer):
    # a wide init makes greedy outputs vary, so batch/one-by-one differences would show
    return TransformersChatModel.from_model(tiny_qwen3(tokenizer, init=0.3), tokenizer, max_new_tokens=16)


@pytest.fixture(scope="module")
def trained_model(tokenizer):
    """A tiny model overfitted (~1-3 s) to answer 'Book a flight to X' with book_flight(city=X).

    The prompt lists no tools: a short prompt lets the copy of X be learnt in ~200 steps.
    """
    return overfit(tokenizer, lambda city: ToolCall("book_flight", {"city": city}), "tiny-trained")


@pytest.fixture(scope="module")
def refusing_model(tokenizer):
    """A tiny model overfitted to refuse every 'Book a flight to X'."""
    return overfit(tokenizer, lambda city: Blocked("flights need a manager's approval"), "tiny-refusing")


def overfit(tokenizer, reply_for, name):
    """A tiny chat model trained until it gives ``reply_for(city)`` to ``ask(city)`` for every city."""
    model = tiny_qwen3(tokenizer)
    chat = TransformersChatModel.from_model(model, tokenizer, name=name, max_new_tokens=48)
    rows = []
    for city in CITIES:
        prompt = tokenizer(chat.render(ask(city), None), add_special_tokens=False)["input_ids"]
        reply_text = format_reply(reply_for(city))
        reply = tokenizer(reply_text, add_special_tokens=False)["input_ids"]
        rows.append((prompt, reply + [tokenizer.eos_token_id]))
    width = max(len(p) + len(r) for p, r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (prompt, reply) in enumerate(rows):
        ids[i, : len(prompt) + len(reply)] = torch.tensor(prompt + reply)
        labels[i, len(prompt) : len(prompt) + len(reply)] = torch.tensor(reply)
        mask[i, : len(prompt) + len(reply)] = 1
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(500):  # the value copy is learnt suddenly, after ~200 steps
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.005:
            break
    model.eval()
    assert loss.item() < 0.005, f"tiny model did not fit its 4 examples (loss {loss.item():.4f})"
    return chat


# ---------------------------------------------------------------- transformers back-end


def test_a_refusing_model_asked_not_to_refuse_gives_its_next_choice(refusing_model):
    assert refusing_model.propose(ask("Oslo"), None).action == Blocked("flights need a manager's approval")
    second = refusing_model.propose_unrefused(ask("Oslo"), None)
    assert not second.raw_text.lstrip().upper().startswith("B")  # no refusal, nor the start of one
    assert propose_unrefused(refusing_model, ask("Oslo"), None).raw_text == second.raw_text
    # the plain path is untouched by it
    assert refusing_model.propose(ask("Oslo"), None).action == Blocked("flights need a manager's approval")


def test_the_refusal_mask_holds_every_start_of_blocked_and_nothing_else(tokenizer):
    banned = {tokenizer.decode([i]) for i in refusal_starts(tokenizer)}
    assert "B" in banned
    assert all("BLOCKED:".startswith(p.strip().upper()) or p.strip().upper().startswith("BLOCKED:") for p in banned)
    assert not banned & {"Book", "Paris", '"', "<tool_call>"}


def test_the_refusal_mask_acts_only_while_the_reply_is_blank(tokenizer):
    processor = NoRefusalProcessor(tokenizer, prompt_width=2)
    banned = list(refusal_starts(tokenizer))
    blank = torch.tensor([[5, 6], [5, 6]])
    masked = processor(blank, torch.zeros(2, len(tokenizer)))
    assert torch.isinf(masked[:, banned]).all() and not torch.isinf(masked).all(dim=1).any()
    book = tokenizer("Book", add_special_tokens=False)["input_ids"]
    started = torch.tensor([[5, 6, *book]])
    assert not torch.isinf(processor(started, torch.zeros(1, len(tokenizer)))).any()


def test_a_back_end_that_cannot_steer_decoding_has_no_unrefused_reply():
    assert propose_unrefused(object(), ask("Oslo"), None) is None


def test_trained_model_proposes_the_call(trained_model):
    proposal = trained_model.propose(ask("Oslo"), None)
    # the reply parses into the tool call it was trained on
    assert proposal.actions == [ToolCall("book_flight", {"city": "Oslo"})]
    assert proposal.parse_error is None
    assert proposal.raw_text == '<tool_call>\n{"name": "book_flight", "arguments": {"city": "Oslo"}}\n</tool_call>'
    # token counts: the rendered prompt, and the reply with its end-of-turn token
    prompt_ids = trained_model.tokenizer(trained_model.render(ask("Oslo"), None), add_special_tokens=False)
    assert proposal.prompt_tokens == len(prompt_ids["input_ids"])
    reply_ids = trained_model.tokenizer(proposal.raw_text, add_special_tokens=False)["input_ids"]
    assert proposal.completion_tokens == len(reply_ids) + 1
    assert -0.5 < proposal.mean_logprob < 0.0
    assert proposal.latency_s > 0.0
    assert isinstance(trained_model, ChatModel)


def test_score_ranks_the_right_action_first(trained_model):
    right = trained_model.score(ask("Rome"), None, ToolCall("book_flight", {"city": "Rome"}))
    wrong_value = trained_model.score(ask("Rome"), None, ToolCall("book_flight", {"city": "Oslo"}))
    answer = trained_model.score(ask("Rome"), None, Answer("Booked."))
    # wrong value and a plain answer are less likely than the trained call
    assert right > wrong_value > answer
    assert right < 0.0


def test_score_equals_manual_forward_pass(random_model):
    chat, tok = random_model, random_model.tokenizer
    reply = format_reply(Blocked("unsafe"))
    prompt_ids = tok(chat.render(ask("Lima"), TOOLS), add_special_tokens=False)["input_ids"]
    reply_ids = tok(reply, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logits = chat.model(input_ids=torch.tensor([prompt_ids + reply_ids])).logits[0]
    logprobs = torch.log_softmax(logits, dim=-1)
    start = len(prompt_ids)
    manual = sum(float(logprobs[start + i - 1, t]) for i, t in enumerate(reply_ids))
    # score = sum over reply tokens (end-of-turn included) of log p(token | prefix)
    assert chat.score(ask("Lima"), TOOLS, Blocked("unsafe")) == pytest.approx(manual, abs=1e-3)
    without_end = chat.score_text(ask("Lima"), TOOLS, reply, end_of_turn=False)
    assert without_end == pytest.approx(manual - float(logprobs[-2, tok.eos_token_id]), abs=1e-3)


def test_mean_logprob_matches_score_of_the_reply(trained_model):
    proposal = trained_model.propose(ask("Paris"), None)
    rescored = trained_model.score_text(ask("Paris"), None, proposal.raw_text)
    # generation's per-token log-probabilities and scoring's forward pass agree
    assert rescored == pytest.approx(proposal.mean_logprob * proposal.completion_tokens, abs=1e-3)


def test_random_model_runs_to_the_token_budget(random_model):
    proposal = random_model.propose(ask("Paris"), TOOLS)
    # no end-of-turn within 16 random tokens: all 16 are counted, text still becomes a Proposal
    assert proposal.completion_tokens == 16
    assert isinstance(proposal, Proposal) and proposal.mean_logprob < 0.0


def test_batch_equals_one_by_one_greedy(random_model):
    conversations = [
        ask("Paris"),
        [{"role": "system", "content": "Short answers."}, {"role": "user", "content": "Rome, 12 seats, window"}],
        ask("Oslo") + [{"role": "assistant", "content": "Which day?"}, {"role": "user", "content": "Monday"}],
    ]
    batch = random_model.propose_batch(conversations, TOOLS)
    single = [random_model.propose(c, TOOLS) for c in conversations]
    # left padding does not change greedy output, token counts or log-probabilities
    assert [p.raw_text for p in batch] == [p.raw_text for p in single]
    assert [p.prompt_tokens for p in batch] == [p.prompt_tokens for p in single]
    assert len({p.prompt_tokens for p in batch}) == 3 and len({p.raw_text for p in batch}) == 3
    for b, s in zip(batch, single):
        assert b.mean_logprob == pytest.approx(s.mean_logprob, abs=1e-3)
    assert random_model.propose_batch([], TOOLS) == []


def _forward_passes(chat):
    """Counts the model's forward passes (a forward hook) until removed."""
    calls = []
    handle = chat.model.register_forward_hook(lambda *args: calls.append(1))
    return calls, handle


def _same_reply(a: Proposal, b: Proposal) -> None:
    assert a.raw_text == b.raw_text
    assert a.completion_tokens == b.completion_tokens and a.prompt_tokens == b.prompt_tokens
    assert a.mean_logprob == pytest.approx(b.mean_logprob, abs=1e-4)


@pytest.mark.parametrize("copy_values", [False, True])
def test_assisted_reply_equals_the_plain_greedy_reply(tokenizer, random_model, copy_values):
    chat = TransformersChatModel.from_model(random_model.model, tokenizer, max_new_tokens=16)
    chat.copy_values = copy_values  # the processor must see the same ids on both paths
    for city in CITIES:
        plain = chat.propose(ask(city), TOOLS)
        own = tokenizer(plain.raw_text, add_special_tokens=False)["input_ids"]
        hints = [
            plain.raw_text,  # all right
            tokenizer.decode(own[:5] + own[5:6][::-1] + [own[0]] + own[7:]),  # wrong from the 6th token
            format_reply(ToolCall("book_flight", {"city": "Lima"})),  # a draft of another reply
            plain.raw_text + " and more text past the budget " * 4,  # longer than max_new_tokens
        ]
        for hint in hints:
            _same_reply(chat.propose_assisted(ask(city), TOOLS, hint), plain)


def test_known_values_reach_the_copy_constraint_on_both_paths(tokenizer, random_model, monkeypatch):
    import models.transformers_chat as transformers_chat

    chat = TransformersChatModel.from_model(random_model.model, tokenizer, max_new_tokens=8)
    chat.copy_values, chat.known_values = True, {"book_flight": {"city": ["Lima"]}}
    seen, real = [], transformers_chat.CopyValuesProcessor
    monkeypatch.setattr(transformers_chat, "CopyValuesProcessor",
                        lambda *args: seen.append(args[4]) or real(*args))
    chat.propose(ask(CITIES[0]), TOOLS)
    chat.propose_assisted(ask(CITIES[0]), TOOLS, "<tool_call>")
    assert seen == [chat.known_values, chat.known_values]


@pytest.mark.parametrize("known", [["cm"], {"t": ["cm"]}, {"t": {"p": "cm"}}, {"t": {"p": [1]}}])
def test_malformed_known_values_are_refused_by_name(tmp_path, known):
    import json

    from models.transformers_chat import read_decoding_settings

    (tmp_path / "spectool.json").write_text(json.dumps({"copy_values": True, "known_values": known}))
    with pytest.raises(ModelUnavailableError, match="known_values must map tool -> parameter -> list of strings"):
        read_decoding_settings(str(tmp_path))
    (tmp_path / "spectool.json").write_text(json.dumps({"known_values": {"t": {"p": ["cm"]}}}))
    assert read_decoding_settings(str(tmp_path))["known_values"] == {"t": {"p": ["cm"]}}


def test_candidate_decoding_shows_the_processor_the_ids_generate_shows(random_model):
    from transformers.generation.logits_process import LogitsProcessor, LogitsProcessorList

    from models.transformers_chat import greedy_with_candidate

    class NoRepeat(LogitsProcessor):  # depends on the last id: a processor shown other ids would choose otherwise
        def __call__(self, input_ids, scores):
            scores[0, input_ids[0, -1]] = float("-inf")
            return scores

    chat, stop = random_model, random_model.stop_ids
    for city in CITIES:
        prompt = chat.tokenizer(chat.render(ask(city), TOOLS), add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            plain = chat.model.generate(torch.tensor([prompt]), max_new_tokens=16, do_sample=False, eos_token_id=stop,
                                        pad_token_id=chat.tokenizer.pad_token_id,
                                        logits_processor=LogitsProcessorList([NoRepeat()]))[0, len(prompt):].tolist()
            for candidate in (plain, plain[:3] + plain[4:], plain[:8] + [plain[0]] * 8, []):
                tokens, scores = greedy_with_candidate(chat.model, prompt, candidate, NoRepeat(), stop, 16)
                assert tokens == plain
                assert len(scores) == len(tokens) and all(float(row[t]) > float("-inf") for row, t in zip(scores, tokens))


def test_a_right_hint_costs_one_forward_pass(trained_model):
    plain = trained_model.propose(ask("Rome"), None)
    calls, handle = _forward_passes(trained_model)
    try:
        assisted = trained_model.propose_assisted(ask("Rome"), None, plain.raw_text)
        right_hint_passes = len(calls)
        calls.clear()
        trained_model.propose(ask("Rome"), None)
        plain_passes = len(calls)
        calls.clear()
        wrong = plain.raw_text.replace("Rome", "Oslo")
        wrong_hint = trained_model.propose_assisted(ask("Rome"), None, wrong)
        wrong_hint_passes = len(calls)
    finally:
        handle.remove()
    _same_reply(assisted, plain)
    _same_reply(wrong_hint, plain)
    # prompt and hint in one pass, whose last position already chooses the end of turn
    assert right_hint_passes == 1
    assert plain_passes == plain.completion_tokens  # one pass per generated token
    # a hint wrong from the city on: one pass up to there, then one per token after it
    tail = trained_model.tokenizer(plain.raw_text.split("Rome")[1], add_special_tokens=False)["input_ids"]
    assert 1 < wrong_hint_passes <= len(tail) + 3 < plain_passes


def test_sampling_models_ignore_the_hint(tokenizer):
    chat = TransformersChatModel.from_model(tiny_qwen3(tokenizer, init=0.3), tokenizer, max_new_tokens=8,
                                            temperature=1.0, seed=3)
    hinted = chat.propose_assisted(ask("Oslo"), None, "anything")
    chat._calls = 0  # same seed again
    assert hinted.raw_text == chat.propose(ask("Oslo"), None).raw_text


def test_unparseable_reply_is_a_parse_error_proposal(random_model):
    from models.base import make_proposal

    proposal = make_proposal('<tool_call>\n{"name": "book_flight", "arguments": [1]}\n</tool_call>')
    # arguments that are not an object: no actions, an error message, no exception
    assert proposal.actions == [] and proposal.action is None
    assert "ParseError" in proposal.parse_error
    empty = make_proposal("")
    assert empty.actions == [] and "empty reply" in empty.parse_error


def test_sampling_is_seeded(tokenizer):
    model = tiny_qwen3(tokenizer, init=0.3)
    first = TransformersChatModel.from_model(model, tokenizer, max_new_tokens=8, temperature=1.0, seed=7)
    second = TransformersChatModel.from_model(model, tokenizer, max_new_tokens=8, temperature=1.0, seed=7)
    # same seed, same call index -> same sample
    assert first.propose(ask("Lima"), TOOLS).raw_text == second.propose(ask("Lima"), TOOLS).raw_text


def test_bad_settings_are_refused(tokenizer):
    model = tiny_qwen3(tokenizer)
    # negative temperature and zero budget name the allowed values
    with pytest.raises(ValueError, match="temperature must be 0"):
        TransformersChatModel.from_model(model, tokenizer, temperature=-1.0)
    with pytest.raises(ValueError, match="max_new_tokens must be at least 1"):
        TransformersChatModel.from_model(model, tokenizer, max_new_tokens=0)


def test_saved_folder_loads_offline(trained_model, tmp_path):
    trained_model.model.save_pretrained(tmp_path)
    trained_model.tokenizer.save_pretrained(tmp_path)
    loaded = TransformersChatModel(tmp_path, device="cpu", max_new_tokens=48)
    # a folder round trip gives the same greedy reply
    assert loaded.propose(ask("Lima"), None).actions == [ToolCall("book_flight", {"city": "Lima"})]
    assert loaded.source == str(tmp_path) and trained_model.source is None  # what bench fingerprints read


def test_missing_hub_model_is_unavailable(monkeypatch):
    monkeypatch.delenv("SPECTOOL_ALLOW_DOWNLOAD", raising=False)
    # not in the local cache and downloads are off
    with pytest.raises(ModelUnavailableError, match="SPECTOOL_ALLOW_DOWNLOAD=1"):
        TransformersChatModel("spectool-test/no-such-model", device="cpu")


# ---------------------------------------------------------------- OpenAI back-end


def test_openai_structured_tool_call():
    call = tool_call("book_flight", {"city": "Paris"})
    with StubServer() as server:
        server.add(Canned(completion(None, [call], usage=(11, 5))))
        chat = OpenAIChatModel(server.base_url, "stub-model", max_retries=0)
        history = ask("Paris") + [
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
            {"role": "tool", "content": "ok"},
        ]
        proposal = chat.propose(history, TOOLS)
    assert proposal.actions == [ToolCall("book_flight", {"city": "Paris"})]
    assert (proposal.prompt_tokens, proposal.completion_tokens, proposal.parse_error) == (11, 5, None)
    assert proposal.raw_text == '<tool_call>\n{"name": "book_flight", "arguments": {"city": "Paris"}}\n</tool_call>'
    sent = server.requests[0]
    # tools pass through; history calls get ids and JSON-string arguments; tool results get the id
    assert sent["tools"] == TOOLS and sent["model"] == "stub-model"
    assert sent["messages"][1]["tool_calls"] == [
        {"id": "call_1_0", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    assert sent["messages"][2]["tool_call_id"] == "call_1_0"


def test_openai_text_reply_is_parsed_as_qwen3():
    call = '<tool_call>\n{"name": "book_flight", "arguments": {"city": "Rome"}}\n</tool_call>'
    text = "<think>\nok\n</think>\n" + call
    with StubServer() as server:
        server.add(Canned(completion(text)), Canned(completion("BLOCKED: not allowed")))
        chat = OpenAIChatModel(server.base_url, "m", max_retries=0)
        # a server without a tool parser returns the call as text
        assert chat.propose(ask("Rome"), TOOLS).actions == [ToolCall("book_flight", {"city": "Rome"})]
        assert chat.propose(ask("Rome"), TOOLS).actions == [Blocked("not allowed")]


@pytest.mark.parametrize(
    "reply, message",
    [
        (Canned({"error": {"message": "boom"}}, status=500), "HTTP 500"),  # server error
        (Canned('{"choices": [', content_type="application/json"), "malformed JSON"),  # cut-off body
        (Canned("<html>busy</html>", content_type="text/html"), "malformed JSON"),  # not JSON at all
        (Canned({"id": "x", "choices": []}), "no choices"),  # empty choices
        (Canned(completion("late"), delay_s=1.5), "timed out"),  # slower than the timeout
    ],
)
def test_openai_bad_answers_raise_backend_error(reply, message):
    with StubServer() as server:
        server.add(reply)
        chat = OpenAIChatModel(server.base_url, "m", timeout=0.5, max_retries=0)
        with pytest.raises(BackendError, match=message) as caught:
            chat.propose(ask("Paris"), TOOLS)
    # the error names the server
    assert server.base_url in str(caught.value)


def test_openai_unreachable_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chat = OpenAIChatModel(f"http://127.0.0.1:{port}/v1", "m", timeout=2, max_retries=0)
    # nothing listens on the port
    with pytest.raises(BackendError, match="cannot be reached"):
        chat.propose(ask("Paris"), TOOLS)


@pytest.mark.parametrize(
    "body, error",
    [
        (completion(""), "empty reply"),  # no tool call and no text
        (completion(None, [tool_call("book_flight", "[1, 2]")]), "must be a JSON object"),  # list arguments
        (completion(None, [tool_call("rm -rf", "{}")]), "not allowed"),  # a name that is no identifier
    ],
)
def test_openai_bad_reply_text_is_a_parse_error_proposal(body, error):
    with StubServer() as server:
        server.add(Canned(body))
        proposal = OpenAIChatModel(server.base_url, "m", max_retries=0).propose(ask("Paris"), TOOLS)
    assert proposal.actions == []
    assert error in proposal.parse_error


def test_openai_retries_after_a_server_error():
    with StubServer() as server:
        server.add(Canned({"error": {}}, status=500), Canned(completion("Sure.")))
        proposal = OpenAIChatModel(server.base_url, "m", max_retries=1).propose(ask("Paris"), TOOLS)
    # one retry, then the answer
    assert proposal.actions == [Answer("Sure.")]
    assert len(server.requests) == 2


def test_openai_batch_keeps_order_and_score_is_unsupported():
    def echo(request: dict) -> Canned:
        return Canned(completion(request["messages"][-1]["content"].upper()))

    with StubServer(fallback=echo) as server:
        chat = OpenAIChatModel(server.base_url, "m", max_retries=0, max_concurrency=3)
        proposals = chat.propose_batch([ask(c) for c in CITIES], TOOLS)
    # answers come back in input order
    assert [p.actions for p in proposals] == [[Answer(f"BOOK A FLIGHT TO {c.upper()} PLEASE")] for c in CITIES]
    with pytest.raises(NotImplementedError, match="prompt log-probabilities"):
        chat.score(ask("Paris"), TOOLS, Answer("x"))


def test_openai_server_backed_by_tiny_model(trained_model):
    with StubServer(fallback=model_reply(trained_model)) as server:
        remote = OpenAIChatModel(server.base_url, "tiny", max_retries=0)
        proposal = remote.propose(ask("Lima"), None)
    local = trained_model.propose(ask("Lima"), None)
    # same reply through HTTP as in process
    assert proposal.raw_text == local.raw_text
    assert proposal.actions == [ToolCall("book_flight", {"city": "Lima"})]


def test_to_openai_messages_keeps_input_untouched():
    history = [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 2}}}]}]
    converted = to_openai_messages(history)
    # the caller's dict still holds the object arguments
    assert history[0]["tool_calls"][0]["function"]["arguments"] == {"x": 2}
    assert converted[0]["tool_calls"][0]["function"]["arguments"] == '{"x": 2}'


# ---------------------------------------------------------------- presets


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid presets: embedded, qwen3"):
        presets.load_preset("llama")


def test_missing_embedded_checkpoint_names_train_defaults(monkeypatch, tmp_path):
    monkeypatch.setattr(presets, "EMBEDDED_DIR", tmp_path)
    monkeypatch.setitem(
        presets.PRESETS, "embedded", {"drafter": str(tmp_path / "drafter"), "target": str(tmp_path / "target")},
    )
    for variable in ("SPECTOOL_PRESET", "SPECTOOL_DRAFTER", "SPECTOOL_TARGET"):
        monkeypatch.delenv(variable, raising=False)
    # the default preset is embedded, and its checkpoints are not built
    with pytest.raises(ModelUnavailableError, match="python -m spectool_app train-defaults"):
        presets.load_preset()


def test_preset_env_overrides(monkeypatch, trained_model, tmp_path):
    trained_model.model.save_pretrained(tmp_path)
    trained_model.tokenizer.save_pretrained(tmp_path)
    monkeypatch.setenv("SPECTOOL_PRESET", "qwen3")
    monkeypatch.setenv("SPECTOOL_DRAFTER", "openai:http://127.0.0.1:9/v1#small")
    monkeypatch.setenv("SPECTOOL_TARGET", str(tmp_path))
    specs = presets.preset_specs()
    # the verifier base stays, the two chat roles are overridden
    assert specs["verifier_base"] == "Qwen/Qwen3-4B"
    loaded = presets.load_preset()
    assert isinstance(loaded["drafter"], OpenAIChatModel) and loaded["drafter"].model == "small"
    assert isinstance(loaded["target"], TransformersChatModel)


def test_qwen3_preset_without_cache_is_unavailable(monkeypatch):
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("Qwen/Qwen3-1.7B", "config.json"), str):
        pytest.skip("Qwen3-1.7B is in the local cache here")
    for variable in ("SPECTOOL_DRAFTER", "SPECTOOL_TARGET", "SPECTOOL_ALLOW_DOWNLOAD"):
        monkeypatch.delenv(variable, raising=False)
    # hub ids are not in the local cache and downloads are off
    with pytest.raises(ModelUnavailableError, match="preset 'qwen3', drafter"):
        presets.load_preset("qwen3")


def test_bad_openai_spec():
    # the model name after '#' is missing
    with pytest.raises(ValueError, match="openai:<base_url>#<model>"):
        presets.load_model("openai:http://127.0.0.1:9/v1", "drafter")


def test_cancel_event_stops_generation_after_one_token(random_model):
    # the parallel loop sets the event once a draft is accepted
    import threading

    cancel = threading.Event()
    cancel.set()
    proposal = random_model.propose(ask("Paris"), None, cancel=cancel)
    assert proposal.completion_tokens == 1
