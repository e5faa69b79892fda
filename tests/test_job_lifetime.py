"""A training process cannot outlive its job: killing the job's shell ends the training, before
it can write a complete-looking run folder, and the train rule execs the interpreter so the
job's own process is the training process."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, env_python
from plugins.checkout import copy_checkout
from test_config import SNAKEMAKE, dry_run
from test_training import settings, train_args


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for its new parent to reap it counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_for(condition, what: str, limit_s: float = 120):
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {limit_s} s")
        time.sleep(0.2)


def test_killing_the_job_shell_ends_the_training(prepared_data, tmp_path):
    out = tmp_path / "run"
    args = train_args("pytorch", prepared_data("mnist", 64, 32), out, settings(epochs=500))
    command = " ".join(f"'{a}'" for a in [env_python("pytorch-cpu"), *args])
    # A job shell that does not exec: training runs as its child, as under a wrapper script.
    shell = subprocess.Popen(["bash", "-c", f"{command}; echo finished"], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    trainer = None
    try:
        wait_for(lambda: children(shell.pid), "the training process to start")
        (trainer,) = children(shell.pid)
        wait_for(lambda: (out / "env.txt").exists(), "the run to start (env.txt)")
        os.kill(shell.pid, signal.SIGKILL)
        shell.wait()
        wait_for(lambda: gone(trainer), "the training process to die with its shell", 60)
        assert not (out / "metrics.json").exists()
    finally:
        if trainer and not gone(trainer):
            os.kill(trainer, signal.SIGKILL)


def test_the_train_rule_execs_the_interpreter():
    target = "results/runs/pytorch/mnist/alexnet-mnist/cpu/fp32/seed0/metrics.json"
    proc = dry_run(target, "--printshellcmds", "--forcerun", "train", quiet=False)
    assert proc.returncode == 0, proc.stderr
    assert "; exec .venvs/pytorch-cpu/bin/python workflow/scripts/train.py" in proc.stdout


def training_processes(root: Path) -> list[int]:
    """Processes running train.py with their working directory in `root`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"workflow/scripts/train.py" in cmdline and cwd == str(root):
            found.append(int(proc.name))
    return found


def test_killing_snakemake_ends_its_training_job(tmp_path):
    """The whole chain as a scheduler or a user stops it: Snakemake killed while a train job
    runs. Before, the job's shell and its Python lived on and wrote a metrics.json later."""
    clone = copy_checkout(tmp_path / "clone")
    target = "results/runs/keras/mnist/alexnet-lrn-32/cpu/fp32/seed0/metrics.json"
    snakemake = subprocess.Popen(
        [*SNAKEMAKE, target, "-j1", "--config", "demo=true", "experiments_only=[S2]",
         "hardware=[cpu]"], cwd=clone, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    trainers = []
    try:
        wait_for(lambda: training_processes(clone), "the train job to start", 600)
        trainers = training_processes(clone)
        time.sleep(2)  # train.py arms its parent-death signal in its first milliseconds
        os.kill(snakemake.pid, signal.SIGKILL)
        snakemake.wait()
        for pid in trainers:
            wait_for(lambda: gone(pid), "the training process to die with Snakemake", 60)
        assert not (clone / target).exists()
    finally:
        for pid in trainers:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
