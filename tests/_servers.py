"""One way to run an ASGI app for a test: uvicorn on 127.0.0.1, a free port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class ThreadedServer:
    """``with ThreadedServer(app) as s:`` serves ``app`` on ``s.port`` until the block ends.
    Extra keyword arguments go to ``uvicorn.Config`` (TLS files, an HTTP protocol class)."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        options: dict[str, Any] = {"log_level": "error", "lifespan": "auto", "ws": "none"}
        self.server = uvicorn.Server(uvicorn.Config(app, **(options | config)))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
