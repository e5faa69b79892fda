"""Run alexbench's workflow from any Python 3 or conda: `python3 alexbench.py -j4 [snakemake args]`.

The job environments pin packages for Python 3.11 (MXNet's wheels stop there), and current
Debian and Ubuntu neither ship 3.11 nor let pip install into the system Python (PEP 668). So
this script puts Snakemake into a venv of its own, `.venvs/snakemake`, made from a Python 3.11
found or fetched in this order, and then runs Snakemake from it (the job venvs are made from
the same interpreter):

1. $ALEXBENCH_PYTHON, `python3.11`, `python3` (if 3.11), pyenv's 3.11;
2. conda (or mamba/micromamba): `conda create -p .venvs/python3.11 python=3.11`;
3. uv: `uv python install 3.11`, with uv itself taken from its PyPI wheel when it is not
   installed (sha256-checked; ALEXBENCH_NO_DOWNLOAD=1 forbids this).

Nothing is installed outside `.venvs/`. `--bootstrap-python` prints the interpreter and stops.
Stdlib only, Python 3.8+.
"""
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent
VENVS = REPO / ".venvs"
SNAKEMAKE_VENV = VENVS / "snakemake"
CONDA_PYTHON = VENVS / "python3.11"
UV_DIR = VENVS / "uv"
WANTED = (3, 11)
SNAKEMAKE_PIN = "snakemake==9.27.1"


def say(message):
    print(f"alexbench.py: {message}", file=sys.stderr, flush=True)


def version_of(python):
    """(major, minor) of an interpreter, or None when it does not run."""
    try:
        out = subprocess.run([str(python), "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60).stdout.split()
        return tuple(map(int, out)) if len(out) == 2 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def found_python():
    """A Python 3.11 already on this machine, or None."""
    candidates = [os.environ.get("ALEXBENCH_PYTHON"), shutil.which("python3.11"),
                  shutil.which("python3"), str(CONDA_PYTHON / "bin" / "python3.11")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(map(str, pyenv.glob("3.11*/bin/python3.11")), reverse=True)
    for python in filter(None, candidates):
        if Path(python).exists() and version_of(python) == WANTED:
            return python
    return None


def python_from_conda():
    conda = next(filter(None, map(shutil.which, ("conda", "mamba", "micromamba"))), None)
    if not conda:
        return None
    say(f"creating {CONDA_PYTHON} (Python 3.11) with {conda}")
    subprocess.run([conda, "create", "-y", "-p", str(CONDA_PYTHON), "python=3.11"], check=True)
    return str(CONDA_PYTHON / "bin" / "python3.11")


def fetch_uv():
    """uv's binary from its PyPI wheel for this platform, checked against PyPI's sha256."""
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64",
               "arm64": "aarch64"}.get(platform.machine().lower())
    if not sys.platform.startswith("linux") or not machine:
        return None
    with urllib.request.urlopen("https://pypi.org/pypi/uv/json", timeout=60) as response:
        release = json.load(response)
    wheels = [u for u in release["urls"] if u["filename"].endswith(".whl")
              and "manylinux" in u["filename"] and machine in u["filename"]]
    if not wheels:
        return None
    say(f"fetching {wheels[0]['filename']} from PyPI")
    with urllib.request.urlopen(wheels[0]["url"], timeout=300) as response:
        data = response.read()
    if hashlib.sha256(data).hexdigest() != wheels[0]["digests"]["sha256"]:
        raise SystemExit("alexbench.py: the uv wheel does not match PyPI's sha256; not using it")
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        member = next(n for n in wheel.namelist() if n.endswith("/scripts/uv"))
        (UV_DIR / "bin").mkdir(parents=True, exist_ok=True)
        target = UV_DIR / "bin" / "uv"
        target.write_bytes(wheel.read(member))
        target.chmod(0o755)
    return str(target)


def python_from_uv():
    uv = shutil.which("uv") or str(UV_DIR / "bin" / "uv")
    if not Path(uv).exists():
        if os.environ.get("ALEXBENCH_NO_DOWNLOAD"):
            return None
        uv = fetch_uv()
        if not uv:
            return None
    env = dict(os.environ, UV_PYTHON_INSTALL_DIR=str(UV_DIR / "python"))
    subprocess.run([uv, "python", "install", "3.11"], check=True, env=env)
    return subprocess.run([uv, "python", "find", "3.11"], check=True, env=env,
                          capture_output=True, text=True).stdout.strip()


def python311():
    try:
        python = found_python() or python_from_conda() or python_from_uv()
    except (subprocess.CalledProcessError, OSError) as exc:
        raise SystemExit(f"alexbench.py: getting a Python 3.11 failed: {exc}")
    if not python or version_of(python) != WANTED:
        raise SystemExit(
            "alexbench.py: no Python 3.11 found, and none could be fetched (no conda, no uv, "
            "or downloads forbidden). The job environments' pins need 3.11. Install one "
            "(conda/miniforge, uv, pyenv, or your distribution's python3.11 with its venv "
            "module) and run again, or point ALEXBENCH_PYTHON at it.")
    return python


def snakemake_python(python):
    """.venvs/snakemake's interpreter, (re)built from `python` when missing or not 3.11."""
    venv_python = SNAKEMAKE_VENV / "bin" / "python"
    ready = SNAKEMAKE_VENV / "ready"
    if ready.exists() and ready.read_text() == SNAKEMAKE_PIN and version_of(venv_python) == WANTED:
        return str(venv_python)
    shutil.rmtree(SNAKEMAKE_VENV, ignore_errors=True)
    say(f"creating {SNAKEMAKE_VENV} from {python} with {SNAKEMAKE_PIN}")
    made = subprocess.run([python, "-m", "venv", str(SNAKEMAKE_VENV)])
    if made.returncode:
        raise SystemExit(f"alexbench.py: {python} cannot create a venv; on Debian/Ubuntu install "
                         f"its venv module (apt install python3.11-venv)")
    subprocess.run([str(venv_python), "-m", "pip", "install", "--no-input", SNAKEMAKE_PIN],
                   check=True)
    ready.write_text(SNAKEMAKE_PIN)
    return str(venv_python)


def main(argv):
    python = python311()
    if argv[:1] == ["--bootstrap-python"]:
        print(python)
        return 0
    venv_python = snakemake_python(python)
    os.chdir(REPO)
    os.execv(venv_python, [venv_python, "-m", "snakemake", *argv])
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
