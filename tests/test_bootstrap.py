"""The README's first command on machines without a usable Python 3.11: alexbench.py finds or
fetches a 3.11 and never installs into the system Python (PEP 668), and the workflow refuses a
venv interpreter that is not 3.11 before any job, naming the fix.

A fresh Debian 13 (system python3 3.13, externally managed) and a conda-only machine cannot be
had here: pyenv's 3.12 stands in for the system python3, and a PATH of chosen commands for the
machine. (PEP 668 needs no stand-in: alexbench.py only ever pip-installs inside .venvs/.)
"""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from plugins.checkout import copy_checkout
from test_config import dry_run

PYENV = Path.home() / ".pyenv" / "versions"
PY312 = next(iter(sorted(PYENV.glob("3.12*/bin/python3.12"))), None)
PY311 = next(iter(sorted(PYENV.glob("3.11*/bin/python3.11"))), None)
needs_pythons = pytest.mark.skipif(not (PY312 and PY311),
                                   reason="needs pyenv's Python 3.11 and 3.12")


def fake_path(tmp_path: Path, **links: Path) -> str:
    """A PATH holding only the given command names (this machine's /usr/bin has a 3.11)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, target in links.items():
        (folder / name).symlink_to(target)
    return str(folder)


def bootstrap(python: Path, tmp_path: Path, path: str, *args: str,
              script: Path = REPO / "alexbench.py"):
    env = {"PATH": path, "HOME": str(tmp_path / "home"), "ALEXBENCH_NO_DOWNLOAD": "1"}
    return subprocess.run([str(python), str(script), *args], env=env,
                          capture_output=True, text=True, timeout=120)


@needs_pythons
def test_a_python_3_11_beside_a_newer_system_python3_is_chosen(tmp_path):
    path = fake_path(tmp_path, python3=PY312, **{"python3.11": PY311})
    proc = bootstrap(PY312, tmp_path, path, "--bootstrap-python")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "bin" / "python3.11")


@needs_pythons
def test_without_any_python_3_11_it_stops_naming_the_ways_to_get_one(tmp_path):
    path = fake_path(tmp_path, python3=PY312)
    proc = bootstrap(PY312, tmp_path, path, "--bootstrap-python")
    assert proc.returncode != 0
    assert "no Python 3.11 found" in proc.stderr and "ALEXBENCH_PYTHON" in proc.stderr


@needs_pythons
def test_the_workflow_refuses_a_venv_python_that_is_not_3_11_before_any_job(tmp_path):
    fresh = copy_checkout(tmp_path / "clone", venvs=False)
    proc = dry_run("--config", f"venv_python={PY312}", quiet=False, cwd=fresh)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"({PY312}) is Python 3.12" in output
    assert "python3 alexbench.py" in output and "venv_python=/path/to/python3.11" in output
    assert "rule build_venv" not in output
    proc = dry_run("--config", f"venv_python={PY311}", cwd=fresh)
    assert proc.returncode == 0, proc.stderr


def fake_tool(folder: Path, name: str, script: str) -> None:
    tool = folder / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)


@needs_pythons
def test_on_a_conda_only_machine_conda_provides_the_3_11(tmp_path):
    """A stand-in conda that records its arguments and 'creates' the env from pyenv's 3.11."""
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "alexbench.py").write_bytes((REPO / "alexbench.py").read_bytes())
    path = fake_path(tmp_path, python3=PY312)
    fake_tool(tmp_path / "bin", "conda",
              f'echo "$@" > {tmp_path}/conda-args\n'
              f'/bin/mkdir -p "$4/bin" && /bin/ln -s {PY311} "$4/bin/python3.11"\n')
    proc = bootstrap(PY312, tmp_path, path, "--bootstrap-python", script=work / "alexbench.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(work / ".venvs" / "python3.11" / "bin" / "python3.11")
    assert (tmp_path / "conda-args").read_text().split() == [
        "create", "-y", "-p", str(work / ".venvs" / "python3.11"), "python=3.11"]


@needs_pythons
def test_with_uv_but_no_3_11_uv_installs_one(tmp_path):
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "alexbench.py").write_bytes((REPO / "alexbench.py").read_bytes())
    path = fake_path(tmp_path, python3=PY312)
    fake_tool(tmp_path / "bin", "uv",
              f'echo "$@ $UV_PYTHON_INSTALL_DIR" >> {tmp_path}/uv-args\n'
              f'[ "$1 $2" = "python find" ] && echo {PY311}\nexit 0\n')
    proc = bootstrap(PY312, tmp_path, path, "--bootstrap-python", script=work / "alexbench.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(PY311)
    calls = (tmp_path / "uv-args").read_text().splitlines()
    assert calls[0] == f"python install 3.11 {work / '.venvs' / 'uv' / 'python'}"
