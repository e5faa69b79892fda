"""Config errors fail before any job runs and name the key; the default config expands fully.

Each bad config goes through a real `snakemake -n`, so the check is the one users hit.
"""
import gzip
import hashlib
import struct
import subprocess
import sys

import pytest
import yaml

from alexbench.workflow_config import ConfigError, expand_runs, training_settings, validate_config

from conftest import REPO
from plugins.checkout import copy_checkout

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(*args, cwd=REPO, quiet=True):
    return subprocess.run([*SNAKEMAKE, "-n", *(["--quiet", "rules"] if quiet else []), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


BAD_CONFIGS = {
    "unknown key": ({"smokee": True}, "smokee"),
    "unknown nested key": ({"experiments": {"S2": {"epochz": 3}}}, "experiments.S2.epochz"),
    "wrong type": ({"smoke": "often"}, "smoke"),
    "non-positive epochs": ({"experiments": {"S2": {"epochs": 0}}}, "experiments.S2.epochs"),
    "unknown framework": ({"experiments": {"S2": {"frameworks": ["caffe"]}}},
                          "experiments.S2.frameworks.0"),
    "unknown model": ({"experiments": {"S2": {"model": "vgg16"}}}, "experiments.S2.model"),
    "unknown dataset": ({"experiments": {"S2": {"dataset": "svhn"}}}, "experiments.S2.dataset"),
    "unknown hardware": ({"hardware": ["tpu"]}, "hardware"),
    "bad mirror": ({"mirror": "ftp://example.org/"}, "mirror"),
    "subset of no images": ({"subset": {"train": 0}}, "subset"),
    "subset of an unknown split": ({"subset": {"train": 10, "val": 5}}, "subset"),
    "bad checksum": ({"datasets": {"mnist": {"files": {"t10k-labels-idx1-ubyte.gz": {"sha256": "abc"}}}}},
                     "datasets.mnist.files.t10k-labels-idx1-ubyte.gz.sha256"),
    "two experiments on one run path": (
        {"experiments": {"S2bis": {"source": "S2", "frameworks": ["keras"], "model": "alexnet-lrn-32",
                                   "dataset": "mnist", "epochs": 1, "batch_size": 8,
                                   "optimizer": {"name": "adam", "learning_rate": 0.001}}}},
        "experiments.S2bis"),
    "bad weights digest": ({"weights": {"bvlc_alexnet": {"checksums": {"sha1": "9116"}}}},
                           "weights.bvlc_alexnet.checksums.sha1"),
    "unknown weights digest kind": ({"weights": {"bvlc_alexnet": {"checksums": {"md5": "0" * 32}}}},
                                    "weights.bvlc_alexnet.checksums.md5"),
    "weights on an unknown dataset": ({"weights": {"bvlc_alexnet": {"dataset": "imagenet"}}},
                                      "weights.bvlc_alexnet.dataset"),
    "weights of an unknown experiment": ({"weights": {"bvlc_alexnet": {"experiment": "S9"}}},
                                         "weights.bvlc_alexnet.experiment"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_fails_before_any_job_naming_the_key(case, tmp_path):
    override, key = BAD_CONFIGS[case]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(override))
    proc = dry_run("--configfile", str(REPO / "config.yaml"), str(bad))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"config key '{key}'" in output, output
    assert "rule train" not in output and "Job stats" not in output, "jobs were scheduled"


def test_command_line_values_are_read_as_yaml():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.update(demo="true", seeds=["0", "1"], hardware="[cpu]")
    checked = validate_config(config)
    assert checked["demo"] is True and checked["seeds"] == [0, 1] and checked["hardware"] == ["cpu"]
    with pytest.raises(ConfigError, match="config key 'demo'"):
        validate_config({**config, "demo": "maybe"})


def test_checksum_can_be_overridden_by_a_user_config(tmp_path):
    new = "0" * 64
    override = tmp_path / "mine.yaml"
    override.write_text(yaml.safe_dump(
        {"datasets": {"fashion_mnist": {"files": {"train-images-idx3-ubyte.gz": {"sha256": new}}}}}))
    proc = dry_run("--configfile", str(REPO / "config.yaml"), str(override), "--printshellcmds",
                   "resources/downloads/fashion_mnist/train-images-idx3-ubyte.gz", quiet=False)
    assert proc.returncode == 0, proc.stderr
    assert f"--sha256 {new}" in proc.stdout
    # The other files keep the official checksums (the override merges, it does not replace).
    proc = dry_run("--configfile", str(REPO / "config.yaml"), str(override), "--printshellcmds",
                   "resources/downloads/fashion_mnist/t10k-labels-idx1-ubyte.gz", quiet=False)
    assert "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5" in proc.stdout


def test_a_user_sha256_is_checked_beside_the_published_sha1(tmp_path):
    override = tmp_path / "mine.yaml"
    override.write_text(yaml.safe_dump({"weights": {"bvlc_alexnet": {"checksums": {"sha256": "1" * 64}}}}))
    proc = dry_run("--configfile", str(REPO / "config.yaml"), str(override), "--printshellcmds",
                   "resources/downloads/weights/bvlc_alexnet/bvlc_alexnet.caffemodel", quiet=False)
    assert proc.returncode == 0, proc.stderr
    assert ("--digest sha1:9116a64c0fbe4459d18f4bb6b56d647b63920377 --digest sha256:" + "1" * 64) in proc.stdout
    assert "--url http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel" in proc.stdout


def test_default_config_expands_the_full_dag_offline(tmp_path):
    """On a fresh clone (no venvs, no downloads) a dry run lists every stage for every run."""
    fresh = copy_checkout(tmp_path / "clone", venvs=False)
    proc = dry_run("--config", "hardware=[cpu,gpu]", quiet=False, cwd=fresh)
    assert proc.returncode == 0, proc.stderr
    config = validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))
    runs = expand_runs(config, gpu_visible=True)
    for rule in ("build_venv", "download", "prepare", "train", "aggregate", "plot_comparisons", "report"):
        assert f"rule {rule}:" in proc.stdout, rule
    # Per-run curves are drawn inside report.html; a run's PNG is only made on request.
    assert "rule plot_run:" not in proc.stdout
    for env in ("keras-cpu", "keras-gpu", "gluon-cpu", "gluon-gpu", "pytorch-cpu", "pytorch-gpu", "report"):
        assert f".venvs/{env}/pip-freeze.txt" in proc.stdout, env
    for run in runs:
        assert f"{run.path}/metrics.json" in proc.stdout, run.path
    # Seeds' frameworks, plus the cross-framework block in all three frameworks.
    workloads = {(r.experiment, r.framework) for r in runs}
    assert {("S1", "keras"), ("S2", "keras"), ("S3", "gluon"), ("S4", "keras"), ("S4", "pytorch"), ("S4", "gluon")} <= workloads
    for framework in ("keras", "gluon", "pytorch"):
        assert ("D", framework) in workloads and ("S0", framework) in workloads
        for hardware in ("cpu", "gpu"):
            assert f"results/pretrained/{framework}/imagenette-320/alexnet-2012/{hardware}/metrics.json" \
                in proc.stdout
    for rule in ("download_weights", "convert_weights", "evaluate_pretrained", "pretrained_agreement"):
        assert f"rule {rule}:" in proc.stdout, rule
    assert {r.hardware for r in runs} == {"cpu", "gpu"}


def test_hardware_auto_adds_gpu_only_when_visible():
    config = validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))
    assert {r.hardware for r in expand_runs(config, gpu_visible=False)} == {"cpu"}
    assert {r.hardware for r in expand_runs(config, gpu_visible=True)} == {"cpu", "gpu"}
    explicit = validate_config({**config, "hardware": ["gpu"]})
    assert {r.hardware for r in expand_runs(explicit, gpu_visible=False)} == {"gpu"}


def test_a_run_outside_the_config_is_refused_by_name():
    proc = dry_run("results/runs/pytorch/cifar10/alexnet-224/cpu/fp32/seed7/metrics.json", quiet=False)
    assert proc.returncode != 0
    assert "no experiment in config.yaml trains alexnet-224 on cifar10 with pytorch" in proc.stdout + proc.stderr


def test_timed_cpu_runs_leave_no_room_for_preparation_beside_them():
    """profiles/default grants cpu_timing_slot=2: a timed cpu run takes both, a preparation one."""
    profile = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert "cpu_timing_slot=2" in profile["resources"] and "gpu=1" in profile["resources"]
    proc = dry_run("--config", "demo=true", "hardware=[cpu,gpu]", "seeds=[0]", quiet=False)
    assert proc.returncode == 0, proc.stderr
    jobs = proc.stdout.split("\nrule ")[1:] + proc.stdout.split("\nlocalrule ")[1:]
    slots = {}
    for job in jobs:
        rule = job.split(":", 1)[0]
        hardware = "gpu" if "/gpu/fp32/seed" in job else "cpu"
        resources = next(line for line in job.splitlines() if "resources:" in line)
        slots.setdefault((rule, hardware), set()).add(
            "cpu_timing_slot=2" if "cpu_timing_slot=2" in resources else
            "cpu_timing_slot=1" if "cpu_timing_slot=1" in resources else "none")
    assert slots[("train", "cpu")] == {"cpu_timing_slot=2"}
    assert slots[("train", "gpu")] == {"none"}
    assert slots[("prepare", "cpu")] == {"cpu_timing_slot=1"}
    assert slots[("download", "cpu")] == {"none"}


def test_sha256_override_without_bytes_drops_the_official_size_check(tmp_path, loopback_server):
    """A re-compressed mirror copy, vouched for by a sha256 override alone, downloads through the
    real download rule from a loopback mirror; the log says the size was not checked."""
    labels = struct.pack(">2I", 2049, 1000) + bytes(i % 10 for i in range(1000))
    copy = gzip.compress(labels, compresslevel=1)
    (loopback_server.root / "mnist").mkdir()
    (loopback_server.root / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(copy)
    name = "t10k-labels-idx1-ubyte.gz"
    override = tmp_path / "mine.yaml"
    override.write_text(yaml.safe_dump({
        "mirror": loopback_server.url,
        # Official URLs that only reach the loopback server (404): no test touches the internet.
        "datasets": {"mnist": {"urls": [f"{loopback_server.url}/official/"],
                               "files": {name: {"sha256": hashlib.sha256(copy).hexdigest()}}}}}))
    clone = copy_checkout(tmp_path / "clone", venvs=False)
    proc = subprocess.run([*SNAKEMAKE, f"resources/downloads/mnist/{name}", "--cores", "1",
                           "--configfile", "config.yaml", str(override)], cwd=clone, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    log = (clone / "logs" / "download" / "mnist" / f"{name}.log").read_text()
    assert (clone / "resources" / "downloads" / "mnist" / name).read_bytes() == copy
    assert (f"size not checked, only the sha256: datasets.mnist.files.{name}.sha256 is overridden "
            f"without bytes") in log
    # Files whose sha256 is not overridden keep their size check.
    proc = dry_run("resources/downloads/mnist/train-labels-idx1-ubyte.gz", "--printshellcmds",
                   "--configfile", "config.yaml", str(override), quiet=False, cwd=clone)
    assert "--bytes 28881" in proc.stdout


def test_bare_command_runs_without_cores_on_the_command_line(tmp_path):
    """`snakemake <target>` as typed in the README: the workflow profile supplies the cores."""
    clone = copy_checkout(tmp_path / "clone")
    target = "resources/downloads/mnist/t10k-labels-idx1-ubyte.gz"
    proc = subprocess.run([*SNAKEMAKE, target, "--config", "demo=true"], cwd=clone,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (clone / target).is_file()


@pytest.mark.parametrize("extra, expected", [
    ({}, (None, None, False, None)),
    ({"subset": {"train": 12000, "test": 2000}}, (12000, 2000, False, {"train": 12000, "test": 2000})),
    ({"subset": {"train": 12000}}, (12000, None, False, {"train": 12000})),
    ({"smoke": True}, (256, 256, True, None)),
    # Smoke still caps a subset at its 256 images; the run records both.
    ({"smoke": True, "subset": {"train": 100, "test": 2000}}, (100, 256, True, {"train": 100, "test": 2000})),
])
def test_subset_becomes_the_first_n_images_of_each_split(extra, expected):
    config = validate_config({**yaml.safe_load((REPO / "config.yaml").read_text()), **extra})
    settings = training_settings(config, "S0")
    assert (settings["max_train_images"], settings["max_test_images"], settings["smoke"],
            settings["subset"]) == expected
    assert settings["epochs"] == (1 if config["smoke"] else 12)



def test_the_step_compilers_are_the_frameworks_defaults_unless_an_experiment_chooses():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    chosen = training_settings(validate_config(config), "S0")
    assert (chosen["keras_jit_compile"], chosen["torch_compile"]) == ("auto", False)
    config["experiments"]["S0"]["keras_jit_compile"] = True
    assert training_settings(validate_config(config), "S0")["keras_jit_compile"] is True
    config["experiments"]["S0"]["keras_jit_compile"] = "xla"
    with pytest.raises(ConfigError, match="experiments.S0.keras_jit_compile"):
        validate_config(config)
    del config["experiments"]["S0"]["keras_jit_compile"]
    config["experiments"]["S0"]["torch_compile"] = True
    assert training_settings(validate_config(config), "S0")["torch_compile"] is True
    config["experiments"]["S0"]["torch_compile"] = "yes"
    with pytest.raises(ConfigError, match="experiments.S0.torch_compile"):
        validate_config(config)
