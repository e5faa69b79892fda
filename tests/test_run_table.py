"""The run table: the workflow writes results/runs.json from the config it validated, the
report reads it, and the paths it names are the ones the train rule writes."""
import json
import re
import subprocess
import sys

import pytest
import yaml

from alexbench.common import run_contract, run_table
from alexbench.common.run_table import RunIdentity
from alexbench.workflow_config import expand_runs, validate_config
from conftest import REPO
from plugins.checkout import copy_checkout

RUN = RunIdentity("S0", "S0", "pytorch", "mnist", "alexnet-mnist", "cpu", 2)
BF16_RUN = RunIdentity("D", "D", "keras", "fashion_mnist", "alexnet-d2l", "cpu", 1, "bf16")


def train_rule_patterns():
    """{name: pattern} of the train rule's outputs, log and benchmark, as train.smk spells them."""
    text = (REPO / "workflow" / "rules" / "train.smk").read_text()
    rule = text[text.index("rule train:"):]
    return {"metrics": re.search(r'metrics="([^"]+)"', rule).group(1),
            "log": re.search(r'log:\s*"([^"]+)"', rule).group(1)}


@pytest.mark.parametrize("run", [RUN, BF16_RUN], ids=["fp32", "bf16"])
def test_the_train_rule_writes_where_the_run_table_says(run):
    patterns = train_rule_patterns()
    fields = {"framework": run.framework, "dataset": run.dataset, "model": run.model,
              "hardware": run.hardware, "precision": run.precision, "seed": run.seed}
    assert patterns["metrics"].format(**fields) == f"{run.path}/metrics.json"
    assert patterns["log"].format(**fields) == run.log


def test_precision_is_part_of_the_identity_and_defaults_to_fp32():
    assert RUN.precision == "fp32"
    assert RUN.path == "results/runs/pytorch/mnist/alexnet-mnist/cpu/fp32/seed2"
    assert RUN.run_id == "pytorch-mnist-alexnet-mnist-cpu-fp32-seed2"
    twin = RunIdentity(*[getattr(BF16_RUN, f) for f in RunIdentity.__dataclass_fields__][:-1])
    assert twin.precision == "fp32" and twin.path != BF16_RUN.path and twin.run_id != BF16_RUN.run_id


def test_a_table_round_trips_with_paths_under_the_folder_holding_results(tmp_path):
    other = RunIdentity("D", "D", "keras", "fashion_mnist", "alexnet-d2l", "cpu", 0)
    path = run_table.write(tmp_path / "results" / "runs.json", [RUN, other, BF16_RUN], {RUN.run_id})
    entries = run_table.read(path)
    assert [e.identity for e in entries] == [RUN, other, BF16_RUN]
    assert entries[0].run_dir == tmp_path / RUN.path and entries[0].log == tmp_path / RUN.log
    assert [e.awaited for e in entries] == [True, False, False]
    assert json.loads(path.read_text())["runs"][2]["precision"] == "bf16"


def test_a_broken_or_duplicated_table_is_refused_by_name(tmp_path):
    path = run_table.write(tmp_path / "results" / "runs.json", [RUN], {RUN.run_id})
    doc = json.loads(path.read_text())
    doc["runs"][0]["framework"] = "caffe"
    path.write_text(json.dumps(doc))
    with pytest.raises(run_contract.ContractError, match=r"runs.json.*\$\.runs\[0\]\.framework"):
        run_table.read(path)
    doc["runs"][0]["framework"] = "pytorch"
    doc["runs"].append(doc["runs"][0])
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="pytorch-mnist-alexnet-mnist-cpu-fp32-seed2 is listed twice"):
        run_table.read(path)


def test_the_workflow_writes_every_run_of_the_config(tmp_path):
    checkout = copy_checkout(tmp_path / "clone", venvs=False)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "results/runs.json",
                           "--config", "smoke=true", "hardware=[cpu]"], cwd=checkout,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.update(smoke=True, hardware=["cpu"])
    expected = expand_runs(validate_config(config), gpu_visible=False)
    entries = run_table.read(checkout / "results" / "runs.json")
    assert [e.identity for e in entries] == expected
    assert all(e.awaited for e in entries)
    assert entries[0].run_dir == (checkout / expected[0].path).resolve()
