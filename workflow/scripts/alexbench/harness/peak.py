"""The machine's peak matrix-multiply rate, the denominator of model FLOP utilisation.

Measured with the framework's own GEMM in the run's precision (float32; bfloat16 for a bf16 run)
on the run's device and threads (backend.peak_matmul_gflops), before the framework is seeded, and
cached per host, env, precision and thread count in --peak-cache (resources/peaks/), so a host pays for it once. It is measured in
the job rather than by a rule of its own because on a cluster the job's node is the host that
matters. Delete the cache file to measure again (e.g. after measuring on a busy machine).
"""
import json
import logging
import socket
from pathlib import Path

from alexbench.common import atomic_files

log = logging.getLogger("alexbench.train")

MATRIX_SIZE = 2048  # 17 GFLOP per product: long enough to time, short enough to be free


def cache_path(cache_dir, env, precision, threads) -> Path:
    return Path(cache_dir) / f"{socket.gethostname()}-{env}-{precision}-{threads}t.json"


def peak_gflops(backend, device, cache_dir, env, threads, precision="fp32"):
    """{"gflops", "source": "measured"|"cached", "matrix_size"}; None without a cache folder."""
    if cache_dir is None:
        return None
    path = cache_path(cache_dir, env, precision, threads)
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(cached.get("gflops"), (int, float)) and cached["gflops"] > 0:
            return {**cached, "source": "cached"}
    except (OSError, ValueError):
        pass
    gflops = float(backend.peak_matmul_gflops(device, MATRIX_SIZE, precision))
    found = {"gflops": gflops, "matrix_size": MATRIX_SIZE}
    atomic_files.write_text(path, json.dumps(found) + "\n")
    log.info("peak %s %s matmul on %s: %.1f GFLOP/s (cached in %s)", env, precision,
             socket.gethostname(), gflops, path)
    return {**found, "source": "measured"}
