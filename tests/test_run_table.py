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


def train_rule_patterns():
    """{name: pattern} of the train rule's outputs, log and benchmark, as train.smk spells them."""
    text = (REPO / "workflow" / "rules" / "train.smk").read_text()
    rule = text[text.index("rule train:"):]
    return {"metrics": re.search(r'metrics="([^"]+)"', rule).group(1),
            "log": re.search(r'log:\s*"([^"]+)"', rule).group(1)}


def test_the_train_rule_writes_where_the_run_table_says():
    patterns = train_rule_patterns()
    fields = {"framework": RUN.framework, "dataset": RUN.dataset, "model": RUN.model,
              "hardware": RUN.hardware, "seed": RUN.seed}
    assert patterns["metrics"].format(**fields) == f"{RUN.path}/metrics.json"
    assert patterns["log"].format(**fields) == RUN.log


def test_a_table_round_trips_with_paths_under_the_folder_holding_results(tmp_path):
    other = RunIdentity("D", "D", "keras", "fashion_mnist", "alexnet-d2l", "cpu", 0)
    path = run_table.write(tmp_path / "results" / "runs.json", [RUN, other], {RUN.run_id})
    entries = run_table.read(path)
    assert [e.identity for e in entries] == [RUN, other]
    assert entries[0].run_dir == tmp_path / RUN.path and entries[0].log == tmp_path / RUN.log
    assert [e.awaited for e in entries] == [True, False]


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
    with pytest.raises(ValueError, match="pytorch-mnist-alexnet-mnist-cpu-seed2 is listed twice"):
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
