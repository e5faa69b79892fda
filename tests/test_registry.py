"""The registry (alexbench/common/registry.py) is the one list of frameworks, hardware kinds and
model variants: the schemas, the wildcard constraints, the env files, the backends and the
report all agree with it."""
import importlib.util
import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, SCRIPTS, run_in_env
from plugins.checkout import copy_checkout

from alexbench.common import layer_specs, registry, run_contract
from alexbench import workflow_config


def test_models_are_the_layer_specs_variants():
    assert registry.MODELS == layer_specs.MODEL_NAMES


def test_config_schema_enums_come_from_the_registry():
    schema = workflow_config.load_schema()
    assert schema["$defs"]["framework"]["enum"] == list(registry.framework_names())
    experiment = schema["properties"]["experiments"]["additionalProperties"]["properties"]
    assert experiment["model"]["enum"] == list(registry.MODELS)
    # The file itself names the registry instead of repeating its lists.
    text = (REPO / "workflow" / "schemas" / "config.schema.yaml").read_text()
    for name in ("keras", "alexnet-d2l"):
        assert not re.search(rf"\b{name}\b", text), f"config.schema.yaml repeats {name!r}"


def test_metrics_schema_enums_come_from_the_registry():
    run = run_contract.load_schema(run_contract.METRICS_SCHEMA)["properties"]["run"]["properties"]
    assert run["framework"]["enum"] == list(registry.framework_names())
    assert run["model"]["enum"] == list(registry.MODELS)
    assert run["hardware"]["enum"] == list(registry.HARDWARE)
    text = (REPO / "workflow" / "schemas" / "metrics.schema.json").read_text()
    assert '"gluon"' not in text and '"alexnet-mnist"' not in text


def test_an_unknown_enum_source_is_refused():
    with pytest.raises(ValueError, match="x-enum-from 'colours'"):
        registry.fill_enums({"x-enum-from": "colours"})


def wildcard_constraints():
    """The constraints common.smk declares, evaluated against the registry as Snakemake does."""
    text = (REPO / "workflow" / "rules" / "common.smk").read_text()
    block = text.split("wildcard_constraints:")[1].split("\n\n")[0]
    found = {}
    for line in block.strip().splitlines():
        name, _, expression = line.strip().rstrip(",").partition("=")
        if name in ("framework", "hardware", "model", "env"):
            found[name] = eval(expression, {"registry": registry})  # noqa: S307 (our own file)
    return found


@pytest.mark.parametrize("name, values", [
    ("framework", registry.framework_names()), ("hardware", registry.HARDWARE),
    ("model", registry.MODELS), ("env", registry.job_envs())])
def test_wildcard_constraints_match_exactly_the_registry(name, values):
    pattern = re.compile(wildcard_constraints()[name])
    for value in values:
        assert pattern.fullmatch(value), (name, value)
    for other in ("jax", "alexnet", "cpu-gpu", "tpu", "keras-tpu"):
        if other not in values:
            assert not pattern.fullmatch(other), (name, other)


@pytest.mark.parametrize("framework", registry.framework_names())
def test_every_framework_has_its_backend_and_env_files(framework):
    entry = registry.framework(framework)
    backend_dir = SCRIPTS.joinpath(*entry.backend.split("."))
    assert (backend_dir / "loop.py").is_file() and (backend_dir / "models.py").is_file()
    for hardware in registry.HARDWARE:
        env = entry.env_name(hardware)
        assert (REPO / "envs" / f"{env}.yaml").is_file() and (REPO / "envs" / f"{env}.lock.txt").is_file()
        assert registry.framework_of_env(env) is entry


def test_the_default_config_uses_registered_frameworks_only():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    used = {f for exp in config["experiments"].values() for f in exp["frameworks"]}
    assert used <= set(registry.framework_names())


def test_report_labels_and_colours_are_the_registry_s():
    spec = importlib.util.find_spec("pandas")
    if spec is None:
        pytest.skip("the report modules need pandas (the report env)")
    from alexbench.reporting import plots, tables
    for name, entry in registry.FRAMEWORKS.items():
        assert plots.FRAMEWORK_COLOURS[name] == entry.colour
        assert plots.FRAMEWORK_LABELS[name] == tables.FRAMEWORK_NAMES[name] == entry.label
    assert len(set(plots.FRAMEWORK_COLOURS.values())) == len(registry.FRAMEWORKS)


# --- a fourth framework, added through the registry alone ----------------------------------------

FOURTH = ('\n\n# Added by tests/test_registry.py: a fourth framework name, backed by the PyTorch backend.\n'
          '_FRAMEWORKS += (Framework("torch2", "PyTorch, second name", "#CC79A7", ("torch",), '
          '"pytorch", "alexbench.fw_pytorch"),)\n'
          'FRAMEWORKS = {f.name: f for f in _FRAMEWORKS}\n')
FOURTH_EXPERIMENT = {"experiments": {"X4": {
    "title": "A fourth framework through the registry", "source": "S2", "frameworks": ["torch2", "pytorch"],
    "model": "alexnet-lrn-32", "dataset": "mnist", "epochs": 1, "batch_size": 32,
    "optimizer": {"name": "adam", "learning_rate": 0.001}, "seeds": [0]}}}


@pytest.mark.slow
def test_a_fourth_framework_needs_one_registry_entry(tmp_path):
    """Only registry.py changes: the schemas, wildcard constraints, the harness, the backend
    interface check and the report all take the new name; one smoke run and the report go
    through it (backed by the PyTorch backend and its env)."""
    checkout = copy_checkout(tmp_path / "clone")
    registry_file = checkout / "workflow" / "scripts" / "alexbench" / "common" / "registry.py"
    registry_file.write_text(registry_file.read_text() + FOURTH)
    extra = tmp_path / "fourth.yaml"
    extra.write_text(yaml.safe_dump(FOURTH_EXPERIMENT))

    probe = run_in_env("pytorch-cpu", [checkout / "tests" / "probes" / "backend_interface.py",
                                       "--framework", "torch2"])
    assert json.loads(probe.stdout.splitlines()[-1])["problems"] == []

    proc = subprocess.run([sys.executable, "-m", "snakemake", "-j2", "--configfile", "config.yaml",
                           str(extra), "--config", "demo=true", "experiments_only=[X4]",
                           "hardware=[cpu]"], cwd=checkout, capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    metrics = read_metrics_in(checkout, "results/runs/torch2/mnist/alexnet-lrn-32/cpu/fp32/seed0/metrics.json")
    assert metrics["run"]["framework"] == "torch2" and metrics["status"] == "ok"
    assert "torch==" in (checkout / "results/runs/torch2/mnist/alexnet-lrn-32/cpu/fp32/seed0/env.txt").read_text()
    page = (checkout / "results" / "report.html").read_text()
    assert "PyTorch, second name" in page and 'data-run="torch2-mnist-alexnet-lrn-32-cpu-fp32-seed0"' in page


def read_metrics_in(checkout, path):
    """A metrics.json read and validated by the copy's own run contract (its schema's enums come
    from the copy's registry, which knows torch2)."""
    code = ("import sys, json; sys.path.insert(0, 'workflow/scripts');"
            "from alexbench.common import run_contract;"
            f"print(json.dumps(run_contract.read_metrics({str(path)!r})))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=checkout, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
