"""A loopback model API for the real agents: Anthropic Messages SSE (Claude Code), OpenAI Responses
SSE (Codex) and Gemini streamGenerateContent (Gemini CLI), enough for them to finish real turns,
run their hooks and raise their permission dialogs, with no network (shapes: docs/agents.md).

    stub = AgentStub()                 # listens on 127.0.0.1:stub.port
    stub.next_tool_call("touch /tmp/x")   # the next model answer asks to run a shell command
    stub.hold()                        # the next model request waits (the agent stays busy) ...
    stub.release()                     # ... until released
    stub.answer_tokens = True          # each turn answers "The answer is <the newest tok-… in the request>."
    stub.delay = 0.5                   # each turn's answer waits this long first (the model's own time)
    stub.requests                      # every request: {"t", "path", "body"} (body parsed JSON or text)
    stub.seen("needle")                # requests whose body contains NEEDLE
    stub.close()
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# What a model answering for the agents' side questions (Gemini's next-speaker check, titles…) says.
_TOKEN = re.compile(r"tok-[0-9a-z]{4,32}")
_SIDE_JSON = json.dumps({"next_speaker": "user", "reasoning": "the model answered", "isNewTopic": False, "title": "t"})


def _json_schema(body: dict) -> bool:
    """A Responses request whose answer must fit a JSON schema (`text.format`)."""
    fmt = body.get("text", {}).get("format") if isinstance(body.get("text"), dict) else None
    return isinstance(fmt, dict) and fmt.get("type") == "json_schema"


def _sse(event: str | None, data: dict) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data) + "\n\n").encode()


class AgentStub:
    """One loopback HTTP server answering all three agents' model APIs."""

    def __init__(self, text: str = "Done."):
        self.text = text
        self.answer_tokens = False
        self.delay = 0.0
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._tool: list[str] = []
        self._hold = threading.Event()
        self._hold.set()
        self._holding = False
        self.waiting = threading.Event()  # set while a request is held
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # A request whose body stops coming is dropped after this long: the agent sees a
            # connection error and ends its turn instead of both waiting for minutes.
            timeout = 20

            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                self._json(200, {"data": [], "models": []})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                stub._record(self.path, body)
                try:
                    stub._answer(self, self.path, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _json(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                # One request a connection, as for the streams: no kept-alive connection to go stale.
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            def _stream(self, chunks):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for c in chunks:
                    self.wfile.write(c)
                    self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # ------------------------------------------------------------------ control
    def next_tool_call(self, command: str) -> None:
        """The next main-model answer asks to run COMMAND with the agent's shell tool."""
        with self._lock:
            self._tool.append(command)

    def clear_tool_calls(self) -> None:
        """Forget the tool calls no turn has taken (a test that ends early must not hand its dialog on)."""
        with self._lock:
            self._tool.clear()

    def hold(self) -> None:
        """The next main-model request waits until release(): the agent stays in its turn."""
        self._hold.clear()
        self._holding = True

    def release(self) -> None:
        self._holding = False
        self._hold.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def seen(self, needle: str) -> list[dict]:
        """Recorded requests whose body contains NEEDLE."""
        with self._lock:
            reqs = list(self.requests)
        return [r for r in reqs if needle in (r["body"] if isinstance(r["body"], str) else json.dumps(r["body"]))]

    def main_requests(self) -> list[dict]:
        """The streaming turn requests (not token counts or side questions)."""
        with self._lock:
            return [r for r in self.requests if r["main"]]

    # ------------------------------------------------------------------ internals
    def _record(self, path: str, body) -> None:
        main = self._is_main(path, body)
        with self._lock:
            self.requests.append({"t": time.time(), "path": path, "body": body, "main": bool(main)})

    @staticmethod
    def _is_main(path: str, body) -> bool:
        """A turn of the agent itself: Claude Code also streams side requests (titles, on a small
        model) without tools; only a request that offers tools is the agent's turn."""
        if path.startswith("/v1/messages"):
            return (
                "count_tokens" not in path
                and isinstance(body, dict)
                and bool(body.get("stream"))
                and bool(body.get("tools"))
            )
        if path.startswith("/v1/responses"):
            # Codex 0.171 also asks, in parallel with the first turn, for the thread's title (a
            # request whose answer must fit a JSON schema): a side question, not a turn.
            return not (isinstance(body, dict) and _json_schema(body))
        return "streamGenerateContent" in path

    def _take_tool(self) -> str | None:
        with self._lock:
            return self._tool.pop(0) if self._tool else None

    def _wait_hold(self) -> None:
        if self._holding:
            self.waiting.set()
            self._hold.wait(600)
            self.waiting.clear()

    def _answer(self, h, path: str, body) -> None:
        if "count_tokens" in path or "countTokens" in path:
            h._json(200, {"input_tokens": 100, "totalTokens": 100})
        elif path.startswith("/v1/messages"):
            if self._is_main(path, body):
                self._wait_hold()
                h._stream(self._anthropic(body.get("model", "claude"), self._take_tool(), self._reply(body)))
            elif isinstance(body, dict) and body.get("stream"):
                h._stream(self._anthropic(body.get("model", "claude"), None))
            else:
                h._json(
                    200,
                    {
                        "id": "msg_side",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude",
                        "content": [{"type": "text", "text": _SIDE_JSON}],
                        "stop_reason": "end_turn",
                        "stop_sequence": None,
                        "usage": {"input_tokens": 10, "output_tokens": 5},
                    },
                )
        elif path.startswith("/v1/responses"):
            if not self._is_main(path, body):
                h._stream(self._responses(None, json.dumps({"title": "Stub title"})))
                return
            self._wait_hold()
            h._stream(self._responses(self._take_tool(), self._reply(body)))
        elif "streamGenerateContent" in path:
            self._wait_hold()
            h._stream(self._gemini(self._take_tool(), self._reply(body)))
        elif "generateContent" in path:
            h._json(
                200,
                {
                    "candidates": [
                        {
                            "content": {"parts": [{"text": _SIDE_JSON}], "role": "model"},
                            "finishReason": "STOP",
                            "index": 0,
                        }
                    ],
                    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
                },
            )
        else:
            h._json(404, {"error": {"message": f"stub: no {path}", "type": "not_found"}})

    def _reply(self, body) -> str:
        """The text of one main turn's answer (after the model's own DELAY)."""
        if self.delay:
            time.sleep(self.delay)
        if not self.answer_tokens:
            return self.text
        found = _TOKEN.findall(body if isinstance(body, str) else json.dumps(body))
        return f"The answer is {found[-1]}." if found else self.text

    def _anthropic(self, model: str, tool: str | None, text: str | None = None):
        text = self.text if text is None else text
        yield _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_stub",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": 1},
                },
            },
        )
        if tool:
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {
                        "type": "tool_use",
                        "id": f"toolu_{int(time.time() * 1000)}",
                        "name": "Bash",
                        "input": {},
                    },
                },
            )
            yield _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {
                        "type": "input_json_delta",
                        "partial_json": json.dumps({"command": tool, "description": "Run it"}),
                    },
                },
            )
            stop = "tool_use"
        else:
            yield _sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
            yield _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
            )
            stop = "end_turn"
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        )
        yield _sse("message_stop", {"type": "message_stop"})

    def _responses(self, tool: str | None, text: str | None = None):
        text = self.text if text is None else text
        rid = f"resp_{int(time.time() * 1000)}"
        yield _sse(
            "response.created",
            {
                "type": "response.created",
                "response": {"id": rid, "object": "response", "status": "in_progress", "output": []},
            },
        )
        if tool:
            item = {
                "type": "function_call",
                "id": "fc_stub",
                "call_id": f"call_{rid}",
                "name": "exec_command",
                "arguments": json.dumps(
                    {"cmd": tool, "sandbox_permissions": "require_escalated", "justification": "the test asks for it"}
                ),
                "status": "completed",
            }
            yield _sse(
                "response.output_item.added",
                {"type": "response.output_item.added", "output_index": 0, "item": dict(item, status="in_progress")},
            )
            yield _sse(
                "response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}
            )
        else:
            part = {"type": "output_text", "text": "", "annotations": []}
            item = {"id": "msg_stub", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
            yield _sse(
                "response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": item}
            )
            yield _sse(
                "response.content_part.added",
                {
                    "type": "response.content_part.added",
                    "item_id": "msg_stub",
                    "output_index": 0,
                    "content_index": 0,
                    "part": part,
                },
            )
            yield _sse(
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": "msg_stub",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": text,
                },
            )
            yield _sse(
                "response.output_text.done",
                {
                    "type": "response.output_text.done",
                    "item_id": "msg_stub",
                    "output_index": 0,
                    "content_index": 0,
                    "text": text,
                },
            )
            item = dict(item, status="completed", content=[dict(part, text=text)])
            yield _sse(
                "response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}
            )
        yield _sse(
            "response.completed",
            {
                "type": "response.completed",
                "response": {
                    "id": rid,
                    "object": "response",
                    "status": "completed",
                    "output": [item],
                    "usage": {
                        "input_tokens": 10,
                        "input_tokens_details": {"cached_tokens": 0},
                        "output_tokens": 5,
                        "output_tokens_details": {"reasoning_tokens": 0},
                        "total_tokens": 15,
                    },
                },
            },
        )

    def _gemini(self, tool: str | None, text: str | None = None):
        part = (
            {"functionCall": {"name": "run_shell_command", "args": {"command": tool}}}
            if tool
            else {"text": self.text if text is None else text}
        )
        yield (
            "data: "
            + json.dumps(
                {
                    "candidates": [{"content": {"parts": [part], "role": "model"}, "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
                }
            )
            + "\r\n\r\n"
        ).encode()
