"""How much memory a training run needs, from the peaks measured per model variant (config.yaml
`memory_peaks_mb`), and whether this machine has it.

A run's need is its variant's measured peak (smoke mode) plus, for a full run, its dataset's
prepared arrays (`datasets.<name>.prepared_mb`), which training maps into memory. An experiment
whose PyTorch runs use `torch.compile` needs more: Inductor runs a C++ compiler per compile
thread, which the harness sets to the run's threads (`torch_compile_mb_per_thread` each).
Where Keras's peak depends on TensorFlow's allocator, the variant's entry holds one peak per allocator
(`{tensorflow: MB, system: MB}`) and the experiment's `tf_allocator` picks one. SLURM jobs
request that with a margin (`slurm_mem_mb`); a local run that cannot fit fails before any job
starts, naming both figures (`shortage_message`), and the demo leaves such an experiment out,
giving the reason in the report (`skip_reasons`).

Used by workflow/rules/common.smk at parse time. Stdlib only.
"""
from __future__ import annotations

import math
import os

# Peaks were measured on short runs: ask a scheduler for half as much again, in 500 MB steps.
SLURM_MARGIN = 1.5
SLURM_STEP_MB = 500
# A variant without a measured peak gets this request on SLURM (and no local check).
UNMEASURED_SLURM_MB = 8000


def machine_memory_mb(configured: int = 0) -> int:
    """Physical memory in MB: `configured` when set (config `machine_memory_mb`), else the
    machine's total."""
    if configured:
        return configured
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)


def run_memory_mb(config: dict, experiment: str) -> int | None:
    """Memory one run of `experiment` needs, in MB; None when its variant was never measured."""
    settings = config["experiments"][experiment]
    peak = config["memory_peaks_mb"].get(settings["model"])
    if peak is None:
        return None
    if isinstance(peak, dict):  # one peak per TensorFlow allocator
        peak = peak[settings["tf_allocator"]]
    smoke = config["smoke"] or config["demo"]
    data = 0 if smoke else config["datasets"][settings["dataset"]].get("prepared_mb", 0)
    return peak + data + torch_compile_mb(config, settings)


def torch_compile_mb(config: dict, settings: dict) -> int:
    """What torch.compile adds to an experiment's need: its compiler processes, one per compile
    thread, i.e. per training thread (harness/runtime.py); 0 without torch.compile. Where
    train_threads is 0 a job may get every core, so every core counts."""
    if not settings.get("torch_compile") or "pytorch" not in settings["frameworks"]:
        return 0
    threads = config["train_threads"] or os.cpu_count() or 1
    return config["torch_compile_mb_per_thread"] * threads


def slurm_mem_mb(config: dict, experiment: str) -> int:
    """The mem_mb a SLURM training job of `experiment` requests."""
    need = run_memory_mb(config, experiment)
    if need is None:
        return UNMEASURED_SLURM_MB
    return math.ceil(need * SLURM_MARGIN / SLURM_STEP_MB) * SLURM_STEP_MB


def shortages(config: dict, experiments, machine_mb: int) -> dict[str, int]:
    """{experiment: MB needed} for those of `experiments` that need more than `machine_mb`."""
    found = {}
    for name in experiments:
        need = run_memory_mb(config, name)
        if need is not None and need > machine_mb:
            found[name] = need
    return found


def _need_sentence(config: dict, name: str, need: int, machine_mb: int) -> str:
    model = config["experiments"][name]["model"]
    return (f"{name} ({model}) needs about {need:,} MB of memory (measured peak, "
            f"memory_peaks_mb in config.yaml) but this machine has {machine_mb:,} MB")


def shortage_message(config: dict, short: dict[str, int], machine_mb: int) -> str:
    """Why the workflow stops, and the `experiments_only` way out."""
    keep = [n for n in config["experiments"] if n not in short and
            (not config["experiments_only"] or n in config["experiments_only"])]
    lines = [_need_sentence(config, name, need, machine_mb) for name, need in short.items()]
    return ("; ".join(lines) + ". Leave it out with --config experiments_only=["
            + ",".join(keep) + "] (or run it on a larger machine; machine_memory_mb in config "
            "overrides the detected memory).")


def skip_reasons(config: dict, short: dict[str, int], machine_mb: int) -> dict[str, str]:
    """{experiment: reason} for the demo, which leaves these experiments out."""
    return {name: "skipped: " + _need_sentence(config, name, need, machine_mb)
            for name, need in short.items()}
