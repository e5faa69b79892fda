"""Where the training loop's time goes: waiting for the input pipeline, or in the framework's
step. Two clock reads per batch, the same in every framework (pytorch/examples' imagenet meters
without their averaging)."""
import time


class PhaseMeter:
    """Seconds spent waiting for batches (data_wait) and inside train steps (step), summed.

    The step's clock is read after the previous step's loss has been read as a Python float
    (harness/epochs.py), so the device has finished that step by then; summed over an epoch
    (which ends synchronised) the split between waiting and stepping is exact to one step.
    """

    def __init__(self):
        self.data_wait_s = 0.0
        self.step_s = 0.0
        self._mark = None

    def start(self):
        self._mark = time.perf_counter()

    def batch_ready(self):
        now = time.perf_counter()
        self.data_wait_s += now - self._mark
        self._mark = now

    def step_done(self):
        now = time.perf_counter()
        self.step_s += now - self._mark
        self._mark = now

    def as_dict(self):
        return {"data_wait_s": self.data_wait_s, "step_s": self.step_s}
