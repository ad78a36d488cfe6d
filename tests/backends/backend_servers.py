"""Servers the backend tests start on loopback: a llama.cpp server we can kill and restart."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` on loopback, as a subprocess we can kill and restart."""

    def __init__(self, model: Path, port: int, log_dir: Path) -> None:
        self.model = model
        self.port = port
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, *, wait: bool = True) -> None:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("server already running")
        self.starts += 1
        log = open(self.log_dir / f"llama-server-{self.port}-{self.starts}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(self.model),
                "--model_alias",
                "smollm2",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "2",
                "--verbose",
                "False",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited; see logs in {self.log_dir}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(self.base_url + "/models", timeout=1) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"llama.cpp server on port {self.port} not ready after {timeout} s")

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-request, as a crashed node would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    """Answer the request being handled with ``payload`` as JSON."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port) in a daemon thread; :meth:`close` stops it."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class CannedChatServer(LoopbackServer):
    """An OpenAI-compatible ``/v1/chat/completions`` on loopback that returns canned replies.

    Each reply is the assistant ``message`` object (``content`` plus any extra fields, such
    as ``reasoning_content``), a ``finish_reason`` and a ``usage`` object, served in order
    (the last one repeats). Request bodies are kept for inspection.
    """

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        if not replies:
            raise ValueError("script at least one reply")
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner.lock:
                    owner.bodies.append(body)
                    reply = owner.replies.pop(0) if len(owner.replies) > 1 else owner.replies[0]
                payload = {
                    "id": "canned",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", **reply["message"]},
                            "finish_reason": reply.get("finish_reason", "stop"),
                        }
                    ],
                    "usage": reply.get(
                        "usage", {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
                    ),
                }
                send_json(self, 200, payload)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)
