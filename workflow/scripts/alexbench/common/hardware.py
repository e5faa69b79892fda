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


# --- native bfloat16 support ------------------------------------------------------------------
# A CPU computes bfloat16 natively with AVX512_BF16 (dot products of bf16 pairs) or AMX_BF16
# (tile matrix multiply); without them frameworks emulate bfloat16 in float32, slower than float32
# itself, and a "bf16 speed-up" would measure the emulation. A GPU needs compute capability 8.0
# (Ampere) or newer for bfloat16 tensor cores.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
GPU_BF16_MIN_CAPABILITY = (8, 0)
# Tests point this at a fake cpuinfo (a machine without the flags); nothing else should set it.
CPUINFO_ENV = "ALEXBENCH_CPUINFO"


def cpu_flags(cpuinfo=None) -> set:
    """The CPU feature flags of /proc/cpuinfo (or $ALEXBENCH_CPUINFO, or `cpuinfo`); empty when
    unreadable."""
    path = Path(cpuinfo or os.environ.get(CPUINFO_ENV) or CPUINFO)
    flags = set()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    flags.update(value.split())
    except OSError:
        pass
    return flags


def gpu_compute_capability():
    """(major, minor) of the first visible GPU from nvidia-smi, or None without one."""
    if cuda_hidden():
        return None
    out = _nvidia_smi("--query-gpu=compute_cap", "--format=csv,noheader")
    try:
        major, _, minor = out.strip().splitlines()[0].strip().partition(".")
        return int(major), int(minor or 0)
    except (AttributeError, IndexError, ValueError):
        return None


def bf16_support_problem(hardware_kind: str, cpuinfo=None, capability=...) -> str | None:
    """Why this machine's `hardware_kind` ('cpu'/'gpu') cannot compute bfloat16 natively, or None
    when it can. `capability`: a GPU's (major, minor), read from nvidia-smi when not given."""
    if hardware_kind == "cpu":
        path = cpuinfo or os.environ.get(CPUINFO_ENV) or CPUINFO
        if cpu_flags(path) & set(CPU_BF16_FLAGS):
            return None
        return (f"bf16 needs native bfloat16 on the CPU, and {path} lists neither "
                f"{' nor '.join(CPU_BF16_FLAGS)} for {cpu_model_name(path)}; alexbench refuses "
                "to time a slow emulation as bf16. Train bf16 on a CPU with one of these flags "
                "(Intel Cooper Lake / Sapphire Rapids or newer, AMD Zen 4 or newer)")
    if hardware_kind == "gpu":
        if capability is ...:
            capability = gpu_compute_capability()
        if capability is not None and tuple(capability) >= GPU_BF16_MIN_CAPABILITY:
            return None
        found = "no GPU compute capability could be read (nvidia-smi --query-gpu=compute_cap)" \
            if capability is None else f"this GPU has compute capability {capability[0]}.{capability[1]}"
        return (f"bf16 needs native bfloat16 on the GPU (compute capability >= "
                f"{GPU_BF16_MIN_CAPABILITY[0]}.{GPU_BF16_MIN_CAPABILITY[1]}, Ampere or newer), "
                f"but {found}")
    raise ValueError(f"hardware must be 'cpu' or 'gpu', got {hardware_kind!r}")
