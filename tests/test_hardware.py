"""GPU detection and CPU naming (common/hardware.py).

A fake `nvidia-smi` executable on PATH and fake /proc folders exercise our selection logic; the
real tool is not on this machine, which the last tests check as it is.
"""
import os
import stat

import pytest

from alexbench.common import hardware

GPU_LISTING = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0c1b7f1e-0000-0000-0000-000000000000)"


def fake_nvidia_smi(folder, listing, exit_code=0, driver="550.54.15"):
    """An executable `nvidia-smi` in `folder` answering -L and the driver query."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "nvidia-smi"
    exe.write_text("#!/bin/sh\n"
                   'case "$1" in\n'
                   f"  -L) echo '{listing}'; exit {exit_code} ;;\n"
                   f"  --query-gpu=driver_version) echo '{driver}'; exit {exit_code} ;;\n"
                   "esac\nexit 2\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


@pytest.fixture
def no_proc_gpus(tmp_path):
    empty = tmp_path / "proc-gpus-empty"
    empty.mkdir()
    return empty


def only_on_path(monkeypatch, folder):
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_gpu_listed_by_nvidia_smi_is_visible(tmp_path, monkeypatch, no_proc_gpus):
    only_on_path(monkeypatch, fake_nvidia_smi(tmp_path / "bin", GPU_LISTING))
    assert hardware.gpu_visible(proc_gpus=no_proc_gpus) is True
    assert hardware.nvidia_driver_version() == "550.54.15"


def test_nvidia_smi_without_devices_means_no_gpu(tmp_path, monkeypatch):
    # The driver's tool exits non-zero with "No devices were found"; /proc is not consulted.
    proc = tmp_path / "proc-gpus"
    (proc / "0000:01:00.0").mkdir(parents=True)
    only_on_path(monkeypatch, fake_nvidia_smi(tmp_path / "bin", "No devices were found", 6))
    assert hardware.gpu_visible(proc_gpus=proc) is False
    assert hardware.nvidia_driver_version() is None


@pytest.mark.parametrize("value", ["", "-1", " -1 "])
def test_cuda_visible_devices_can_hide_every_gpu(tmp_path, monkeypatch, no_proc_gpus, value):
    only_on_path(monkeypatch, fake_nvidia_smi(tmp_path / "bin", GPU_LISTING))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", value)
    assert hardware.gpu_visible(proc_gpus=no_proc_gpus) is False


def test_cuda_visible_devices_naming_a_gpu_keeps_it(tmp_path, monkeypatch, no_proc_gpus):
    only_on_path(monkeypatch, fake_nvidia_smi(tmp_path / "bin", GPU_LISTING))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert hardware.gpu_visible(proc_gpus=no_proc_gpus) is True


def test_proc_driver_entries_count_without_nvidia_smi(tmp_path, monkeypatch, no_proc_gpus):
    only_on_path(monkeypatch, tmp_path / "empty-bin")
    proc = tmp_path / "proc-gpus"
    (proc / "0000:01:00.0").mkdir(parents=True)
    assert hardware.gpu_visible(proc_gpus=proc) is True
    assert hardware.gpu_visible(proc_gpus=no_proc_gpus) is False
    assert hardware.gpu_visible(proc_gpus=tmp_path / "absent") is False
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert hardware.gpu_visible(proc_gpus=proc) is False


def test_this_machine_has_no_gpu():
    # The test machine has none; a run asking for one must be refused, not silently run on CPU.
    assert hardware.gpu_visible() is False


def test_error_message_says_what_happened_and_that_there_is_no_fallback():
    message = str(hardware.GPUUnavailableError("CUDA_VISIBLE_DEVICES=-1"))
    assert "'gpu' run was requested" in message
    assert "no GPU is visible" in message
    assert "never falls back to CPU" in message
    assert "CUDA_VISIBLE_DEVICES=-1" in message
    assert isinstance(hardware.GPUUnavailableError(), RuntimeError)


def test_cpu_model_name_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\n"
                       "model name\t: Intel(R) Xeon(R)  Gold 6230 CPU @ 2.10GHz\n")
    assert hardware.cpu_model_name(cpuinfo) == "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"
    assert hardware.cpu_model_name(tmp_path / "missing")  # falls back to platform, not empty
    assert hardware.cpu_model_name()  # the real /proc/cpuinfo
