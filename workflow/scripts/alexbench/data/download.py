"""Fetch one official dataset file from a list of mirrors, resume it, verify it, move it into place.

Stdlib only (it runs before any other environment exists). A file reaches its final path only
after its digests (sha256, or the kinds its source publishes, e.g. sha1) and size, when given,
matched, through `os.replace`; until then it lives in
`<out>.part`. A connection that breaks leaves the `.part` for the next attempt to resume with an
HTTP Range request; bytes that fail verification are deleted, never kept.

Not for: choosing URLs or checksums (the workflow's config does that) or unpacking archives
(`archive.py`).
"""
import errno
import hashlib
import http.client
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("alexbench.data.download")

CHUNK_BYTES = 1 << 16
USER_AGENT = "alexbench-download/1 (+python urllib)"
# Statuses that say "this mirror does not have the file": move on at once, retrying cannot help.
GIVE_UP_STATUSES = {400, 401, 403, 404, 405, 410, 451}
# Socket errors that say "this host cannot be reached from here" (offline, no route): retrying
# the same URL only delays the fall-through to the next one.
UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH}
MAX_BACKOFF_S = 60.0
PROGRESS_EVERY_S = 30.0


class DownloadError(RuntimeError):
    """No URL produced a file with the expected checksum; the message says why for each URL."""


class TransientError(Exception):
    """A failure worth retrying on the same URL (connection dropped, timeout, 5xx)."""


class UrlGivesUp(Exception):
    """A failure that retrying the same URL will not fix (404, 403, checksum mismatch)."""


# Digest kinds a source may publish (the BVLC model zoo publishes sha1); each is checked.
DIGEST_KINDS = ("sha1", "sha256", "sha512")


@dataclass
class Expected:
    """What the finished file must be: every digest in `digests` ({kind: hex}, `sha256` joins
    them) and the size, when given."""
    sha256: str | None = None
    size_bytes: int | None = None
    digests: dict = field(default_factory=dict)

    def __post_init__(self):
        digests = dict(self.digests)
        if self.sha256 is not None:
            digests["sha256"] = self.sha256
        if not digests:
            raise ValueError("no expected digest given")
        self.digests = {}
        for kind, value in sorted(digests.items()):
            if kind not in DIGEST_KINDS:
                raise ValueError(f"unsupported digest kind {kind!r}; known: {', '.join(DIGEST_KINDS)}")
            value = value.strip().lower()
            length = hashlib.new(kind).digest_size * 2
            if len(value) != length or any(c not in "0123456789abcdef" for c in value):
                raise ValueError(f"not a {kind} hex digest: {value!r}")
            self.digests[kind] = value
        self.sha256 = self.digests.get("sha256")

    def describe(self) -> str:
        return ", ".join(f"{kind} {value}" for kind, value in self.digests.items())


@dataclass
class Progress:
    """Logs a line every 10% of a known size (or every 8 MiB of an unknown one), and at least
    every 30 s so a slow host still shows signs of life, with the rate."""
    url: str
    total_bytes: int | None
    done_bytes: int
    started_at: float = field(default_factory=time.monotonic)
    start_bytes: int = 0
    next_report_bytes: int = 0
    reported_bytes: int = -1
    reported_at: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        self.start_bytes = self.done_bytes
        self._schedule()

    def _schedule(self):
        step = max(self.total_bytes // 10, 1) if self.total_bytes else 8 << 20
        self.next_report_bytes = (self.done_bytes // step + 1) * step

    def add(self, n: int) -> None:
        self.done_bytes += n
        if (self.done_bytes >= self.next_report_bytes
                or time.monotonic() - self.reported_at >= PROGRESS_EVERY_S):
            self.report()
            self._schedule()

    def report(self) -> None:
        if self.reported_bytes == self.done_bytes:
            return
        self.reported_bytes = self.done_bytes
        self.reported_at = time.monotonic()
        elapsed_s = max(time.monotonic() - self.started_at, 1e-6)
        rate_mb_s = (self.done_bytes - self.start_bytes) / elapsed_s / 1e6
        if self.total_bytes:
            pct = 100.0 * self.done_bytes / self.total_bytes
            log.info("%s: %.0f%% (%d of %d bytes) at %.2f MB/s", self.url, pct, self.done_bytes,
                     self.total_bytes, rate_mb_s)
        else:
            log.info("%s: %d bytes at %.2f MB/s", self.url, self.done_bytes, rate_mb_s)


def sha256_of(path: Path) -> str:
    return digests_of(path, ("sha256",))["sha256"]


def digests_of(path: Path, kinds) -> dict:
    """{kind: hex digest} of the file, all kinds in one pass."""
    hashers = {kind: hashlib.new(kind) for kind in kinds}
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {kind: hasher.hexdigest() for kind, hasher in hashers.items()}


def part_path(out: Path) -> Path:
    return out.with_name(out.name + ".part")


def _part_size(part: Path) -> int:
    return part.stat().st_size if part.exists() else 0


def _copy_stream(stream, part: Path, mode: str, expected_body_bytes: int | None,
                 progress: Progress) -> None:
    """Append or write the stream to the part file; a short body is a transient error."""
    received = 0
    with open(part, mode) as f:
        while True:
            try:
                chunk = stream.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                raise TransientError(f"connection broke after {received} bytes: {exc!r}") from exc
            if not chunk:
                break
            f.write(chunk)
            received += len(chunk)
            progress.add(len(chunk))
    # http.client returns b"" when the server closes early instead of raising, so count.
    if expected_body_bytes is not None and received < expected_body_bytes:
        raise TransientError(f"connection closed after {received} of {expected_body_bytes} "
                             f"bytes of the response body")


def _fetch_file_url(url: str, part: Path, total_bytes: int | None) -> None:
    """file:// URLs: a local copy, resumed from the part's size like a Range request would."""
    source = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    if not source.is_file():
        raise UrlGivesUp(f"no such file: {source}")
    offset = _part_size(part)
    source_bytes = source.stat().st_size
    if offset > source_bytes:
        offset = 0
    progress = Progress(url, total_bytes or source_bytes, offset)
    with open(source, "rb") as stream:
        stream.seek(offset)
        _copy_stream(stream, part, "ab" if offset else "wb", source_bytes - offset, progress)


def _parse_content_range_start(value: str | None) -> int | None:
    # "bytes 100-999/1000"
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _fetch_http_url(url: str, part: Path, total_bytes: int | None, timeout_s: float) -> None:
    offset = _part_size(part)
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            # The part is no prefix this server can continue (stale or already too long).
            log.warning("%s: server refused to resume at byte %d (416); restarting from 0",
                        url, offset)
            part.unlink(missing_ok=True)
            raise TransientError("range not satisfiable; restarted from byte 0") from exc
        if exc.code in GIVE_UP_STATUSES:
            raise UrlGivesUp(f"HTTP {exc.code} {exc.reason}") from exc
        raise TransientError(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, socket.gaierror):
            raise UrlGivesUp(f"host not found (DNS: {reason.strerror or reason})") from exc
        if isinstance(reason, OSError) and reason.errno in UNREACHABLE_ERRNOS:
            raise UrlGivesUp(f"host unreachable: {reason.strerror or reason}") from exc
        raise TransientError(f"cannot connect: {reason!r}") from exc

    with response:
        status = response.status
        length = response.headers.get("Content-Length")
        body_bytes = int(length) if length and length.isdigit() else None
        if status == 206 and offset:
            start = _parse_content_range_start(response.headers.get("Content-Range"))
            if start != offset:
                raise TransientError(f"asked for bytes from {offset}, server sent "
                                     f"Content-Range {response.headers.get('Content-Range')!r}")
            log.info("%s: resuming at byte %d", url, offset)
            mode = "ab"
        elif status == 200:
            if offset:
                log.info("%s: server ignored the Range request; restarting from byte 0", url)
            offset = 0
            mode = "wb"
        else:
            raise TransientError(f"unexpected HTTP status {status}")
        if total_bytes is None and body_bytes is not None:
            total_bytes = offset + body_bytes
        progress = Progress(url, total_bytes, offset)
        _copy_stream(response, part, mode, body_bytes, progress)
        progress.report()


def _verify(url: str, part: Path, expected: Expected) -> None:
    """Raise UrlGivesUp (after deleting the part) unless size and sha256 match."""
    size_bytes = part.stat().st_size
    if expected.size_bytes is not None and size_bytes != expected.size_bytes:
        part.unlink(missing_ok=True)
        raise UrlGivesUp(f"size mismatch for {url}: expected {expected.size_bytes} bytes, "
                         f"got {size_bytes}; deleted the download")
    actual = digests_of(part, expected.digests)
    for kind, value in expected.digests.items():
        if actual[kind] != value:
            part.unlink(missing_ok=True)
            raise UrlGivesUp(f"{kind} mismatch for {url}: expected {value}, "
                             f"actual {actual[kind]}; deleted the download")


def _fetch_once(url: str, part: Path, expected: Expected, timeout_s: float) -> None:
    scheme = urllib.parse.urlparse(url).scheme
    if scheme == "file":
        _fetch_file_url(url, part, expected.size_bytes)
    elif scheme in ("http", "https"):
        _fetch_http_url(url, part, expected.size_bytes, timeout_s)
    else:
        raise UrlGivesUp(f"unsupported URL scheme {scheme!r}")


def fetch_from_url(url: str, part: Path, expected: Expected, timeout_s: float, retries: int,
                   backoff_s: float) -> None:
    """Download `url` into `part` and verify it, retrying transient failures with backoff.

    Only attempts that added nothing count against `retries`: a slow link that drops now and
    then but keeps adding data is resumed for as long as it progresses.
    """
    resumed_stale_part = _part_size(part) > 0
    stalls = attempts = 0
    most_bytes = _part_size(part)
    while True:
        attempts += 1
        try:
            _fetch_once(url, part, expected, timeout_s)
            break
        except TransientError as exc:
            now_bytes = _part_size(part)
            progressed = now_bytes > most_bytes
            most_bytes = max(most_bytes, now_bytes)
            if not progressed:
                stalls += 1
            if stalls > retries:
                raise TransientError(f"{exc} (gave up after {attempts} attempts, {stalls} of "
                                     f"them without progress)") from exc
            delay_s = min(backoff_s * 2 ** max(stalls - 1, 0), MAX_BACKOFF_S)
            log.warning("%s: %s; %s; retrying in %.1f s (partial file: %d bytes)", url, exc,
                        "it made progress" if progressed else
                        f"no progress: retry {stalls} of {retries}", delay_s, now_bytes)
            time.sleep(delay_s)
    try:
        _verify(url, part, expected)
    except UrlGivesUp:
        if not resumed_stale_part:
            raise
        # The part came from an earlier run and may belong to another file version: one
        # clean download decides whether this URL really serves different bytes.
        log.warning("%s: verification failed after resuming an earlier partial file; "
                    "downloading again from byte 0", url)
        fetch_from_url(url, part, expected, timeout_s, retries, backoff_s)


def download(out: Path, urls: list[str], expected: Expected, timeout_s: float = 60.0,
             retries: int = 4, backoff_s: float = 1.0) -> Path:
    """Fetch the first URL that yields the expected bytes into `out`; raise DownloadError if none.

    Connection problems are retried on the same URL; 404/403 and checksum mismatches move on
    to the next URL. A part left by broken connections is kept for resuming; one that failed
    verification is deleted.
    """
    if not urls:
        raise DownloadError(f"{out}: no URL given")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(out)
    failures = []
    for url in urls:
        log.info("fetching %s -> %s", url, out)
        try:
            fetch_from_url(url, part, expected, timeout_s, retries, backoff_s)
        except (TransientError, UrlGivesUp) as exc:
            log.warning("%s failed: %s", url, exc)
            failures.append(f"  {url}: {exc}")
            continue
        os.replace(part, out)
        log.info("verified %s (%s) -> %s", url, expected.describe(), out)
        return out
    kept = (f"\npartial file kept for resuming: {part} ({_part_size(part)} bytes)"
            if part.exists() else "")
    raise DownloadError(f"could not download {out.name} (expected {expected.describe()}) "
                        f"from any of {len(urls)} URL(s):\n" + "\n".join(failures) + kept)
