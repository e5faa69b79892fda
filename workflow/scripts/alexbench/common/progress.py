"""Progress lines a person can watch during an epoch: batch i/n, images/s so far, ETA for the
epoch and for the run, at most one line every `interval_s` seconds.

The harness calls `Progress.batch(...)` once per training step; between lines that is one clock
read and one comparison (bench/progress_cost.py measures it against a training step). Lines go
to the job's log (the `alexbench.train` logger, stderr, which the rule redirects to its log) and,
when the job has a controlling terminal (a local `snakemake` in a terminal), to that terminal
too: Snakemake shows jobs, not batches, and the job's own stderr goes to its log file.
ALEXBENCH_PROGRESS_TTY=0 turns the terminal copy off.

Stdlib only. Not for per-epoch summaries (the harness logs those).
"""
from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("alexbench.train")

INTERVAL_S = 10.0
TTY_ENV = "ALEXBENCH_PROGRESS_TTY"


def open_terminal():
    """The controlling terminal for writing, or None (no terminal, SLURM, CI, or switched off)."""
    if os.environ.get(TTY_ENV, "1") == "0":
        return None
    try:
        return open("/dev/tty", "w", buffering=1, encoding="utf-8")
    except OSError:
        return None


def format_seconds(seconds: float) -> str:
    """'42s', '3m05s', '2h07m' - short enough for a progress line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Rate-limited progress of a training run of `epochs` epochs of `batches` batches each.

    `label` names the run on the terminal (several jobs may share it). `clock` and `emit`
    are injectable for tests; `terminal` is a text stream or None.
    """

    def __init__(self, epochs: int, batches: int, label: str = "", interval_s: float = INTERVAL_S,
                 clock=time.monotonic, emit=None, terminal=None):
        self.epochs = epochs
        self.batches = batches
        self.label = label
        self.interval_s = interval_s
        self.clock = clock
        self.emit = emit or (lambda text: log.info("%s", text))
        self.terminal = terminal
        self.epoch = 0
        self.epoch_start = self.next_line = 0.0
        self.finished_epoch_seconds: list[float] = []

    def start_epoch(self, epoch: int) -> None:
        """Call when epoch `epoch` (1-based) starts; its first line comes interval_s later."""
        if self.epoch and self.epoch != epoch:
            self.finished_epoch_seconds.append(self.clock() - self.epoch_start)
        self.epoch = epoch
        self.epoch_start = self.clock()
        self.next_line = self.epoch_start + self.interval_s

    def batch(self, done: int, images: int) -> None:
        """After `done` batches (`images` images) of the current epoch; prints when one is due."""
        now = self.clock()
        if now < self.next_line:
            return
        self.next_line = now + self.interval_s
        self.emit_line(self.line(done, images, now - self.epoch_start))

    def line(self, done: int, images: int, elapsed: float) -> str:
        rate = images / elapsed if elapsed > 0 else 0.0
        per_batch = elapsed / done if done else 0.0
        epoch_left = per_batch * (self.batches - done)
        # Later epochs are expected to take as long as the finished ones did (validation
        # included), or as this one is going when it is the first.
        full_epoch = (sum(self.finished_epoch_seconds) / len(self.finished_epoch_seconds)
                      if self.finished_epoch_seconds else per_batch * self.batches)
        run_left = epoch_left + full_epoch * (self.epochs - self.epoch)
        return (f"progress epoch {self.epoch}/{self.epochs} batch {done}/{self.batches} "
                f"{rate:.1f} images/s ETA epoch {format_seconds(epoch_left)} "
                f"run {format_seconds(run_left)}")

    def emit_line(self, text: str) -> None:
        self.emit(text)
        if self.terminal is not None:
            try:
                self.terminal.write(f"{self.label}: {text}\n" if self.label else f"{text}\n")
            except OSError:
                self.terminal = None  # the terminal went away; the log still has the line
