"""A real HTTP server on 127.0.0.1 that serves a folder, for tests that download (a local mirror).

Each path can be told to misbehave the way real mirrors do: answer a status (404, 503, ...),
drop the connection part-way through the body, ignore Range requests, serve corrupted or
truncated bytes. Every request is logged with its Range header and what was answered.

    def test_x(loopback_server):                      # pytest fixture; root is a fresh tmp folder
        (loopback_server.root / "a.bin").write_bytes(b"...")
        loopback_server.set_behaviour("a.bin", drop_after_bytes=100, times=1)
        url = loopback_server.url_for("a.bin")         # http://127.0.0.1:PORT/a.bin
        ...
        assert loopback_server.requests_for("a.bin")[1].range == "bytes=100-"

    with serve_folder(Path("resources/synthetic")) as server:   # outside pytest
        print(server.url)

Not for: anything on the internet; this server binds to 127.0.0.1 only.
"""
import contextlib
import http.server
import logging
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

log = logging.getLogger("loopback")


@dataclass
class Behaviour:
    """How the server answers one path. `times` limits the faults (status, drop, corrupt,
    truncate) to the first N requests (None: every request); `honour_range` holds throughout."""
    status: int | None = None            # answer this status with no body (404, 403, 500, 503)
    drop_after_bytes: int | None = None  # send this many body bytes, then cut the connection
    honour_range: bool = True            # False: answer 200 with the whole file to Range requests
    corrupt: bool = False                # flip the bits of every 1000th byte (same length)
    truncate_bytes: int | None = None    # serve only the first N bytes, with a matching length
    times: int | None = None
    used: int = 0

    def active(self) -> bool:
        return self.times is None or self.used < self.times


@dataclass
class LoggedRequest:
    path: str                 # relative to the root, no leading slash
    range: str | None         # the Range header as sent, or None
    status: int               # status answered
    body_bytes_sent: int      # body bytes actually written before the response ended


@dataclass
class LoopbackServer:
    """Handle on a running server: where it is, how it behaves, what it was asked."""
    root: Path
    host: str
    port: int
    behaviours: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:40123."""
        return f"http://{self.host}:{self.port}"

    def url_for(self, relpath: str) -> str:
        return f"{self.url}/{urllib.parse.quote(_normalise(relpath))}"

    def set_behaviour(self, relpath: str, *, status: int | None = None,
                      drop_after_bytes: int | None = None, honour_range: bool = True,
                      corrupt: bool = False, truncate_bytes: int | None = None,
                      times: int | None = None) -> None:
        """Make `relpath` misbehave: its faults for the first `times` requests (None: always)."""
        with self.lock:
            self.behaviours[_normalise(relpath)] = Behaviour(
                status=status, drop_after_bytes=drop_after_bytes, honour_range=honour_range,
                corrupt=corrupt, truncate_bytes=truncate_bytes, times=times)

    def clear_behaviours(self) -> None:
        with self.lock:
            self.behaviours.clear()

    def requests_for(self, relpath: str) -> list:
        with self.lock:
            return [r for r in self.requests if r.path == _normalise(relpath)]

    def _take_behaviour(self, relpath: str) -> Behaviour:
        with self.lock:
            behaviour = self.behaviours.get(relpath)
            if behaviour is None:
                return Behaviour()
            if not behaviour.active():
                return Behaviour(honour_range=behaviour.honour_range)
            behaviour.used += 1
            return behaviour

    def _log(self, entry: LoggedRequest) -> None:
        with self.lock:
            self.requests.append(entry)


def _normalise(relpath: str) -> str:
    return str(relpath).lstrip("/")


def corrupted(data: bytes) -> bytes:
    """What a path with corrupt=True serves for `data`: every 1000th byte bit-flipped."""
    damaged = bytearray(data)
    for i in range(0, len(damaged), 1000):
        damaged[i] ^= 0xFF
    return bytes(damaged)


def _parse_range(header: str | None, size: int):
    """(start, end_inclusive) for a single 'bytes=START-[END]' range, or None."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    start_text, _, end_text = header[6:].partition("-")
    if not start_text.isdigit():
        return None
    start = int(start_text)
    end = int(end_text) if end_text.isdigit() else size - 1
    return start, min(end, size - 1)


def _make_handler(server: LoopbackServer):
    class Handler(http.server.BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a dropped connection affects one request only.
        protocol_version = "HTTP/1.0"

        def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
            log.debug("%s %s", self.address_string(), format % args)

        def _answer_status(self, relpath, range_header, status):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            server._log(LoggedRequest(relpath, range_header, status, 0))

        def do_GET(self):
            relpath = _normalise(urllib.parse.unquote(urllib.parse.urlparse(self.path).path))
            range_header = self.headers.get("Range")
            behaviour = server._take_behaviour(relpath)
            if behaviour.status is not None:
                return self._answer_status(relpath, range_header, behaviour.status)
            target = (server.root / relpath).resolve()
            if server.root.resolve() not in target.parents or not target.is_file():
                return self._answer_status(relpath, range_header, 404)
            data = target.read_bytes()
            if behaviour.truncate_bytes is not None:
                data = data[:behaviour.truncate_bytes]
            if behaviour.corrupt:
                data = corrupted(data)
            byte_range = _parse_range(range_header, len(data)) if behaviour.honour_range else None
            if byte_range and byte_range[0] >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return server._log(LoggedRequest(relpath, range_header, 416, 0))
            if byte_range:
                start, end = byte_range
                body = data[start:end + 1]
                status = 206
            else:
                start, body, status = 0, data, 200
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes" if behaviour.honour_range else "none")
            if status == 206:
                last = start + len(body) - 1
                self.send_header("Content-Range", f"bytes {start}-{last}/{len(data)}")
            self.end_headers()
            sent = body
            if behaviour.drop_after_bytes is not None:
                sent = body[:behaviour.drop_after_bytes]
            try:
                self.wfile.write(sent)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            server._log(LoggedRequest(relpath, range_header, status, len(sent)))
            if len(sent) < len(body):
                # Cut the connection with the promised Content-Length unmet, like a flaky link.
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

    return Handler


@contextlib.contextmanager
def serve_folder(root: Path, host: str = "127.0.0.1"):
    """Serve `root` over HTTP on a free port of `host` in a background thread; yields the handle."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    handle = LoopbackServer(root=root, host=host, port=0)
    httpd = http.server.ThreadingHTTPServer((host, 0), _make_handler(handle))
    httpd.daemon_threads = True
    handle.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,),
                              name=f"loopback:{handle.port}", daemon=True)
    thread.start()
    try:
        yield handle
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def loopback_server(tmp_path):
    """A LoopbackServer serving the fresh folder `tmp_path / "mirror"` (its `.root`)."""
    with serve_folder(tmp_path / "mirror") as server:
        yield server
