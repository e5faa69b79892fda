"""Check, before any job, that the interpreter building the job venvs is Python 3.11.

The pins in envs/*.lock.txt are for 3.11 (MXNet 1.9.1 has no wheels for later versions): on
3.12+ a venv build would fail late, deep in a pip log. Used by workflow/rules/common.smk at
parse time. Stdlib only.
"""
from __future__ import annotations

import subprocess

WANTED = (3, 11)


def interpreter_version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60).stdout.split()
        return (int(out[0]), int(out[1])) if len(out) == 2 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def venv_python_problem(python: str) -> str | None:
    """None when `python` is a Python 3.11, else the message naming it and the fix."""
    found = interpreter_version(python)
    if found == WANTED:
        return None
    what = f"is Python {found[0]}.{found[1]}" if found else "does not run"
    return (f"the interpreter that builds the job venvs ({python}) {what}; the pins in envs/ "
            f"need Python 3.11. Run the workflow through `python3 alexbench.py ...` (it finds "
            f"or fetches a 3.11), or give one: --config venv_python=/path/to/python3.11 "
            f"(or use --use-conda).")
