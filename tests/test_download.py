"""download.py against a real HTTP server on 127.0.0.1: mirror fallback, retries, resume, and
verification that never leaves a bad file behind. The CLI runs in the report venv, as the
workflow calls it."""
import hashlib
import os
import socket
import subprocess
from pathlib import Path

import pytest

from plugins.loopback import corrupted

REPO = Path(__file__).resolve().parents[1]
DOWNLOAD = REPO / "workflow" / "scripts" / "download.py"
PAYLOAD_BYTES = 300_000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def payload(loopback_server) -> bytes:
    """Random bytes served as mirror/a.bin and mirror/b.bin."""
    data = os.urandom(PAYLOAD_BYTES)
    for name in ("a.bin", "b.bin"):
        (loopback_server.root / name).write_bytes(data)
    return data


def run_download(out: Path, sha: str, urls, *extra, timeout_s: float = 60):
    python = REPO / ".venvs" / "report" / "bin" / "python"
    args = [python, DOWNLOAD, "--out", out, "--sha256", sha, "--backoff-s", "0.01",
            "--timeout-s", "10", *extra]
    for url in urls:
        args += ["--url", url]
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout_s, cwd=REPO)


def assert_nothing_left(out: Path):
    assert not out.exists(), f"{out} must not exist after a failed download"
    assert not out.with_name(out.name + ".part").exists(), "a partial file was left behind"


def test_falls_back_to_next_url_on_404(tmp_path, loopback_server, payload):
    loopback_server.set_behaviour("a.bin", status=404)
    out = tmp_path / "dl" / "file.bin"
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin"),
                                               loopback_server.url_for("b.bin")])
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == payload
    assert [r.status for r in loopback_server.requests_for("a.bin")] == [404]  # no retry of a 404
    assert [r.status for r in loopback_server.requests_for("b.bin")] == [200]
    assert not out.with_name("file.bin.part").exists()


def test_retries_server_errors_on_the_same_url(tmp_path, loopback_server, payload):
    loopback_server.set_behaviour("a.bin", status=503, times=2)
    out = tmp_path / "file.bin"
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin")], "--retries", "2")
    assert proc.returncode == 0, proc.stderr
    assert [r.status for r in loopback_server.requests_for("a.bin")] == [503, 503, 200]
    assert out.read_bytes() == payload


def test_resumes_with_range_after_connection_drops(tmp_path, loopback_server, payload):
    loopback_server.set_behaviour("a.bin", drop_after_bytes=100_000, times=1)
    out = tmp_path / "file.bin"
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin")],
                        "--bytes", str(PAYLOAD_BYTES))
    assert proc.returncode == 0, proc.stderr
    first, second = loopback_server.requests_for("a.bin")
    assert (first.range, first.body_bytes_sent) == (None, 100_000)
    assert (second.range, second.status) == ("bytes=100000-", 206)
    assert second.body_bytes_sent == PAYLOAD_BYTES - 100_000  # only the missing tail
    assert out.read_bytes() == payload
    assert "resuming at byte 100000" in proc.stderr


def test_restarts_from_zero_when_server_ignores_range(tmp_path, loopback_server, payload):
    loopback_server.set_behaviour("a.bin", drop_after_bytes=100_000, times=1, honour_range=False)
    out = tmp_path / "file.bin"
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin")])
    assert proc.returncode == 0, proc.stderr
    second = loopback_server.requests_for("a.bin")[1]
    assert (second.range, second.status) == ("bytes=100000-", 200)
    assert out.read_bytes() == payload


def test_resumes_a_partial_file_from_an_earlier_run(tmp_path, loopback_server, payload):
    out = tmp_path / "file.bin"
    out.with_name("file.bin.part").write_bytes(payload[:1234])
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin")])
    assert proc.returncode == 0, proc.stderr
    assert [r.range for r in loopback_server.requests_for("a.bin")] == ["bytes=1234-"]
    assert out.read_bytes() == payload


def test_stale_partial_file_is_discarded_and_downloaded_again(tmp_path, loopback_server, payload):
    out = tmp_path / "file.bin"
    out.with_name("file.bin.part").write_bytes(b"bytes of some other file version")
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin")])
    assert proc.returncode == 0, proc.stderr
    assert [r.range for r in loopback_server.requests_for("a.bin")] == ["bytes=32-", None]
    assert out.read_bytes() == payload


def test_checksum_mismatch_fails_naming_url_and_digests(tmp_path, loopback_server, payload):
    loopback_server.set_behaviour("a.bin", corrupt=True)
    out = tmp_path / "file.bin"
    url = loopback_server.url_for("a.bin")
    proc = run_download(out, sha256(payload), [url])
    assert proc.returncode != 0
    assert url in proc.stderr
    assert f"expected {sha256(payload)}" in proc.stderr
    assert f"actual {sha256(corrupted(payload))}" in proc.stderr
    assert_nothing_left(out)


def test_corrupt_mirror_falls_through_to_a_good_one(tmp_path, loopback_server, payload):
    loopback_server.set_behaviour("a.bin", corrupt=True)
    out = tmp_path / "file.bin"
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin"),
                                               loopback_server.url_for("b.bin")])
    assert proc.returncode == 0, proc.stderr
    assert "sha256 mismatch" in proc.stderr
    assert out.read_bytes() == payload


@pytest.mark.parametrize("declare_size", [True, False], ids=["size-check", "sha-check"])
def test_truncated_file_is_rejected(tmp_path, loopback_server, payload, declare_size):
    # The server serves a shorter file with a matching Content-Length: only verification can tell.
    loopback_server.set_behaviour("a.bin", truncate_bytes=PAYLOAD_BYTES // 2)
    out = tmp_path / "file.bin"
    extra = ["--bytes", str(PAYLOAD_BYTES)] if declare_size else []
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin")], *extra)
    assert proc.returncode != 0
    if declare_size:
        assert f"expected {PAYLOAD_BYTES} bytes, got {PAYLOAD_BYTES // 2}" in proc.stderr
    else:
        assert f"actual {sha256(payload[:PAYLOAD_BYTES // 2])}" in proc.stderr
    assert_nothing_left(out)


def test_connection_that_always_drops_fails_and_keeps_part_for_resume(tmp_path, loopback_server,
                                                                       payload):
    loopback_server.set_behaviour("a.bin", drop_after_bytes=50_000, honour_range=False)
    out = tmp_path / "file.bin"
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin")], "--retries", "2")
    assert proc.returncode != 0
    # The first attempt brought 50,000 new bytes; the next three restarted from 0 and added
    # nothing: only those count against --retries 2.
    assert len(loopback_server.requests_for("a.bin")) == 4
    assert "gave up after 4 attempts, 3 of them without progress" in proc.stderr
    assert not out.exists()
    assert out.with_name("file.bin.part").stat().st_size == 50_000


def test_slow_but_progressing_download_is_resumed_until_complete(tmp_path, loopback_server,
                                                                 payload):
    """Every connection drops after 40,000 bytes, but each resumes where the last stopped:
    eight attempts, all progressing, so --retries 1 does not give up."""
    loopback_server.set_behaviour("a.bin", drop_after_bytes=40_000)
    out = tmp_path / "file.bin"
    proc = run_download(out, sha256(payload), [loopback_server.url_for("a.bin")], "--retries", "1")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == payload
    ranges = [r.range for r in loopback_server.requests_for("a.bin")]
    assert ranges == [None] + [f"bytes={40_000 * i}-" for i in range(1, 8)]


def test_unknown_host_moves_to_the_next_url_at_once(tmp_path, loopback_server, payload):
    """A name that does not resolve (the reserved .invalid domain, so never the internet):
    no retries on it, straight to the next URL."""
    unknown = "http://alexbench-mirror.invalid/a.bin"
    out = tmp_path / "file.bin"
    proc = run_download(out, sha256(payload), [unknown, loopback_server.url_for("a.bin")],
                        "--retries", "4")
    assert proc.returncode == 0, proc.stderr
    assert f"{unknown} failed: host not found" in proc.stderr
    assert "retrying" not in proc.stderr


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_all_urls_failing_lists_each_url_and_why(tmp_path, loopback_server, payload):
    loopback_server.set_behaviour("a.bin", status=403)
    refused = f"http://127.0.0.1:{unused_port()}/a.bin"
    missing = (tmp_path / "nowhere" / "a.bin").as_uri()
    urls = [loopback_server.url_for("a.bin"), refused, missing]
    out = tmp_path / "file.bin"
    proc = run_download(out, sha256(payload), urls, "--retries", "1")
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert any(loopback_server.url_for("a.bin") in line and "HTTP 403" in line for line in lines)
    assert any(refused in line and "cannot connect" in line for line in lines)
    assert any(missing in line and "no such file" in line for line in lines)
    assert_nothing_left(out)


def test_file_url(tmp_path, payload, loopback_server):
    out = tmp_path / "file.bin"
    proc = run_download(out, sha256(payload), [(loopback_server.root / "a.bin").as_uri()])
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == payload


def test_rejects_malformed_digest(tmp_path, loopback_server, payload):
    proc = run_download(tmp_path / "f.bin", "abc123", [loopback_server.url_for("a.bin")])
    assert proc.returncode != 0
    assert "not a sha256 hex digest: 'abc123'" in proc.stderr
    assert loopback_server.requests == []


def test_downloader_needs_only_the_standard_library(tmp_path, payload, loopback_server):
    """The workflow runs it with a bare python3, before any venv exists: -S hides site-packages."""
    out = tmp_path / "file.bin"
    proc = subprocess.run([str(REPO / ".venvs/report/bin/python"), "-S", str(DOWNLOAD),
                           "--out", str(out), "--sha256", sha256(payload),
                           "--url", loopback_server.url_for("a.bin")],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == payload


def test_digest_can_come_from_a_sha256sum_list(tmp_path, loopback_server, payload):
    """The demo's synthetic archives carry their own SHA256SUMS; a file it does not list fails."""
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'0' * 64}  other.bin\n{sha256(payload)} *file.bin\n")
    python = REPO / ".venvs" / "report" / "bin" / "python"
    out = tmp_path / "dl" / "file.bin"
    proc = subprocess.run([str(python), str(DOWNLOAD), "--out", str(out), "--sha256-file", str(sums),
                           "--url", loopback_server.url_for("a.bin")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == payload
    missing = tmp_path / "dl" / "unlisted.bin"
    proc = subprocess.run([str(python), str(DOWNLOAD), "--out", str(missing), "--sha256-file", str(sums),
                           "--url", loopback_server.url_for("a.bin")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and "lists no digest for unlisted.bin" in proc.stderr
    assert_nothing_left(missing)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def run_download_with(out: Path, digest_args, urls):
    python = REPO / ".venvs" / "report" / "bin" / "python"
    args = [python, DOWNLOAD, "--out", out, "--backoff-s", "0.01", "--timeout-s", "10", *digest_args]
    for url in urls:
        args += ["--url", url]
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, cwd=REPO)


def test_the_digest_kind_a_source_publishes_is_checked(tmp_path, loopback_server, payload):
    """The BVLC model zoo publishes sha1: it is checked like a sha256, from config or a list."""
    url = loopback_server.url_for("a.bin")
    out = tmp_path / "ok" / "file.bin"
    proc = run_download_with(out, ["--digest", f"sha1:{sha1(payload)}"], [url])
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == payload
    sums = tmp_path / "SHA1SUMS"
    sums.write_text(f"{sha1(payload)}  listed.bin\n")
    listed = tmp_path / "ok" / "listed.bin"
    proc = run_download_with(listed, ["--digest-file", f"sha1:{sums}"], [url])
    assert proc.returncode == 0, proc.stderr

    bad = tmp_path / "bad" / "file.bin"
    proc = run_download_with(bad, ["--digest", f"sha1:{sha1(payload + b'x')}"], [url])
    assert proc.returncode == 1
    assert f"sha1 mismatch for {url}: expected {sha1(payload + b'x')}, actual {sha1(payload)}" in proc.stderr
    assert_nothing_left(bad)


def test_a_pinned_sha256_is_checked_beside_the_published_sha1(tmp_path, loopback_server, payload):
    url = loopback_server.url_for("a.bin")
    out = tmp_path / "file.bin"
    proc = run_download_with(out, ["--digest", f"sha1:{sha1(payload)}",
                                   "--digest", f"sha256:{'0' * 64}"], [url])
    assert proc.returncode == 1 and "sha256 mismatch" in proc.stderr
    assert_nothing_left(out)
    proc = run_download_with(out, ["--digest", f"sha1:{sha1(payload)}",
                                   "--sha256", sha256(payload)], [url])
    assert proc.returncode == 0, proc.stderr


def test_unknown_digest_kinds_and_missing_digests_are_refused(tmp_path, loopback_server, payload):
    url = loopback_server.url_for("a.bin")
    proc = run_download_with(tmp_path / "f.bin", ["--digest", f"md4:{'0' * 32}"], [url])
    assert proc.returncode == 1 and "unsupported digest kind 'md4'" in proc.stderr
    proc = run_download_with(tmp_path / "f.bin", [], [url])
    assert proc.returncode == 1 and "give an expected digest" in proc.stderr
    assert loopback_server.requests == []
