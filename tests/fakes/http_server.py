"""A threaded HTTP server for stand-ins that, when closed, also closes the connections its
clients keep open, so no request thread outlives the server."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import Any


class ClosingHTTPServer(ThreadingHTTPServer):
    """`ThreadingHTTPServer` whose `server_close` also ends the kept-alive connections (their
    request threads then finish reading and end)."""

    daemon_threads = True
    block_on_close = False  # a delayed reply still waiting is cut short, not waited for

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # (closed meanwhile)
                connection.shutdown(socket.SHUT_RDWR)
