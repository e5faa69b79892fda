"""The precision axis: bf16 mixed precision in each framework, what is refused and why.

Real frameworks on tiny prepared data (each framework in its venv), a real `snakemake -n` for the
DAG-time refusals, and a fake /proc/cpuinfo (ALEXBENCH_CPUINFO) for a CPU without bfloat16.
This machine's own CPU decides whether the training tests run: without avx512_bf16/amx_bf16
they skip, saying so.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

from alexbench import precision_plan
from alexbench.common import hardware, registry
from alexbench.common.run_table import RunIdentity
from alexbench.workflow_config import ConfigError, expand_runs, validate_config

from conftest import REPO, env_python, run_in_env, run_json_in_env

FRAMEWORKS = ["pytorch", "keras", "gluon"]
PROBE = REPO / "tests" / "probes" / "precision_probe.py"
TRAIN = REPO / "workflow" / "scripts" / "train.py"
NATIVE_BF16 = hardware.bf16_support_problem("cpu")
needs_bf16_cpu = pytest.mark.skipif(NATIVE_BF16 is not None, reason=f"this CPU: {NATIVE_BF16}")
# A CPU without bfloat16 (an AVX-512 Skylake server), for the refusals.
NO_BF16_CPUINFO = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\n"
                   "flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl\n\n")


def dry_run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def no_bf16_cpu(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(NO_BF16_CPUINFO)
    return path


# --- hardware detection --------------------------------------------------------------------------

def test_cpu_support_is_read_from_the_cpu_flags(tmp_path, no_bf16_cpu):
    problem = hardware.bf16_support_problem("cpu", cpuinfo=no_bf16_cpu)
    assert "avx512_bf16" in problem and "amx_bf16" in problem and "Gold 6148" in problem
    with_flag = tmp_path / "zen4"
    with_flag.write_text(NO_BF16_CPUINFO.replace("avx512vl", "avx512vl avx512_bf16"))
    assert hardware.bf16_support_problem("cpu", cpuinfo=with_flag) is None
    amx = tmp_path / "spr"
    amx.write_text(NO_BF16_CPUINFO.replace("avx512vl", "amx_bf16 amx_tile"))
    assert hardware.bf16_support_problem("cpu", cpuinfo=amx) is None


def test_gpu_support_needs_compute_capability_8():
    assert hardware.bf16_support_problem("gpu", capability=(8, 0)) is None
    assert hardware.bf16_support_problem("gpu", capability=(9, 0)) is None
    assert "compute capability 7.5" in hardware.bf16_support_problem("gpu", capability=(7, 5))
    assert "no GPU compute capability" in hardware.bf16_support_problem("gpu", capability=None)


# --- config, run table and the plan --------------------------------------------------------------

def config_with(**top):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.update(top)
    return validate_config(config)


@pytest.mark.parametrize("override, key", [
    ({"precision": ["fp16"]}, "precision.0"),
    ({"demo_precision": {"S9": ["bf16"]}}, "demo_precision.S9"),
    ({"experiments": {"D": {"precision": ["fp32", "fp32"]}}}, "experiments.D.precision"),
])
def test_bad_precision_config_fails_naming_the_key(override, key):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for name, value in override.items():
        if name == "experiments":
            config["experiments"]["D"].update(value["D"])
        else:
            config[name] = value
    with pytest.raises(ConfigError, match=f"'{key}'"):
        validate_config(config)


def test_precision_joins_the_run_identity_and_path():
    runs = expand_runs(config_with(experiments_only=["D"], precision=["fp32", "bf16"], seeds=[0],
                                   hardware=["cpu"]), gpu_visible=False)
    assert {(r.framework, r.precision) for r in runs} == {
        (f, p) for f in FRAMEWORKS for p in ("fp32", "bf16")}
    bf16 = next(r for r in runs if r.precision == "bf16" and r.framework == "keras")
    assert bf16.path == "results/runs/keras/fashion_mnist/alexnet-d2l/cpu/bf16/seed0"
    assert bf16.log == "logs/train/keras/fashion_mnist/alexnet-d2l/cpu/bf16/seed0.log"
    assert bf16.run_id == "keras-fashion_mnist-alexnet-d2l-cpu-bf16-seed0"


def test_default_is_fp32_and_the_demo_adds_bf16_where_configured():
    full = expand_runs(config_with(seeds=[0], hardware=["cpu"]), gpu_visible=False)
    assert {r.precision for r in full} == {"fp32"}
    demo = expand_runs(config_with(demo=True, seeds=[0], hardware=["cpu"]), gpu_visible=False)
    configured = config_with()["demo_precision"]
    assert configured, "config.yaml's demo trains some experiment in bf16"
    assert {r.experiment for r in demo if r.precision == "bf16"} == set(configured)
    # The top-level override wins over the demo's
    only = expand_runs(config_with(demo=True, precision=["fp32"], seeds=[0], hardware=["cpu"]),
                       gpu_visible=False)
    assert {r.precision for r in only} == {"fp32"}


def test_plan_refuses_by_name_outside_the_demo_and_drops_in_the_demo():
    runs = [RunIdentity("D", "D", f, "fashion_mnist", "alexnet-d2l", "cpu", 0, p)
            for f in FRAMEWORKS for p in ("fp32", "bf16")]
    no_cpu = lambda kind: "no avx512_bf16 here"  # noqa: E731
    with pytest.raises(precision_plan.PrecisionError, match="bf16 on cpu: no avx512_bf16 here"):
        precision_plan.apply(runs, demo=False, support_problem=no_cpu)
    kept, skipped = precision_plan.apply(runs, demo=True, support_problem=no_cpu)
    assert {r.precision for r in kept} == {"fp32"} and len(kept) == 3
    assert skipped == {"bf16 on cpu": "left out: no avx512_bf16 here"}
    assert precision_plan.apply(runs, demo=False, support_problem=lambda kind: None) == (runs, {})
    bf16_only = [r for r in runs if r.precision == "bf16"]
    with pytest.raises(precision_plan.PrecisionError, match="bf16 on cpu"):  # nothing left to run
        precision_plan.apply(bf16_only, demo=True, support_problem=no_cpu)


def test_gluon_bf16_on_gpu_is_refused_by_name():
    why = registry.refused_precision("gluon", "alexnet-d2l", "gpu", "bf16")
    assert why and "MXNet 1.9.1 has no bfloat16 GPU path" in why
    assert registry.refused_precision("gluon", "alexnet-d2l", "cpu", "bf16") is None
    assert registry.refused_precision("pytorch", "alexnet-d2l", "gpu", "bf16") is None
    runs = [RunIdentity("D", "D", f, "fashion_mnist", "alexnet-d2l", "gpu", 0, "bf16")
            for f in FRAMEWORKS]
    with pytest.raises(precision_plan.PrecisionError) as error:
        precision_plan.apply(runs, demo=False, support_problem=lambda kind: None)
    assert "gluon alexnet-d2l on gpu in bf16: MXNet 1.9.1 has no bfloat16 GPU path" in str(error.value)


def test_the_dag_refuses_bf16_on_a_cpu_without_the_flags(no_bf16_cpu):
    proc = dry_run("--config", "experiments_only=[S0]", "seeds=[0]", "hardware=[cpu]",
                   "precision=[fp32,bf16]", env={hardware.CPUINFO_ENV: str(no_bf16_cpu)})
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "bf16 on cpu" in output and "avx512_bf16" in output and "Gold 6148" in output
    assert "--config precision=[fp32]" in output  # the way out


def test_the_demo_leaves_bf16_out_on_a_cpu_without_the_flags(no_bf16_cpu):
    proc = dry_run("--config", "demo=true", "experiments_only=[S0]", "hardware=[cpu]",
                   "precision=[fp32,bf16]", env={hardware.CPUINFO_ENV: str(no_bf16_cpu)})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "demo: bf16 on cpu left out" in output and "avx512_bf16" in output


def test_the_dag_refuses_gluon_bf16_on_gpu_by_name():
    proc = dry_run("--config", "experiments_only=[D]", "seeds=[0]", "hardware=[gpu]",
                   "precision=[bf16]")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "gluon alexnet-d2l on gpu in bf16" in output and "no bfloat16 GPU path" in output


@needs_bf16_cpu
def test_the_dag_trains_bf16_runs_under_their_own_path():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--config",
                           "experiments_only=[S0]", "seeds=[0]", "hardware=[cpu]",
                           "precision=[fp32,bf16]"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    for framework in FRAMEWORKS:
        assert f"results/runs/{framework}/mnist/alexnet-mnist/cpu/bf16/seed0/metrics.json" in proc.stdout
        assert f"results/runs/{framework}/mnist/alexnet-mnist/cpu/fp32/seed0/metrics.json" in proc.stdout


# --- the frameworks, for real --------------------------------------------------------------------

@needs_bf16_cpu
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_bf16_matmuls_run_in_bfloat16_on_float32_master_weights(framework):
    facts = run_json_in_env(f"{framework}-cpu", [PROBE, framework], timeout=600)
    if framework == "pytorch":
        assert facts["conv1_output"] == "bfloat16"
        assert facts["param_dtypes"] == facts["grad_dtypes"] == ["float32"]
    elif framework == "keras":
        dtypes = facts["compute_dtypes"]
        assert dtypes["conv1"] == dtypes["fc1"] == dtypes["fc3"] == "bfloat16"
        assert dtypes["lrn1"] == dtypes["lrn2"] == "float32"  # TF has no bf16 LRN CPU kernel
        assert facts["variable_dtypes"] == ["float32"]
    else:
        assert facts["amp_casts"].count("bfloat16") >= 16  # inputs of 5 convs + 3 dense layers
        assert facts["param_dtypes"] == facts["grad_dtypes"] == ["float32"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_fp32_trainer_stays_float32(framework):
    facts = run_json_in_env(f"{framework}-cpu", [PROBE, framework, "--precision", "fp32"], timeout=600)
    if framework == "pytorch":
        assert facts["conv1_output"] == "float32"
    elif framework == "keras":
        assert set(facts["compute_dtypes"].values()) == {"float32"}
    else:
        assert facts["amp_casts"] == []


@needs_bf16_cpu
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_demo_size_bf16_run_trains_end_to_end(framework, prepared_data, tmp_path):
    data = prepared_data("mnist", 64, 32)
    out, peaks = tmp_path / "run", tmp_path / "peaks"
    settings = {"epochs": 1, "batch_size": 16, "validation": "test", "smoke": True,
                "optimizer": {"name": "sgd", "learning_rate": 0.05}, "precision": "bf16"}
    run_in_env(f"{framework}-cpu", [
        TRAIN, "--framework", framework, "--model", "alexnet-lrn-32", "--dataset", "mnist",
        "--hardware", "cpu", "--seed", 0, "--experiment", "T", "--source", "S2",
        "--data-dir", data, "--out-dir", out, "--settings", json.dumps(settings),
        "--threads", 1, "--peak-cache", peaks], timeout=600)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["settings"]["precision"] == "bf16"
    assert 0 <= metrics["test"]["accuracy"] <= 1 and metrics["test"]["loss"] > 0
    # FLOP utilisation against this host's bfloat16 matmul peak, cached under its own key
    assert metrics["compute"]["peak_source"] == "measured"
    assert [p.name.split("-")[-2:] for p in peaks.iterdir()] == [["bf16", "1t.json"]]


def test_a_bf16_job_on_a_cpu_without_the_flags_stops_with_the_same_message(
        prepared_data, tmp_path, no_bf16_cpu):
    data = prepared_data("mnist", 64, 32)
    out = tmp_path / "run"
    settings = {"epochs": 1, "batch_size": 16, "validation": "test",
                "optimizer": {"name": "sgd", "learning_rate": 0.05}, "precision": "bf16"}
    args = [TRAIN, "--framework", "pytorch", "--model", "alexnet-mnist", "--dataset", "mnist",
            "--hardware", "cpu", "--seed", 0, "--experiment", "T", "--source", "S0",
            "--data-dir", data, "--out-dir", out, "--settings", json.dumps(settings)]
    proc = subprocess.run([str(env_python("pytorch-cpu")), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, hardware.CPUINFO_ENV: str(no_bf16_cpu)})
    assert proc.returncode == 3
    assert "avx512_bf16" in proc.stderr and not (out / "metrics.json").exists()
    assert "avx512_bf16" in json.loads((out / "failure.json").read_text())["message"]
