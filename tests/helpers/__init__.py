"""Real local stand-ins for external services used by the tests.

- :class:`CaptureServer`: a threading HTTP server on an ephemeral loopback
  port that records every POST (apprise's ``json://`` plugin posts there).
- :class:`PushgatewayProcess`: a real ``prometheus-pushgateway`` on a free
  loopback port, started and stopped by PID.
- :func:`find_binary` / :func:`binary_or_skip`: locate a tool or skip the test
  with a clear reason, unless the named ``EXEC_REQUIRE_*`` variable is ``1``,
  in which case a missing tool fails the test (CI sets these).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

__all__ = [
    "CaptureServer",
    "CapturedRequest",
    "PushgatewayProcess",
    "binary_or_skip",
    "find_binary",
    "free_port",
]


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str) -> str | None:
    """``name`` on PATH, else in /usr/bin or /usr/local/bin (sbin-less PATHs)."""
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/bin", "/usr/local/bin"):
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def binary_or_skip(name: str, require_env: str, install_hint: str) -> str:
    """Path of ``name``; skip if missing, fail instead when ``$require_env == '1'``."""
    path = find_binary(name)
    if path is not None:
        return path
    msg = f"{name} not installed ({install_hint})"
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{msg}; required because {require_env}=1")
    pytest.skip(f"{msg}; set {require_env}=1 to make this a failure")


@dataclass(frozen=True)
class CapturedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class CaptureServer:
    """Records requests; answers every one with ``status`` (200 by default)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[CapturedRequest] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with outer._lock:
                    outer.requests.append(
                        CapturedRequest("POST", self.path, dict(self.headers.items()), body)
                    )
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> CaptureServer:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class PushgatewayProcess:
    """A ``prometheus-pushgateway`` on 127.0.0.1:<free port> (no persistence)."""

    def __init__(self, binary: str, ready_timeout_seconds: float = 10.0) -> None:
        self.binary = binary
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._ready_timeout = ready_timeout_seconds
        self._proc: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: an unread pipe could fill and block the process.
        self._log = tempfile.TemporaryFile()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://{self.address}{path}", timeout=5) as resp:
            return str(resp.read().decode("utf-8"))

    def start(self) -> None:
        self._proc = subprocess.Popen(
            # Debian's build defaults --persistence.file to a shared file under
            # /var/lib/prometheus: an empty value keeps this instance in memory.
            [self.binary, f"--web.listen-address={self.address}", "--persistence.file="],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")
                raise RuntimeError(f"pushgateway exited with {self._proc.returncode}: {err[-2000:]}")
            try:
                self.get("/-/ready")
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.02)  # waiting for a real process to bind, not domain time
        self.stop()
        raise RuntimeError(f"pushgateway not ready on {self.address} after {self._ready_timeout}s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> PushgatewayProcess:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._log.close()
