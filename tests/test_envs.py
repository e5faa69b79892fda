"""Job environments: conda files and pip lock files pin the same versions, and the venvs the
workflow builds where conda is absent import their framework and run a forward pass."""
import re

import pytest
import yaml

from conftest import REPO, run_json_in_env

from alexbench.common import registry

ENVS = sorted(p.name.removesuffix(".yaml") for p in (REPO / "envs").glob("*.yaml"))
BUILT_HERE = ["keras-cpu", "pytorch-cpu", "gluon-cpu", "report"]  # the GPU builds need CUDA
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
    # Every env a job can run in (the registry's list) has its pair of files.
    assert set(registry.job_envs()) <= set(ENVS)


@pytest.mark.parametrize("env", ENVS)
def test_conda_file_and_lock_file_pin_the_same_versions(env):
    assert conda_pins(env) == lock_pins(env)


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
    if env != "report":
        assert result["output_shape"] == [2, 3]
