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
                    "1", "300", "40"], check=True, timeout=120)
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
