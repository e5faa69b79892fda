"""Build a pip virtual environment from a lock file in envs/ (used where conda is absent).

Its last step writes `pip-freeze.txt`, the file Snakemake waits for, so an interrupted build
never leaves a venv that looks finished.

A lock file may name package indexes (`--extra-index-url https://download.pytorch.org/whl/cpu`
for the CPU-only PyTorch wheel, as in the env's conda file). Each is probed first with a short
timeout: pip itself would retry an unreachable index five times per package (minutes) and then
quietly take what the other indexes offer, which for torch is the CUDA build. An unreachable
index stops the build at once with a message, unless ALEXBENCH_SKIP_UNREACHABLE_INDEX=1 says the
packages are available otherwise (a local wheel in pip's find-links, an internal mirror): then
the build goes on without that index, and says so.
"""
import argparse
import logging
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger("build_venv")

INDEX_OPTIONS = ("--index-url", "--extra-index-url", "-i")
SKIP_UNREACHABLE_ENV = "ALEXBENCH_SKIP_UNREACHABLE_INDEX"
PROBE_TIMEOUT_S = 10.0


class UnreachableIndexError(RuntimeError):
    """A package index the lock file needs cannot be reached; the message says what to do."""


def index_url(line: str) -> str | None:
    """The URL of an index option line (`--extra-index-url URL`, `--index-url=URL`, `-i URL`)."""
    line = line.strip()
    for option in INDEX_OPTIONS:
        for separator in (" ", "="):
            if line.startswith(option + separator):
                return line[len(option) + 1:].strip()
    return None


def probe(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when `url` answers at all (any HTTP status below 500), else why not. The body is
    not read: the answer's headers are enough."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s):
            return None
    except urllib.error.HTTPError as exc:
        return None if exc.code < 500 else f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))


def reachable_lines(lock: Path, skip_unreachable: bool) -> list[str] | None:
    """None when every index of `lock` answers; else, when skipping is allowed, its lines
    without the unreachable indexes (otherwise UnreachableIndexError)."""
    lines = lock.read_text().splitlines()
    unreachable = {}
    for line in lines:
        url = index_url(line)
        if url and url.startswith(("http://", "https://")):
            why = probe(url)
            if why:
                unreachable[url] = why
    if not unreachable:
        return None
    listed = "; ".join(f"{url} ({why})" for url, why in unreachable.items())
    if not skip_unreachable:
        raise UnreachableIndexError(
            f"{lock} needs the package index {listed}, which cannot be reached from here. Make "
            f"it reachable (network, proxy), or, when the packages come from elsewhere (a local "
            f"wheel in pip's find-links, an internal mirror in pip.conf), build without it: "
            f"{SKIP_UNREACHABLE_ENV}=1")
    log.warning("%s: building WITHOUT the unreachable index %s (%s=1): pip takes these "
                "packages from its other sources", lock, listed, SKIP_UNREACHABLE_ENV)
    return [line for line in lines if index_url(line) not in unreachable]


def run(cmd):
    log.info("$ %s", " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True)


def build(lock: Path, venv: Path, python: str, check: str | None) -> None:
    # Before anything else: an unreachable index fails the build in seconds, not minutes.
    lock = lock.resolve()
    lines = reachable_lines(lock, os.environ.get(SKIP_UNREACHABLE_ENV, "") not in ("", "0"))
    # Start from nothing: a venv left by an interrupted build has no pip-freeze.txt and must
    # not be patched up, since a half-finished pip install can look importable.
    shutil.rmtree(venv, ignore_errors=True)
    run([python, "-m", "venv", venv])
    interpreter = venv / "bin" / "python"
    requirements = lock
    if lines is not None:
        requirements = venv / f"{lock.stem}.reachable.txt"
        requirements.write_text("\n".join(lines) + "\n")
    run([interpreter, "-m", "pip", "install", "--no-input", "-r", requirements])
    if check:
        # A venv that cannot import its framework or run a forward pass is worse than none.
        run([interpreter, Path(__file__).with_name("check_env.py"), "--env", check])
    freeze = subprocess.run([interpreter, "-m", "pip", "freeze"], check=True,
                            capture_output=True, text=True).stdout
    tmp = venv / "pip-freeze.txt.tmp"
    tmp.write_text(freeze)
    os.replace(tmp, venv / "pip-freeze.txt")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lock", type=Path, required=True, help="envs/<name>.lock.txt")
    parser.add_argument("--venv", type=Path, required=True, help="folder of the venv to build")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that creates the venv (default: the one running this)")
    parser.add_argument("--check", default=None,
                        help="env name for check_env.py (import the framework, one forward pass)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        build(args.lock, args.venv, args.python, args.check)
    except UnreachableIndexError as exc:
        log.error("%s", exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
