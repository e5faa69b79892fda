"""Shared test set-up: import path for the alexbench package, the job venvs, and fixture plugins.

Framework code never runs inside this pytest process: each framework lives in its own venv
(built by the test command, tests/run), and tests call that venv's interpreter.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))

# Every module in tests/plugins/ contributes fixtures to all tests.
pytest_plugins = sorted(f"plugins.{p.stem}" for p in (REPO / "tests" / "plugins").glob("*.py")
                        if p.stem != "__init__")

from alexbench.common import registry  # noqa: E402  (stdlib only)

FRAMEWORKS = registry.framework_names()
# Training runs started by tests keep their progress lines in their logs, off the terminal
# that runs pytest (common/progress.py).
os.environ.setdefault("ALEXBENCH_PROGRESS_TTY", "0")


def env_python(env: str) -> Path:
    """Interpreter of a job venv such as 'keras-cpu' (built by tests/run before pytest starts)."""
    python = REPO / ".venvs" / env / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run the test command (tests/run), which builds the venvs")
    return python


def run_in_env(env: str, args, timeout: float = 900, check: bool = True, **kwargs):
    """Run `python args...` in a job venv from the repo root; returns the CompletedProcess."""
    proc = subprocess.run([str(env_python(env)), *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        pytest.fail(f"{env}: {' '.join(map(str, args))} exited {proc.returncode}\n"
                    f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-6000:]}")
    return proc


def run_json_in_env(env: str, args, timeout: float = 900):
    """Run a probe that prints one JSON document as its last stdout line, and parse it."""
    proc = run_in_env(env, args, timeout=timeout)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def repo():
    return REPO
