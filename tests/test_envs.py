"""Job environments: conda files and pip lock files pin the same versions, and the venvs the
workflow builds where conda is absent import their framework and run a forward pass."""
import re
import socket
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, SCRIPTS, run_json_in_env

sys.path.insert(0, str(SCRIPTS))
import build_venv  # noqa: E402  (workflow/scripts/build_venv.py, stdlib only)

from alexbench.common import registry

ENVS = sorted(p.name.removesuffix(".yaml") for p in (REPO / "envs").glob("*.yaml"))
BUILT_HERE = ["keras-cpu", "pytorch-cpu", "gluon-cpu", "report", "export"]  # the GPU builds need CUDA
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)$")


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines):
    found = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue  # comments and pip options (-r, --extra-index-url)
        match = PIN.match(line)
        assert match, f"not pinned with '==': {line!r}"
        found[normalise(match.group(1))] = match.group(2)
    return found


def options(lines):
    """pip option lines (--extra-index-url ...), normalised to 'option value'."""
    return sorted(" ".join(line.strip().replace("=", " ", 1).split())
                  for line in map(str, lines) if line.strip().startswith("-"))


def lock_pins(env):
    lines = (REPO / "envs" / f"{env}.lock.txt").read_text().splitlines()
    return pins(lines)


def conda_pins(env):
    spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
    pip_section = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    assert any(str(d).startswith("python=3.11") for d in spec["dependencies"]), env
    return pins(pip_section)


def test_every_env_has_a_conda_file_and_a_lock_file():
    locks = sorted(p.name.removesuffix(".lock.txt") for p in (REPO / "envs").glob("*.lock.txt"))
    assert sorted(set(locks) - {"dev"}) == ENVS
    # Every env a job can run in (the registry's list, export included) has its pair of files.
    assert set(registry.job_envs()) <= set(ENVS) and "export" in ENVS


@pytest.mark.parametrize("env", ENVS)
def test_conda_file_and_lock_file_pin_the_same_versions(env):
    assert conda_pins(env) == lock_pins(env)


@pytest.mark.parametrize("env", ENVS)
def test_conda_file_and_lock_file_use_the_same_indexes(env):
    spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
    pip_section = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    lock = (REPO / "envs" / f"{env}.lock.txt").read_text().splitlines()
    assert options(pip_section) == options(lock)


def test_pytorch_cpu_pins_the_cpu_wheel_index():
    lock = (REPO / "envs" / "pytorch-cpu.lock.txt").read_text().splitlines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in options(lock)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_index_stops_the_build_at_once_with_a_message(tmp_path):
    url = f"http://127.0.0.1:{unused_port()}/whl/cpu"
    lock = tmp_path / "x.lock.txt"
    lock.write_text(f"--extra-index-url {url}\nnumpy==2.4.6\n")
    venv = tmp_path / "venv"
    proc = subprocess.run([sys.executable, SCRIPTS / "build_venv.py", "--lock", lock,
                           "--venv", venv], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1, proc.stderr
    assert f"needs the package index {url}" in proc.stderr
    assert "ALEXBENCH_SKIP_UNREACHABLE_INDEX=1" in proc.stderr
    assert "pip install" not in proc.stderr, "pip ran (and would retry the index for minutes)"
    assert not venv.exists(), "nothing is built before the indexes were found reachable"


def test_the_opt_out_builds_without_the_unreachable_index_only(tmp_path, loopback_server):
    down = f"http://127.0.0.1:{unused_port()}/whl/cpu"
    up = f"{loopback_server.url}/simple/"
    lock = tmp_path / "x.lock.txt"
    lock.write_text(f"--extra-index-url {down}\n--index-url={up}\nnumpy==2.4.6\n")
    with pytest.raises(build_venv.UnreachableIndexError, match=re.escape(down)):
        build_venv.reachable_lines(lock, skip_unreachable=False)
    assert build_venv.reachable_lines(lock, skip_unreachable=True) == [f"--index-url={up}",
                                                                        "numpy==2.4.6"]
    reachable = tmp_path / "ok.lock.txt"
    reachable.write_text(f"--index-url {up}\nnumpy==2.4.6\n")
    assert build_venv.reachable_lines(reachable, skip_unreachable=False) is None


@pytest.mark.parametrize("env", BUILT_HERE)
def test_workflow_built_venv_matches_its_lock_and_runs_a_forward_pass(env):
    freeze_file = REPO / ".venvs" / env / "pip-freeze.txt"
    assert freeze_file.exists(), "tests/run builds the venvs through the workflow's build_venv jobs"
    installed = {}
    for line in freeze_file.read_text().splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
            installed[normalise(name)] = version
    for name, version in lock_pins(env).items():
        base = normalise(name.split("[")[0])
        # A local version label (torch 2.13.0+cpu) satisfies the plain pin 2.13.0.
        assert installed.get(base, "").split("+")[0] == version, (env, name, installed.get(base))
    result = run_json_in_env(env, ["workflow/scripts/check_env.py", "--env", env])
    assert result["env"] == env
    if env not in ("report", "export"):
        assert result["output_shape"] == [2, 3]
