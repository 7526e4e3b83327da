"""A tiny OpenAI-compatible HTTP server for tests: canned replies or a local ChatModel.

``StubServer`` listens on 127.0.0.1 (a free port) in a background thread and answers
``POST /v1/chat/completions``. Each request is recorded (``server.requests``) and answered
by the next :class:`Canned` reply in the queue, or, when the queue is empty, by the
``fallback`` function (for example :func:`model_reply`, which runs a ChatModel).

This module does not implement streaming, the completions API or authentication.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Canned:
    """One scripted HTTP answer."""

    body: str | dict[str, Any]  # dict -> JSON; str is sent as is (to send malformed JSON)
    status: int = 200  # HTTP status code
    delay_s: float = 0.0  # wait before answering (to provoke client timeouts)
    content_type: str = "application/json"  # response header


def completion(
    content: str | None = None, tool_calls: list[dict] | None = None, usage: tuple[int, int] = (7, 3)
) -> dict:
    """A chat.completion body with one choice."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


def tool_call(name: str, arguments: dict | str, call_id: str = "call_0") -> dict:
    """One OpenAI tool call item; ``arguments`` is JSON-encoded unless already a string."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def model_reply(model: Any) -> Callable[[dict[str, Any]], Canned]:
    """A fallback that answers with ``model.propose(messages, tools).raw_text`` as content."""

    def answer(request: dict[str, Any]) -> Canned:
        proposal = model.propose(request["messages"], request.get("tools"))
        usage = (proposal.prompt_tokens, proposal.completion_tokens)
        return Canned(completion(proposal.raw_text, usage=usage))

    return answer


class StubServer:
    """OpenAI-compatible stub on 127.0.0.1; use as a context manager."""

    def __init__(self, fallback: Callable[[dict[str, Any]], Canned] | None = None) -> None:
        self.queue: list[Canned] = []  # scripted answers, served first-in first-out
        self.requests: list[dict[str, Any]] = []  # decoded request bodies, in arrival order
        self.fallback = fallback  # answers when the queue is empty
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def add(self, *replies: Canned) -> "StubServer":
        """Queue scripted answers."""
        with self._lock:
            self.queue.extend(replies)
        return self

    def _next(self, request: dict[str, Any]) -> Canned:
        with self._lock:
            self.requests.append(request)
            if self.queue:
                return self.queue.pop(0)
        if self.fallback is None:
            return Canned({"error": {"message": "stub has no reply queued"}}, status=500)
        return self.fallback(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(Canned({"error": {"message": f"no route {self.path}"}}, status=404))
                    return
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                self._send(server._next(request))

            def _send(self, reply: Canned) -> None:
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        return Handler

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
