"""Build a pip virtual environment from a lock file in envs/ (used where conda is absent).

Its last step writes `pip-freeze.txt`, the file Snakemake waits for, so an interrupted build
never leaves a venv that looks finished.
"""
import argparse
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger("build_venv")


def run(cmd):
    log.info("$ %s", " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True)


def build(lock: Path, venv: Path, python: str, check: str | None) -> None:
    # Start from nothing: a venv left by an interrupted build has no pip-freeze.txt and must
    # not be patched up, since a half-finished pip install can look importable.
    shutil.rmtree(venv, ignore_errors=True)
    run([python, "-m", "venv", venv])
    interpreter = venv / "bin" / "python"
    run([interpreter, "-m", "pip", "install", "--no-input", "-r", lock.resolve()])
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
    build(args.lock, args.venv, args.python, args.check)


if __name__ == "__main__":
    main()
