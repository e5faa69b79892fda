"""The learning-rate schedule the harness runs for every framework (not each framework's own
callback, so that all three follow exactly the same rule)."""
import math


class ReduceOnPlateau:
    """Multiply the learning rate by `factor` after `patience` epochs without a lower val loss.

    Keras's ReduceLROnPlateau with min_delta 0 and cooldown 0.
    """

    def __init__(self, factor, patience):
        self.factor = factor
        self.patience = patience
        self.best = math.inf
        self.wait = 0

    def step(self, val_loss, lr):
        """The learning rate for the next epoch."""
        if val_loss < self.best:
            self.best = val_loss
            self.wait = 0
            return lr
        self.wait += 1
        if self.wait >= self.patience:
            self.wait = 0
            return lr * self.factor
        return lr


def from_settings(lr_schedule):
    """The schedule of the resolved settings, or None for a constant rate."""
    if lr_schedule is None:
        return None
    return ReduceOnPlateau(lr_schedule["factor"], lr_schedule["patience"])
