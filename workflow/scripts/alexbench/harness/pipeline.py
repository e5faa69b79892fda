"""The one input pipeline: every framework gets the same numpy batches at the same cost.

Batches (float32 NHWC from common/preprocess.py, int64 labels) are prepared in a background
thread that stays a few batches ahead, so reading and preprocessing overlap the framework's
compute (numpy releases the GIL in its heavy loops).
"""
import queue
import threading

PREFETCH_BATCHES = 3

_DONE = object()


class _Failure:
    def __init__(self, error):
        self.error = error


def prefetch_batches(split, order, batch_size, variant, train, rng, depth=PREFETCH_BATCHES):
    """Yield (x float32 NHWC, y int64) batches of split[order], prepared in a background thread.

    The thread is the only user of `rng` (augmentation), in batch order, so a seed fixes every
    batch. Stopping early (divergence) or an error in the thread both end it cleanly.
    """
    import numpy as np
    from alexbench.common.preprocess import prepare_batch

    q = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for start in range(0, len(order), batch_size):
                # Sorted within the batch: the same examples, read forward through a memory map.
                idx = np.sort(order[start:start + batch_size])
                x = prepare_batch(split.images[idx], variant, train, rng)
                y = np.ascontiguousarray(split.labels[idx], dtype=np.int64)
                if not put((x, y)):
                    return
            put(_DONE)
        except BaseException as e:  # handed to the consumer, which re-raises it
            put(_Failure(e))

    thread = threading.Thread(target=produce, name="input-pipeline", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


def prepare_one_batch(split, indices, variant, rng):
    """One training batch prepared in this thread (the untimed warm-up step)."""
    import numpy as np
    from alexbench.common.preprocess import prepare_batch

    idx = np.sort(indices)
    return (prepare_batch(split.images[idx], variant, True, rng),
            np.ascontiguousarray(split.labels[idx], dtype=np.int64))
