"""harness/epochs.train_epoch reads each step's results one step late (Trainer.queue_batch), so an
asynchronous runtime always has the next step queued: checked with a trainer that logs when
steps are queued and read, over the harness's real input pipeline. The real backends' queue_batch
is exercised by every training test (tests/test_training.py and the end-to-end runs)."""
import math

import numpy as np
import pytest

from alexbench.common.prepared import Split
from alexbench.harness.epochs import train_epoch
from alexbench.harness.meters import PhaseMeter

BATCH = 4


class LoggingTrainer:
    """Losses from a list, one per step; logs ('queue', n) and ('read', n) in call order."""

    def __init__(self, losses):
        self.losses = losses
        self.log = []
        self.syncs = 0

    def queue_batch(self, x, y):
        number = sum(1 for kind, _ in self.log if kind == "queue") + 1
        self.log.append(("queue", number))

        def read():
            self.log.append(("read", number))
            return self.losses[number - 1], number  # `number` correct answers, to count them
        return read

    def sync(self):
        self.syncs += 1


def epoch(losses, batches, warm_batches=None):
    images = np.zeros((batches * BATCH, 28, 28, 1), dtype=np.uint8)
    split = Split(images, np.zeros(batches * BATCH, dtype=np.int64))
    trainer = LoggingTrainer(losses)
    result = train_epoch(trainer, split, np.arange(len(split)), BATCH, "alexnet-mnist",
                         np.random.default_rng(0), PhaseMeter(), warm_batches)
    return trainer, result


def test_each_step_is_read_after_the_next_is_queued_and_all_are_counted():
    trainer, result = epoch([1.0, 2.0, 3.0, 4.0], batches=4)
    assert trainer.log == [("queue", 1), ("queue", 2), ("read", 1), ("queue", 3), ("read", 2),
                           ("queue", 4), ("read", 3), ("read", 4)]
    assert result.seen == 4 * BATCH
    assert result.loss_sum == pytest.approx(BATCH * (1 + 2 + 3 + 4))
    assert result.correct == 1 + 2 + 3 + 4
    assert result.diverged_at_batch is None
    assert trainer.syncs == 1  # the epoch ends with the device idle


def test_a_divergence_names_its_batch_and_counts_only_the_steps_before_it():
    trainer, result = epoch([1.0, math.nan, 3.0, 4.0, 5.0], batches=5)
    assert result.diverged_at_batch == 2 and math.isnan(result.diverged_loss)
    assert result.seen == BATCH and result.correct == 1
    # Seen one step late: step 3 was queued before step 2 was read, and never read; no more.
    assert trainer.log == [("queue", 1), ("queue", 2), ("read", 1), ("queue", 3), ("read", 2)]


def test_a_divergence_in_the_last_step_is_caught():
    _, result = epoch([1.0, 2.0, math.inf], batches=3)
    assert result.diverged_at_batch == 3 and result.seen == 2 * BATCH


def test_the_warm_mark_counts_exactly_the_warm_batches():
    trainer, result = epoch([1.0] * 6, batches=6, warm_batches=2)
    assert result.warm_mark[0] == 2 * BATCH
    # Step 2 is read before the mark (no step queued past it), then the lag resumes.
    assert trainer.log[:6] == [("queue", 1), ("queue", 2), ("read", 1), ("read", 2),
                               ("queue", 3), ("queue", 4)]
    assert result.seen == 6 * BATCH and trainer.syncs == 2
