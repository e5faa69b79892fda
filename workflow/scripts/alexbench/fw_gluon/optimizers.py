"""MXNet optimisers whose updates match PyTorch's, from the resolved settings.

Update rules, matched to PyTorch's (docs/design.md "Optimizer settings"):
- sgd: MXNet SGD (fused sgd_mom_update); its `wd` is L2 added to the gradient of every parameter,
  biases included, as torch.optim.SGD does. nesterov uses MXNet's NAG, whose update is PyTorch's
  nesterov formula. MXNet keeps lr inside the momentum buffer, PyTorch outside: identical while
  lr is constant (see fw_keras/loop.py for the reduce-on-plateau transient).
- adam: MXNet's fused adam_update adds epsilon to sqrt(v) with the bias corrections folded into
  the step size; PyTorch adds it to sqrt(v)/sqrt(1-beta_2^t). `AdamTorchEpsilon` passes
  epsilon*sqrt(1-beta_2^t) to the same fused op, which is PyTorch's update exactly (without it
  the loss after 3 Adam steps differed from PyTorch's by ~1% in tests/test_backends.py).
- adadelta: MXNet 1.x's AdaDelta ignores the learning rate (and adds wd outside the delta), so
  this module registers `AdaDeltaLR`: PyTorch's formula, g += wd*w, w -= lr*delta.
The loss is the per-sample softmax cross-entropy; backward() on the vector sums it and
trainer.step(batch_size) rescales the gradient by 1/batch_size, so the step is the gradient of
the batch-mean loss, as in PyTorch and Keras.
"""
import math

import mxnet as mx


@mx.optimizer.register
class AdaDeltaLR(mx.optimizer.Optimizer):
    """AdaDelta as PyTorch and Keras define it: the learning rate scales the delta.

    g = grad + wd*w; acc_g = rho*acc_g + (1-rho)*g^2; d = sqrt(acc_d+eps)/sqrt(acc_g+eps)*g;
    acc_d = rho*acc_d + (1-rho)*d^2; w -= lr*d.

    MXNet 1.9 has no AdaDelta kernel, its CPU wheel's square root costs as much as several
    other passes, and every pass over a parameter is memory-bound, so the update is written
    for the fewest passes (bench/README.md "Gluon's Adadelta on S0"):
    - one square root instead of two, the same formula regrouped: u = (acc_g+eps)/(acc_d+eps),
      d = g/sqrt(u), d^2 = g^2/u. It comes from the fused rmsprop_update kernel, which divides
      by it and steps the weight in the same pass: with gamma1=1 its accumulator n is left as
      it is (0*g*g + 1*n) and with epsilon=0 nothing is added, so it computes w -= lr*g/sqrt(u);
    - the batch-mean rescaling folded into the coefficient of g^2 (contrib.quadratic: a*x^2 +
      b*x + c in one pass);
    - no temporaries: MXNet does not pool CPU memory, so each new parameter-sized array costs
      fresh pages; three scratch buffers, as large as the largest parameter, are shared by all
      parameters (views; the engine orders the updates that use them).
    Results agree with the two-root formula to float32 rounding (tests/test_gluon_optimizers.py).
    """

    SCRATCH_BUFFERS = 3

    def __init__(self, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon
        self._scratch = {}

    def __getstate__(self):
        # gluon.Trainer.save_states pickles the optimizer: the scratch holds nothing to keep.
        state = dict(self.__dict__)
        state["_scratch"] = {}
        return state

    def create_state(self, index, weight):
        return (mx.nd.zeros(weight.shape, weight.context), mx.nd.zeros(weight.shape, weight.context))

    def _scratch_views(self, weight):
        """SCRATCH_BUFFERS arrays shaped like `weight`: views of buffers every parameter shares
        (kept per shape: making a view costs as much as a cheap pass over a bias)."""
        key = (weight.context, weight.dtype)
        buffers, views = self._scratch.get(key, (None, {}))
        if buffers is None or buffers[0].size < weight.size:
            buffers = [mx.nd.empty((weight.size,), weight.context, weight.dtype)
                       for _ in range(self.SCRATCH_BUFFERS)]
            views = {}
            self._scratch[key] = buffers, views
        if weight.shape not in views:
            views[weight.shape] = [b[:weight.size].reshape(weight.shape) for b in buffers]
        return views[weight.shape]

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        scale = self.rescale_grad
        if wd or self.clip_gradient is not None:
            # g as the formula defines it, in a new array (the caller's gradient is left alone).
            grad = grad * scale
            if self.clip_gradient is not None:
                grad = mx.nd.clip(grad, -self.clip_gradient, self.clip_gradient)
            if wd:
                grad += wd * weight
            scale = 1.0
        acc_g, acc_delta = state
        rho, eps = self.rho, self.epsilon
        square, ratio, shifted = self._scratch_views(weight)
        mx.nd.contrib.quadratic(grad, a=(1.0 - rho) * scale * scale, out=square)  # (1-rho)*g^2
        acc_g *= rho
        acc_g += square
        mx.nd.contrib.quadratic(acc_delta, b=1.0, c=eps, out=shifted)             # acc_d + eps
        mx.nd.contrib.quadratic(acc_g, b=1.0, c=eps, out=ratio)                   # acc_g + eps
        ratio /= shifted
        # w -= lr * (scale*grad) / sqrt(ratio), the one square root.
        mx.nd.rmsprop_update(weight, grad, ratio, out=weight, lr=lr, gamma1=1.0, epsilon=0.0,
                             rescale_grad=scale, wd=0.0)
        square /= ratio                                                            # (1-rho)*d^2
        acc_delta *= rho
        acc_delta += square


@mx.optimizer.register
class AdamTorchEpsilon(mx.optimizer.Adam):
    """MXNet's fused Adam with epsilon where PyTorch (and the paper) put it: sqrt(v_hat) + eps."""

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        t = self._index_update_count[index]
        coef1, coef2 = 1.0 - self.beta1 ** t, 1.0 - self.beta2 ** t
        kwargs = {"beta1": self.beta1, "beta2": self.beta2, "rescale_grad": self.rescale_grad,
                  # lr*sqrt(c2)/c1 * m / (sqrt(v) + eps*sqrt(c2)) == lr/c1 * m / (sqrt(v/c2) + eps)
                  "epsilon": self.epsilon * math.sqrt(coef2)}
        if self.clip_gradient:
            kwargs["clip_gradient"] = self.clip_gradient
        mean, var = state
        mx.nd.adam_update(weight, grad, mean, var, out=weight, lazy_update=self.lazy_update,
                          lr=lr * math.sqrt(coef2) / coef1, wd=wd, **kwargs)


def make_optimizer(optimizer: dict):
    """(MXNet optimizer name, its keyword arguments) for resolved settings {"name", ...}."""
    name = optimizer.get("name")
    o = dict(optimizer)
    try:
        common = {"learning_rate": o["learning_rate"], "wd": float(o.get("weight_decay") or 0.0)}
        if name == "sgd":
            return ("nag" if o["nesterov"] else "sgd"), dict(common, momentum=o["momentum"])
        if name == "adam":
            return "adamtorchepsilon", dict(common, beta1=o["beta_1"], beta2=o["beta_2"], epsilon=o["epsilon"])
        if name == "adadelta":
            return "adadeltalr", dict(common, rho=o["rho"], epsilon=o["epsilon"])
    except KeyError as err:
        raise ValueError(f"settings.optimizer ({name}): missing key {err.args[0]!r}; the harness "
                         "must resolve every optimizer key before building a Trainer") from err
    raise ValueError(f"settings.optimizer.name: unknown optimizer {name!r} "
                     "(expected sgd, adam or adadelta)")
