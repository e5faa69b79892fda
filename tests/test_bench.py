"""bench/idiomatic.py end to end on small workloads, in the real framework venvs: the probes run in
rotating order (no mode always first), the table's ratio is harness / idiomatic of the printed
medians, and the probes remove the folders they make.

Only that the benchmark works is tested here; its figures are read on a quiet machine (bench/).
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, env_python


def test_idiomatic_bench_rotates_its_probes_and_cleans_up(tmp_path):
    env_python("pytorch-cpu")  # fails clearly when the test command has not built it
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    raw_file = tmp_path / "raw.json"
    proc = subprocess.run(
        [sys.executable, "bench/idiomatic.py", "--variants", "alexnet-mnist", "--frameworks",
         "pytorch", "--images", "64", "--repeats", "2", "--workflow", "--json", str(raw_file)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, "TMPDIR": str(scratch)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]

    raw = json.loads(raw_file.read_text())
    assert [r["mode"] for r in raw] == ["harness", "idiomatic", "workflow",
                                        "idiomatic", "workflow", "harness"]
    assert all(r["images"] == 64 and r["images_per_s"] > 0 for r in raw)

    row = [line for line in proc.stdout.splitlines() if line.startswith("alexnet-mnist")][-1]
    _, framework, _, harness, idiomatic, ratio, pairs, *_ = row.split()
    assert framework == "pytorch"
    assert float(ratio) == pytest.approx(float(harness) / float(idiomatic), abs=0.006)
    lowest, highest = map(float, pairs.split("-"))
    assert lowest <= float(ratio) <= highest or lowest == pytest.approx(highest, abs=0.01)
    # (torch keeps a compiler cache of its own there, torchinductor_<user>: not the bench's)
    assert list(scratch.glob("alexbench-*")) == [], "a probe left its folder behind"


def test_keras_fit_without_autotuning_is_a_column_of_its_own():
    """--keras-no-autotune times Keras's model.fit on a tf.data pipeline with autotuning off (the
    stall-free baseline, bench/README.md) for Keras only, and the probe refuses it elsewhere."""
    env_python("keras-cpu")
    proc = subprocess.run(
        [sys.executable, "bench/idiomatic.py", "--variants", "alexnet-mnist", "--frameworks",
         "keras", "--images", "64", "--repeats", "1", "--keras-no-autotune"],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    row = [line for line in proc.stdout.splitlines() if line.startswith("alexnet-mnist")][-1]
    _, framework, _, harness, _, _, _, no_autotune, ratio = row.split()
    assert framework == "keras"
    assert float(ratio) == pytest.approx(float(harness) / float(no_autotune), abs=0.006)

    settings = json.dumps({"epochs": 1, "batch_size": 32, "validation": "test",
                           "optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.0,
                                         "weight_decay": 0.0, "nesterov": False}})
    refused = subprocess.run(
        [str(env_python("pytorch-cpu")), "bench/idiomatic_probe.py", "--framework", "pytorch",
         "--variant", "alexnet-mnist", "--mode", "idiomatic-no-autotune", "--raw-shape", "28",
         "28", "1", "--settings", settings, "--count", "32"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert "for Keras (tf.data), not pytorch" in refused.stderr


def test_same_process_mode_alternates_three_passes_in_one_probe(tmp_path):
    """--same-process: one probe per framework, every mode timed --repeats times, the table's
    ratios are those of the printed medians."""
    env_python("pytorch-cpu")
    raw_file = tmp_path / "raw.json"
    proc = subprocess.run(
        [sys.executable, "bench/idiomatic.py", "--same-process", "--variants", "alexnet-mnist",
         "--frameworks", "pytorch", "--images", "64", "--repeats", "3", "--json", str(raw_file)],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    [result] = json.loads(raw_file.read_text())
    assert result["mode"] == "same-process" and result["images"] == 64
    assert sorted(result["rates"]) == ["harness", "harness-prepared", "idiomatic"]
    assert all(len(r) == 3 and min(r) > 0 for r in result["rates"].values())

    row = [line for line in proc.stdout.splitlines() if line.startswith("alexnet-mnist")][-1]
    _, framework, _, harness, prepared, idiomatic, h_ratio, p_ratio, pairs = row.split()[:9]
    assert framework == "pytorch"
    assert float(h_ratio) == pytest.approx(float(harness) / float(idiomatic), abs=0.006)
    assert float(p_ratio) == pytest.approx(float(prepared) / float(idiomatic), abs=0.006)


def test_compilers_mode_times_both_step_compilers_in_one_probe_and_skips_gluon(tmp_path):
    """--compilers: PyTorch's harness step eager and through torch.compile (a real Inductor
    build), alternating in one probe; Gluon, with no other step compiler, is left out."""
    env_python("pytorch-cpu")
    raw_file = tmp_path / "raw.json"
    proc = subprocess.run(
        [sys.executable, "bench/idiomatic.py", "--compilers", "--variants", "alexnet-mnist",
         "--frameworks", "pytorch", "gluon", "--images", "64", "--repeats", "2",
         "--json", str(raw_file)],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    [result] = json.loads(raw_file.read_text())
    assert (result["framework"], result["mode"], result["images"]) == ("pytorch", "compilers", 64)
    assert list(result["rates"]) == ["eager", "torch.compile"]
    assert all(len(r) == 2 and min(r) > 0 for r in result["rates"].values())

    [row] = [line for line in proc.stdout.splitlines() if line.startswith("alexnet-mnist")]
    _, framework, _, usual, other, ratio, pairs, *names = row.split()
    assert framework == "pytorch" and " ".join(names) == "eager / torch.compile"
    assert float(ratio) == pytest.approx(float(other) / float(usual), abs=0.006)
