"""One GPU per running GPU job (common/gpu_devices.py), with fake device ids: several real
processes claim devices at once; no two ever hold one id, and all ids get used."""
import json
import os
import subprocess
import sys
import time

import pytest

from alexbench.common import gpu_devices
from conftest import SCRIPTS

# A stand-in GPU job: claims a device, records when it held which id, holds it a while.
CLAIMER = """
import json, os, sys, time
sys.path.insert(0, {scripts!r})
from alexbench.common.gpu_devices import claim_gpu
claim = claim_gpu()
start = time.time()
time.sleep({hold_s})
print(json.dumps({{"id": claim.gpu_id, "env": os.environ["CUDA_VISIBLE_DEVICES"],
                  "start": start, "end": time.time(), "locked": claim.locked}}))
"""


def claimers(tmp_path, count, ids, hold_s, extra_env=None):
    env = {**os.environ, gpu_devices.IDS_ENV: ids, gpu_devices.LOCK_DIR_ENV: str(tmp_path / "locks")}
    env.pop("SLURM_JOB_ID", None)
    env.update(extra_env or {})
    code = CLAIMER.format(scripts=str(SCRIPTS), hold_s=hold_s)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(count)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


def test_concurrent_jobs_never_share_a_device_and_use_every_device(tmp_path):
    results = claimers(tmp_path, count=5, ids="3,7", hold_s=1.0)
    assert {r["id"] for r in results} == {"3", "7"}
    assert all(r["env"] == r["id"] and r["locked"] for r in results)
    for gpu_id in ("3", "7"):
        windows = sorted((r["start"], r["end"]) for r in results if r["id"] == gpu_id)
        for (_, end), (start, _) in zip(windows, windows[1:]):
            assert start >= end, f"two jobs held fake GPU {gpu_id} at once: {windows}"
    # Two devices, five jobs: at most two at a time, and the two devices did run side by side.
    events = sorted([(r["start"], 1) for r in results] + [(r["end"], -1) for r in results])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak == 2


def test_a_scheduler_allocation_is_used_as_is(tmp_path):
    results = claimers(tmp_path, count=2, ids="", hold_s=0.0,
                       extra_env={"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0"})
    assert [(r["id"], r["locked"]) for r in results] == [("0", False), ("0", False)]


def test_the_lock_is_released_when_its_process_dies(tmp_path):
    env = {gpu_devices.IDS_ENV: "5", gpu_devices.LOCK_DIR_ENV: str(tmp_path / "locks")}
    killed = subprocess.Popen([sys.executable, "-c", CLAIMER.format(scripts=str(SCRIPTS), hold_s=60)],
                              env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
    lock = tmp_path / "locks" / "gpu5.lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip() == str(killed.pid)):
        assert time.monotonic() < deadline, "the claimer never took the lock"
        time.sleep(0.05)
    with pytest.raises(TimeoutError, match="stayed held"):
        gpu_devices.claim_gpu(environ=dict(env), timeout_s=0.5)
    killed.kill()
    killed.wait()
    environ = dict(env)
    claim = gpu_devices.claim_gpu(environ=environ, timeout_s=10)
    assert claim.gpu_id == "5" and environ["CUDA_VISIBLE_DEVICES"] == "5"


def test_without_candidates_the_error_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    with pytest.raises(gpu_devices.NoGpuIdsError, match="nvidia-smi -L lists no GPU"):
        gpu_devices.claim_gpu(environ={gpu_devices.LOCK_DIR_ENV: str(tmp_path)})
