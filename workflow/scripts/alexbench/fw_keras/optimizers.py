"""Keras optimisers whose updates match PyTorch's, from the resolved settings.

Update rules, matched to PyTorch's (docs/design.md "Optimizer settings"):
- sgd: Keras SGD, momentum and nesterov as PyTorch. Keras's own `weight_decay` is decoupled
  (w -= lr*wd*w after the step, outside the momentum buffer), so it is NOT used: weight decay is
  added to every trainable variable's gradient (g + wd*w) before the update, exactly as
  torch.optim.SGD(weight_decay=wd) does. Keras keeps lr inside its momentum buffer
  (m = mu*m - lr*g) where PyTorch keeps it outside (b = mu*b + g; w -= lr*b): identical while lr is
  constant; after a reduce-on-plateau step the old momentum decays at the old rate for a few steps.
- adam: Keras Adam adds epsilon to sqrt(v) with the bias corrections folded into the step size
  ("epsilon hat"); PyTorch adds it to sqrt(v)/sqrt(1-beta_2^t). `AdamTorchEpsilon` is Keras's
  Adam with PyTorch's placement (without it the loss after 3 Adam steps differed from PyTorch's
  by ~1% in tests/test_backends.py); Keras's Adam is Python-level ops either way, so it costs
  nothing.
- adadelta: Keras Adadelta, the same formula as PyTorch's (lr scales the delta).
"""
import keras
import tensorflow as tf


class AdamTorchEpsilon(keras.optimizers.Adam):
    """Keras Adam with epsilon where PyTorch (and the paper) put it: sqrt(v_hat) + eps."""

    def update_step(self, gradient, variable, learning_rate):
        lr = tf.cast(learning_rate, variable.dtype)
        gradient = tf.cast(gradient, variable.dtype)
        step = tf.cast(self.iterations + 1, variable.dtype)
        bias_1 = 1 - tf.pow(tf.cast(self.beta_1, variable.dtype), step)
        bias_2 = 1 - tf.pow(tf.cast(self.beta_2, variable.dtype), step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, (gradient - m) * (1 - self.beta_1))
        self.assign_add(v, (tf.square(gradient) - v) * (1 - self.beta_2))
        denominator = tf.sqrt(v) / tf.sqrt(bias_2) + self.epsilon
        self.assign_sub(variable, (lr / bias_1) * m / denominator)


def make_optimizer(optimizer: dict):
    """The Keras optimiser for resolved settings {"name", "learning_rate", ...}, and its L2 factor.

    Weight decay is returned separately: the train step adds it to the gradient (see module doc).
    """
    name = optimizer.get("name")
    o = dict(optimizer)
    try:
        if name == "sgd":
            opt = keras.optimizers.SGD(learning_rate=o["learning_rate"], momentum=o["momentum"],
                                       nesterov=bool(o["nesterov"]))
        elif name == "adam":
            opt = AdamTorchEpsilon(learning_rate=o["learning_rate"], beta_1=o["beta_1"],
                                   beta_2=o["beta_2"], epsilon=o["epsilon"])
        elif name == "adadelta":
            opt = keras.optimizers.Adadelta(learning_rate=o["learning_rate"], rho=o["rho"],
                                            epsilon=o["epsilon"])
        else:
            raise ValueError(f"settings.optimizer.name: unknown optimizer {name!r} "
                             "(expected sgd, adam or adadelta)")
    except KeyError as err:
        raise ValueError(f"settings.optimizer ({name}): missing key {err.args[0]!r}; the harness "
                         "must resolve every optimizer key before building a Trainer") from err
    return opt, float(o.get("weight_decay") or 0.0)
