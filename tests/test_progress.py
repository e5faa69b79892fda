"""Progress lines during an epoch (common/progress.py), driven by an injected clock: they appear,
at most one per interval, with batch i/n, images/s so far and ETAs for the epoch and the run."""
import io

import pytest

from alexbench.common.progress import Progress, format_seconds


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def run_epochs(progress, clock, epochs, batches, step_s, batch_size=32):
    for epoch in range(1, epochs + 1):
        progress.start_epoch(epoch)
        for b in range(1, batches + 1):
            clock.now += step_s
            progress.batch(b, b * batch_size)


def test_lines_are_rate_limited_to_one_per_interval():
    clock, lines = FakeClock(), []
    progress = Progress(epochs=1, batches=100, interval_s=10.0, clock=clock, emit=lines.append)
    run_epochs(progress, clock, epochs=1, batches=100, step_s=0.5)  # 50 s of steps
    # Due at 10, 20, 30, 40, 50 s: batches 20, 40, 60, 80, 100.
    assert [line.split()[4] for line in lines] == ["20/100", "40/100", "60/100", "80/100", "100/100"]


def test_no_line_before_the_first_interval():
    clock, lines = FakeClock(), []
    progress = Progress(epochs=3, batches=5, interval_s=10.0, clock=clock, emit=lines.append)
    run_epochs(progress, clock, epochs=1, batches=5, step_s=1.0)
    assert lines == []


def test_line_reports_rate_and_etas_for_epoch_and_run():
    clock, lines = FakeClock(), []
    progress = Progress(epochs=3, batches=100, interval_s=10.0, clock=clock, emit=lines.append)
    progress.start_epoch(1)
    for b in range(1, 21):       # 20 batches of 32 images, 0.5 s each: 10 s, 64 images/s
        clock.now += 0.5
        progress.batch(b, b * 32)
    # Epoch: 80 batches left at 0.5 s; run: that plus two epochs of 100 batches.
    assert lines == ["progress epoch 1/3 batch 20/100 64.0 images/s ETA epoch 40s run 2m20s"]


def test_later_epochs_use_the_measured_length_of_finished_epochs():
    clock, lines = FakeClock(), []
    progress = Progress(epochs=2, batches=10, interval_s=5.0, clock=clock, emit=lines.append)
    progress.start_epoch(1)
    clock.now += 60.0            # epoch 1 took a minute in all (validation included)
    progress.start_epoch(2)
    for b in range(1, 6):
        clock.now += 1.0
        progress.batch(b, b * 10)
    assert lines[-1].endswith("ETA epoch 5s run 5s")


def test_terminal_gets_the_same_line_with_the_run_label():
    clock, lines, terminal = FakeClock(), [], io.StringIO()
    progress = Progress(epochs=1, batches=4, label="results/runs/keras/x", interval_s=1.0,
                        clock=clock, emit=lines.append, terminal=terminal)
    run_epochs(progress, clock, epochs=1, batches=4, step_s=1.0)
    assert terminal.getvalue().splitlines() == [f"results/runs/keras/x: {line}" for line in lines]
    assert len(lines) == 4


def test_a_closed_terminal_does_not_stop_the_log():
    class Gone(io.StringIO):
        def write(self, text):
            raise OSError("terminal hung up")

    clock, lines = FakeClock(), []
    progress = Progress(epochs=1, batches=3, interval_s=1.0, clock=clock, emit=lines.append,
                        terminal=Gone())
    run_epochs(progress, clock, epochs=1, batches=3, step_s=1.0)
    assert len(lines) == 3


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59.4, "59s"), (61, "1m01s"),
                                           (3599, "59m59s"), (7620, "2h07m")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text
