"""One GPU per running GPU job: a lock per device id, and CUDA_VISIBLE_DEVICES set to it.

Locally Snakemake's `gpu` resource only counts jobs; it hands out no device ids, so without this
two GPU runs could share device 0 while device 1 idles. A GPU job calls `claim_gpu()` before it
imports a framework: it takes the first free device among the candidates with an exclusive
`flock` on `<lock dir>/gpu<id>.lock` (waiting while all are taken), and sets
CUDA_VISIBLE_DEVICES to that id, so the framework sees that device alone. The lock lives as
long as the process and the kernel drops it when the process ends, however it ends.
With `--resources gpu=N` (or the profile's gpu: N) and N GPUs, `-j` then runs up to N GPU runs
at once, never two on one device.

Candidates, in order of precedence:
- ALEXBENCH_GPU_IDS="0,1,3": an explicit list (to keep some GPUs free; tests use fake ids);
- a scheduler's allocation (SLURM sets CUDA_VISIBLE_DEVICES per job, from devices it already
  gives exclusively): used as is, no lock, since its ids may be renumbered per job;
- CUDA_VISIBLE_DEVICES set by the user: its entries;
- otherwise every GPU `nvidia-smi -L` lists (0..N-1).
Lock dir: ALEXBENCH_GPU_LOCK_DIR, default /tmp/alexbench-gpu-locks-<uid> (per machine and user:
another user's lock files could not be opened; set a shared, writable folder to keep several
users' runs apart too).

Stdlib only. Not for finding out whether a GPU exists (`common.hardware.gpu_visible`).
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import time
from dataclasses import dataclass

IDS_ENV = "ALEXBENCH_GPU_IDS"
LOCK_DIR_ENV = "ALEXBENCH_GPU_LOCK_DIR"
DEFAULT_LOCK_DIR = f"/tmp/alexbench-gpu-locks-{os.getuid()}"
POLL_S = 0.5

_held = []  # open lock files of this process: closing one would release its device


class NoGpuIdsError(RuntimeError):
    """No candidate GPU id to claim."""


@dataclass(frozen=True)
class Claim:
    gpu_id: str          # what CUDA_VISIBLE_DEVICES was set to
    locked: bool         # False when a scheduler's allocation was used as is
    waited_s: float      # time spent waiting for a free device


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def scheduler_allocation(environ=os.environ) -> str | None:
    """CUDA_VISIBLE_DEVICES as a scheduler (SLURM) set it for this job, or None."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible and environ.get("SLURM_JOB_ID"):
        return visible
    return None


def candidate_ids(environ=os.environ) -> list[str]:
    if environ.get(IDS_ENV):
        return _split(environ[IDS_ENV])
    if environ.get("CUDA_VISIBLE_DEVICES"):
        return _split(environ["CUDA_VISIBLE_DEVICES"])
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        listing = ""
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


def _try_lock(lock_dir: str, gpu_id: str):
    safe = gpu_id.replace("/", "_")
    handle = open(os.path.join(lock_dir, f"gpu{safe}.lock"), "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def claim_gpu(environ=os.environ, timeout_s: float | None = None, log=None) -> Claim:
    """Claim one GPU for this process and set CUDA_VISIBLE_DEVICES to it (in `environ`).

    Waits while every candidate is held by another process (up to `timeout_s`, None: forever).
    Raises NoGpuIdsError when there is no candidate, TimeoutError after `timeout_s`.
    """
    allocated = scheduler_allocation(environ)
    if allocated is not None:
        return Claim(gpu_id=allocated, locked=False, waited_s=0.0)
    ids = candidate_ids(environ)
    if not ids:
        raise NoGpuIdsError(f"no GPU id to claim: {IDS_ENV} and CUDA_VISIBLE_DEVICES are unset "
                            "and nvidia-smi -L lists no GPU")
    lock_dir = environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR
    os.makedirs(lock_dir, exist_ok=True)
    start = time.monotonic()
    said = False
    while True:
        for gpu_id in ids:
            handle = _try_lock(lock_dir, gpu_id)
            if handle is not None:
                _held.append(handle)
                environ["CUDA_VISIBLE_DEVICES"] = gpu_id
                return Claim(gpu_id=gpu_id, locked=True, waited_s=time.monotonic() - start)
        waited = time.monotonic() - start
        if timeout_s is not None and waited >= timeout_s:
            raise TimeoutError(f"every GPU in {ids} stayed held by other runs for {waited:.0f} s "
                               f"(locks in {lock_dir})")
        if log is not None and not said:
            log(f"every GPU in {ids} is in use by another run; waiting for one (locks in {lock_dir})")
            said = True
        time.sleep(POLL_S)
