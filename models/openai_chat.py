"""A ChatModel that asks an OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp...) for replies.

Requests go through the ``openai`` client with the ``tools`` parameter; the client handles
transport, authentication and bounded retries (5xx, timeouts, connection errors). The
response body is read as JSON here, so a malformed answer gets a clear error. Structured
``tool_calls`` become ToolCalls; without them the text content is parsed as a Qwen3 reply
(servers run without a tool parser return ``<tool_call>`` text).

This module does not know the server's chat template or tokenizer, so it cannot score an
action: OpenAI-compatible servers do not return prompt log-probabilities uniformly.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from models.base import BackendError, Message, Proposal, Tools, make_proposal
from spectool_app import parsing
from spectool_app.actions import Action, ActionError

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_TOKENS = 512


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Copy messages into the strict OpenAI form servers validate.

    Assistant tool calls get ids (``call_<turn>_<i>``), ``type: function`` and JSON-string
    arguments; tool messages without ``tool_call_id`` take the ids of the preceding
    assistant calls in order.
    """
    out: list[dict[str, Any]] = []
    pending: list[str] = []  # ids of the last assistant calls not yet answered
    for turn, message in enumerate(messages):
        item = {k: v for k, v in message.items()}
        if item.get("role") == "assistant" and item.get("tool_calls"):
            calls = []
            for i, call in enumerate(item["tool_calls"]):
                function = dict(call.get("function", call))
                if not isinstance(function.get("arguments", ""), str):
                    function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
                function = {"name": function.get("name"), "arguments": function.get("arguments", "{}")}
                call_id = call.get("id") or f"call_{turn}_{i}"
                calls.append({"id": call_id, "type": "function", "function": function})
            item["tool_calls"] = calls
            pending = [c["id"] for c in calls]
        elif item.get("role") == "tool" and not item.get("tool_call_id"):
            item["tool_call_id"] = pending.pop(0) if pending else f"call_{turn}"
        out.append(item)
    return out


def _raw_tool_text(tool_calls: list[Any]) -> str:
    """Show structured tool calls as Qwen3 text, arguments exactly as the server sent them."""
    blocks = []
    for call in tool_calls:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        function = function if isinstance(function, dict) else {}
        arguments = function.get("arguments", "{}")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        name = json.dumps(function.get("name"), ensure_ascii=False)
        blocks.append(f'<tool_call>\n{{"name": {name}, "arguments": {arguments}}}\n</tool_call>')
    return "\n".join(blocks)


def _mean_logprob(choice: dict[str, Any]) -> float | None:
    entries = ((choice.get("logprobs") or {}).get("content")) or []
    values = [
        e["logprob"] for e in entries if isinstance(e, dict) and isinstance(e.get("logprob"), (int, float))
    ]
    return sum(values) / len(values) if values else None


class OpenAIChatModel:
    """Chat model served over the OpenAI chat-completions API (see module docstring)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        logprobs: bool = False,
        extra_body: dict[str, Any] | None = None,
        max_concurrency: int = 8,
    ) -> None:
        """Create a client; nothing is sent until the first proposal.

        Args:
            base_url: server root including ``/v1`` (``http://127.0.0.1:8000/v1``).
            model: model name the server knows.
            api_key: bearer token; defaults to ``OPENAI_API_KEY`` or ``"EMPTY"`` (local servers).
            timeout: seconds per request attempt.
            max_retries: extra attempts after a 5xx, 429, timeout or connection error.
            max_tokens: generation budget per reply.
            temperature: 0 is greedy.
            logprobs: ask for token log-probabilities (fills ``mean_logprob``).
            extra_body: extra request fields, e.g. ``{"chat_template_kwargs": {"enable_thinking": False}}``
                for vLLM serving Qwen3.
            max_concurrency: parallel requests in :meth:`propose_batch`.
        """
        import openai

        if max_retries < 0 or timeout <= 0:
            raise ValueError(f"need timeout > 0 and max_retries >= 0, got {timeout} and {max_retries}")
        self.base_url = base_url.rstrip("/")  # server root with /v1
        self.model = model  # model name on the server
        self.name = f"openai:{self.base_url}#{model}"  # shown in logs and the UI
        self.timeout = timeout  # seconds per attempt
        self.max_retries = max_retries  # extra attempts on transient errors
        self.max_tokens = max_tokens  # generation budget
        self.temperature = temperature  # 0 = greedy
        self.logprobs = logprobs  # request token log-probabilities
        self.extra_body = dict(extra_body or {})  # extra request fields
        self.max_concurrency = max(1, max_concurrency)  # parallel requests per batch
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=timeout,
            max_retries=max_retries,
        )

    def _request(self, messages: Sequence[Message], tools: Tools | None) -> dict[str, Any]:
        """Send one chat completion and return the decoded JSON body, or raise BackendError."""
        openai = self._openai
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if tools:
            kwargs["tools"] = list(tools)
        if self.logprobs:
            kwargs["logprobs"] = True
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        where = f"server {self.base_url} (model {self.model!r})"
        try:
            raw = self._client.chat.completions.with_raw_response.create(**kwargs)
            text = raw.http_response.text
        except openai.APITimeoutError as exc:
            raise BackendError(
                f"{where} timed out after {self.timeout:g} s ({self.max_retries} retries)"
            ) from exc
        except openai.APIStatusError as exc:
            body = (exc.response.text or "")[:200]
            raise BackendError(
                f"{where} answered HTTP {exc.status_code} after {self.max_retries} retries: {body}"
            ) from exc
        except openai.APIConnectionError as exc:
            raise BackendError(f"{where} cannot be reached: {exc}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BackendError(f"{where} sent malformed JSON ({exc.msg}): {text[:120]!r}") from exc
        if not isinstance(data, dict):
            raise BackendError(
                f"{where} sent a JSON {type(data).__name__}, expected a chat.completion object"
            )
        if not data.get("choices") or not isinstance(data["choices"], list):
            raise BackendError(f"{where} sent no choices: {text[:200]!r}")
        return data

    def propose(self, messages: Sequence[Message], tools: Tools | None) -> Proposal:
        """Ask the server for one reply.

        Raises:
            BackendError: HTTP error, timeout, unreachable server, malformed JSON or no choices.
        """
        started = time.perf_counter()
        data = self._request(messages, tools)
        latency = time.perf_counter() - started
        choice = data["choices"][0] if isinstance(data["choices"][0], dict) else {}
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        stats = {
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0),
            "latency_s": latency,
            "mean_logprob": _mean_logprob(choice),
        }
        content = message.get("content") if isinstance(message.get("content"), str) else ""
        tool_calls = message.get("tool_calls")
        if not tool_calls:
            return make_proposal(content, **stats)
        raw_text = "\n".join(p for p in (content.strip(), _raw_tool_text(tool_calls)) if p)
        try:
            actions: list[Action] = list(parsing.parse_openai_tool_calls(tool_calls))
        except (ActionError, ValueError, TypeError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            return Proposal(raw_text=raw_text, actions=[], parse_error=error, **stats)
        return Proposal(raw_text=raw_text, actions=actions, parse_error=None, **stats)

    def propose_batch(self, batch: Sequence[Sequence[Message]], tools: Tools | None) -> list[Proposal]:
        """One request per conversation, ``max_concurrency`` at once; results in input order."""
        if not batch:
            return []
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(batch))) as pool:
            return list(pool.map(lambda messages: self.propose(messages, tools), batch))

    def score(self, messages: Sequence[Message], tools: Tools | None, action: Action) -> float:
        """Not supported: chat servers do not return prompt log-probabilities uniformly.

        Raises:
            NotImplementedError: always; score with a TransformersChatModel of the same weights.
        """
        raise NotImplementedError(
            f"{self.name} cannot score actions: OpenAI-compatible chat servers do not expose "
            "prompt log-probabilities uniformly; load the same weights with TransformersChatModel to score"
        )
