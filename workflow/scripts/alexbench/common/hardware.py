"""What hardware this process sees: is an NVIDIA GPU visible, which CPU is this, which driver.

Standard library only, so it runs before any framework is imported (the harness refuses a `gpu`
run without a GPU before paying for a framework import) and in every env. Not for choosing a
framework device: each backend's select_device does that, and raises GPUUnavailableError too.
"""
import os
import platform
import shutil
import subprocess
from pathlib import Path

PROC_GPUS = Path("/proc/driver/nvidia/gpus")
CPUINFO = Path("/proc/cpuinfo")


class GPUUnavailableError(RuntimeError):
    """A `gpu` run was requested but no GPU is visible; alexbench never falls back to CPU."""

    def __init__(self, detail=""):
        message = ("a 'gpu' run was requested, but no GPU is visible to this process"
                   + (f" ({detail})" if detail else "")
                   + ". alexbench never falls back to CPU for a gpu run (its timings would be "
                   "reported as GPU timings); run it on a machine with a GPU or drop 'gpu' from "
                   "the config's hardware.")
        super().__init__(message)


def cuda_hidden(environ=None):
    """True when CUDA_VISIBLE_DEVICES hides every GPU ('' or '-1'); unset means not hidden."""
    environ = os.environ if environ is None else environ
    value = environ.get("CUDA_VISIBLE_DEVICES")
    return value is not None and value.strip() in ("", "-1")


def _nvidia_smi(*args):
    """stdout of nvidia-smi, or None when it is absent or fails (e.g. 'No devices were found')."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def gpu_visible(environ=None, proc_gpus=PROC_GPUS):
    """Is at least one NVIDIA GPU visible? CUDA_VISIBLE_DEVICES '' or '-1' means none.

    Asks `nvidia-smi -L` when it is on PATH (its answer is final); otherwise looks for entries in
    /proc/driver/nvidia/gpus (drivers without the tool, e.g. some containers).
    """
    if cuda_hidden(environ):
        return False
    if shutil.which("nvidia-smi") is not None:
        listing = _nvidia_smi("-L")
        return listing is not None and any(line.startswith("GPU ") for line in listing.splitlines())
    proc_gpus = Path(proc_gpus)
    return proc_gpus.is_dir() and any(proc_gpus.iterdir())


def nvidia_driver_version():
    """The NVIDIA driver version from nvidia-smi, or None without a working nvidia-smi."""
    out = _nvidia_smi("--query-gpu=driver_version", "--format=csv,noheader")
    if not out or not out.strip():
        return None
    return out.strip().splitlines()[0].strip()


def nvidia_gpu_name(index: int):
    """The name of GPU `index` from nvidia-smi (for frameworks without an API for it), or None."""
    out = _nvidia_smi(f"--id={index}", "--query-gpu=name", "--format=csv,noheader")
    if not out or not out.strip():
        return None
    return out.strip().splitlines()[0].strip()


def cpu_model_name(cpuinfo=CPUINFO):
    """The CPU's model name from /proc/cpuinfo ('model name'), else what platform knows."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model Name") and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"
