"""Tie a job's process to the process that started it, so it cannot outlive its job.

A scheduler or a user that stops a job kills the job's shell; a training process left running
would finish later and write a complete-looking run folder after Snakemake recorded the job as
failed (and the next timed run would overlap it). On Linux, `die_with_parent` asks the kernel
to SIGKILL this process the moment its parent exits (prctl PR_SET_PDEATHSIG). The train rule
also `exec`s the interpreter, so the job's own process is the training process.

Stdlib only; import and call it before anything slow. Elsewhere than Linux it does nothing.
"""
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send `sig` to this process when its parent exits; True if armed.

    `parent_pid` is os.getppid() read at start-up: if the parent already died before the
    signal was armed, this process is an orphan and ends now, as the signal would have made it.
    SIGKILL by default: nothing of the run (no metrics.json) may be written after its job died.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
    return True
