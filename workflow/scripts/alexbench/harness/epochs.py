"""One training epoch and one evaluation pass, driven batch by batch through a backend's Trainer
(the shape of pytorch/examples' imagenet `train` / `validate`). Timing stays with the caller,
except the marks only a batch loop can take."""
import logging
import math
import time
from dataclasses import dataclass
from typing import Optional

from alexbench.harness.meters import PhaseMeter
from alexbench.harness.pipeline import prefetch_batches

log = logging.getLogger("alexbench.train")


@dataclass
class EpochResult:
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    diverged_at_batch: Optional[int] = None  # 1-based batch whose loss was not finite
    diverged_loss: Optional[float] = None
    # (images seen, clock) after the first `warm_batches` batches, when asked for.
    warm_mark: Optional[tuple] = None


def train_epoch(trainer, split, order, batch_size, variant, rng, meter: PhaseMeter,
                warm_batches: Optional[int] = None, progress=None) -> EpochResult:
    """One pass over split[order] with one optimiser step per batch; stops at a non-finite loss.

    Each step's loss and count are read after the next step is queued (Trainer.queue_batch), so
    an asynchronous runtime always has the next step waiting; a divergence is therefore seen one
    step late, and that one further step is not counted. With `warm_batches`, the device is
    synchronised after that many batches and the mark kept, so throughput can leave out the first
    batches of a one-epoch run. `progress` (common.progress.Progress) is told after every batch
    read; it prints at most every 10 s.
    """
    result = EpochResult()
    pending = None  # (batch number from 1, its size, its read function): queued, not read yet

    def account(number, size, read) -> bool:
        """Add one step's results; False (and the divergence noted) at a non-finite loss."""
        loss, correct = read()
        if not math.isfinite(loss):
            result.diverged_at_batch, result.diverged_loss = number, loss
            return False
        result.loss_sum += loss * size
        result.correct += int(correct)
        result.seen += size
        if progress is not None:
            progress.batch(number, result.seen)
        return True

    meter.start()
    for b, (x, y) in enumerate(prefetch_batches(split, order, batch_size, variant, True, rng)):
        meter.batch_ready()
        queued = (b + 1, len(y), trainer.queue_batch(x, y))
        finite = pending is None or account(*pending)
        meter.step_done()
        pending = None
        if not finite:
            break  # the step queued after the diverged one is never read
        if warm_batches is not None and b + 1 == warm_batches:
            if not account(*queued):
                break
            trainer.sync()
            result.warm_mark = (result.seen, time.perf_counter())
            meter.start()
        else:
            pending = queued
    if pending is not None:
        account(*pending)
    trainer.sync()
    return result


def evaluate(trainer, split, indices, batch_size, variant):
    """Loss, top-1, top-5 and seconds over split[indices], no gradients; device synced."""
    trainer.sync()
    start = time.perf_counter()
    loss_sum = correct = correct5 = seen = 0
    for x, y in prefetch_batches(split, indices, batch_size, variant, train=False, rng=None):
        loss, c1, c5 = trainer.evaluate_batch(x, y)
        loss_sum += float(loss) * len(y)
        correct += int(c1)
        correct5 += int(c5)
        seen += len(y)
    trainer.sync()
    seconds = time.perf_counter() - start
    return {"loss": loss_sum / seen, "accuracy": correct / seen, "top5_accuracy": correct5 / seen,
            "images": seen, "seconds": seconds}
