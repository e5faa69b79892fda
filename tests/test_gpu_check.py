"""tests/gpu_check on a machine without a GPU: it stops at once with a clear reason (exit 2),
names frameworks it cannot use, and its synthetic data and FLOP counts are sound. The check
itself runs on a GPU machine (docs/gpu.md)."""
import subprocess
import sys

import numpy as np
import pytest

from alexbench.common import hardware, prepared
from conftest import REPO, env_python

sys.path.insert(0, str(REPO / "tests" / "gpu"))
import gpu_check  # noqa: E402


@pytest.mark.skipif(hardware.gpu_visible(), reason="this machine has a GPU: run tests/gpu_check")
def test_without_a_gpu_it_fails_at_once_with_the_reason():
    proc = subprocess.run([str(REPO / "tests" / "gpu_check")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "gpu_check: cannot run: no NVIDIA GPU" in proc.stderr
    assert "Run tests/gpu_check on a machine with an NVIDIA GPU" in proc.stderr


def test_frameworks_without_gpu_support_are_skipped_by_name():
    """The Keras CPU venv imports TensorFlow but sees no GPU; it has no mxnet or torch."""
    present, skipped = gpu_check.probe_frameworks(str(env_python("keras-cpu")))
    assert present == []
    assert "sees no GPU" in skipped["keras"]
    assert "No module named 'mxnet'" in skipped["gluon"]
    assert "No module named 'torch'" in skipped["pytorch"]


def test_synthetic_data_is_a_valid_prepared_folder_with_class_coded_images(tmp_path):
    out = tmp_path / "alexnet-d2l"
    subprocess.run([str(env_python("report")), "-c", gpu_check.SYNTHESIZE, str(out), "28", "28",
                    "1", "300", "40", "idx"], check=True, timeout=120)
    data = prepared.open_prepared(out)
    assert data.num_classes == 10 and len(data.train) == 300 and len(data.test) == 40
    means = [data.train.images[data.train.labels == c].mean() for c in range(10)]
    assert np.all(np.diff(means) > 10)  # each class brighter than the one before: learnable


def test_training_flops_are_three_passes_of_the_forward_multiply_adds():
    # The 2012 network by hand (output h*w*filters * kernel^2 * input channels per group), with
    # 10 classes: the two-tower figure usually quoted, ~0.72 G multiply-adds per image.
    forward_macs = (55 * 55 * 96 * 11 * 11 * 3 + 27 * 27 * 256 * 5 * 5 * 48
                    + 13 * 13 * 384 * 3 * 3 * 256 + 13 * 13 * 384 * 3 * 3 * 192
                    + 13 * 13 * 256 * 3 * 3 * 192 + 9216 * 4096 + 4096 * 4096 + 4096 * 10)
    assert gpu_check.training_flops_per_image("alexnet-2012") == 3 * 2 * forward_macs


def test_the_wait_for_a_gpu_is_left_out_of_a_runs_window(tmp_path):
    """Two runs on one GPU: the second logs that it waits, before it holds the device; the
    check's overlap test must not count that line (the wording is shared with gpu_devices)."""
    from alexbench.common import gpu_devices
    env = {gpu_devices.IDS_ENV: "9", gpu_devices.LOCK_DIR_ENV: str(tmp_path / "locks")}
    gpu_devices.claim_gpu(environ=dict(env))          # this process holds fake GPU 9
    holder = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
         "from alexbench.common.gpu_devices import claim_gpu; claim_gpu(timeout_s=0.3, log=print)",
         str(REPO / "workflow" / "scripts")], env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60)
    said = holder.stdout
    assert "TimeoutError" in holder.stderr and gpu_check.WAITING in said
    log = tmp_path / "run.log"
    log.write_text(f"2026-01-01 10:00:00,000 INFO {said.strip()}\n"
                   "2026-01-01 10:00:05,250 INFO keras alexnet-d2l on x (gpu): ...\n"
                   "2026-01-01 10:00:09,500 INFO wrote metrics.json (status ok)\n")
    start, end = gpu_check.log_window(log)
    assert end - start == pytest.approx(4.25)


@pytest.mark.parametrize("model, experiment", [("alexnet-d2l", "D"), ("alexnet-2012", "S4")])
def test_check_runs_follow_the_training_contract_with_the_experiments_optimisers(model, experiment):
    import yaml
    from alexbench.harness.settings import resolve_settings
    settings = resolve_settings(gpu_check.run_settings(model))   # raises on a contract break
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert config["experiments"][experiment]["model"] == model
    assert gpu_check.run_settings(model)["optimizer"] == config["experiments"][experiment]["optimizer"]
    assert settings["batch_size"] == config["experiments"][experiment]["batch_size"] == gpu_check.BATCH



class BusySampler:
    """nvidia-smi's samples as the checker reads them: the GPU busy while the runs trained."""

    def peak(self, gpu, start, end):
        return 90, 4000


def gpu_metrics(window, step_compiler):
    """A run's metrics.json as far as the checker reads it; step_compiler None: a run made
    before metrics.json recorded it."""
    metrics = {"_window": window, "device": {"kind": "gpu", "gpu_id": 0, "name": "a GPU"},
               "memory": {"peak_gpu_mb": 1500.0}, "test": {"accuracy": 0.5},
               "throughput": {"train_images_per_s": 1000.0}}
    return {**metrics, "step_compiler": step_compiler} if step_compiler else metrics


@pytest.mark.parametrize("step_compiler, failed", [("tf.function + XLA", False),
                                                   ("tf.function", True), (None, True)])
def test_a_keras_gpu_run_without_xla_fails_the_check(step_compiler, failed):
    """Keras's model.fit compiles with XLA on a GPU by default; a harness run that did not is a
    fairness failure the check names."""
    runs = [gpu_metrics((0.0, 1.0), step_compiler), gpu_metrics((2.0, 3.0), step_compiler)]
    failures = []
    row = gpu_check.check_runs("keras", "alexnet-d2l", runs, BusySampler(), 0, 100, failures)
    assert bool(failures) == failed, failures
    if failed:
        assert failures == [f"keras alexnet-d2l: the train step was compiled as "
                            f"{step_compiler!r}, not with XLA as model.fit would"] * 2
    assert row["step"] == (step_compiler or "-")
