"""Keras 3 / TensorFlow backend of the training harness: threads, seeds, device, one train step.

The harness (alexbench.harness) drives every framework batch by batch with the same numpy
batches; this module turns them into one compiled optimiser step or one evaluation pass, and
answers the harness's questions (versions, device name, peak GPU memory). The public names and
their order match fw_gluon/loop.py and fw_pytorch/loop.py, so the three files diff line by line.

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

Not for: the epoch loop, timing, input preparation or the run contract (harness.py), nor
model definitions (models.py).

Threads: the harness should set OMP_NUM_THREADS / MKL_NUM_THREADS / TF_NUM_*_THREADS before this
module is imported (TensorFlow reads some at import); configure_threads sets them again and fixes
TensorFlow's intra-op pool to `threads` and its inter-op pool to 1 (one op at a time, `threads`
threads inside each op: the same shape as MXNet's one engine worker and PyTorch's eager loop).
"""
import logging
import os
import random

# oneDNN builds of TensorFlow allocate CPU tensors from a BFC pool that never gives memory back,
# so every build temporary and gradient stayed in the process (S1: 21.4 GB peak RSS). The system
# allocator returns freed blocks; the kernels, hence the results, are the same. Read when
# TensorFlow creates its CPU allocator: the harness sets it before import too (PRE_IMPORT_ENV).
os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

from alexbench.common import hardware, layer_specs  # noqa: E402
from alexbench.fw_keras.models import (adopt_numpy, aligned_empty, build_model,  # noqa: E402
                                       count_parameters)

FRAMEWORK = "keras"
log = logging.getLogger(__name__)

# snapshot() does not copy a variable of at least this size that still holds its seeded initial
# draw or zeros (checked block by block): restore() redraws it. S1's fc1 kernel is 3.5 GB.
SNAPSHOT_BY_RECIPE_BYTES = 64 * 2**20
SNAPSHOT_BLOCK_ELEMENTS = 1 << 22

# Environment variables that size the CPU thread pools of TensorFlow and the math libraries it
# may load (oneDNN uses TF's own Eigen pool; OMP/MKL/OpenBLAS only matter if present).
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "TF_NUM_INTRAOP_THREADS")
INTER_OP_THREADS = 1


def configure_threads(threads: int) -> None:
    """Use exactly `threads` CPU threads inside each op, one op at a time.

    Must run before TensorFlow executes its first op (it raises RuntimeError afterwards).
    """
    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(INTER_OP_THREADS)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(INTER_OP_THREADS)
    except RuntimeError as err:
        raise RuntimeError("configure_threads must run before TensorFlow executes anything "
                           f"(call it first, right after importing the backend): {err}") from err


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and TensorFlow, and switch TensorFlow to deterministic ops.

    enable_op_determinism makes GPU kernels pick deterministic algorithms (slower cuDNN
    convolution backward passes, no atomics in reductions) and makes ops without a deterministic
    kernel raise instead of silently varying; on CPU it costs little (see the report).
    """
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)   # python, numpy and TF global seeds in one call
    tf.config.experimental.enable_op_determinism()


def select_device(hardware_kind: str):
    """The TF device string for 'cpu' or 'gpu'; never falls back to CPU for a 'gpu' run.

    For 'cpu' the GPUs are hidden from TensorFlow, so no op or variable lands on one by default.
    """
    if hardware_kind == "gpu":
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            raise hardware.GPUUnavailableError("tf.config.list_physical_devices('GPU') is empty")
        # Grow GPU memory on demand, as MXNet's and PyTorch's pools do, instead of reserving all.
        tf.config.experimental.set_memory_growth(gpus[0], True)
        return "/device:GPU:0"
    if hardware_kind == "cpu":
        if tf.config.list_physical_devices("GPU"):
            tf.config.set_visible_devices([], "GPU")
        return "/device:CPU:0"
    raise ValueError(f"hardware must be 'cpu' or 'gpu', got {hardware_kind!r}")


def device_name(device) -> str:
    """The GPU's name as TensorFlow reports it, or the CPU model."""
    if "GPU" in device:
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return details.get("device_name") or "unknown GPU"
    return hardware.cpu_model_name()


def versions() -> dict:
    """TensorFlow (the framework) and Keras versions, the CUDA/cuDNN TF was built with, the driver."""
    build = tf.sysconfig.get_build_info()
    cuda = build.get("cuda_version") if build.get("is_cuda_build") else None
    cudnn = build.get("cudnn_version") if build.get("is_cuda_build") else None
    return {"framework": tf.__version__,
            "framework_detail": {"tensorflow": tf.__version__, "keras": keras.__version__},
            "cuda": str(cuda) if cuda else None,
            "cudnn": str(cudnn) if cudnn else None,
            "driver": hardware.nvidia_driver_version()}

def check_environment() -> tuple:
    """(version, output shape) of a tiny conv net's forward pass: proves a fresh env works."""
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    out = model(np.zeros((2, 8, 8, 1), "float32"))
    return keras.__version__, tuple(out.shape)


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


class Trainer:
    """One model, its optimiser and compiled train/eval steps on one device."""

    def __init__(self, variant: str, num_classes: int, settings: dict, device):
        self.device = device
        self.num_classes = num_classes
        self.top_k = min(5, num_classes)
        with tf.device(device):
            self.model = build_model(variant, num_classes, device)
            self.optimizer, self.weight_decay = make_optimizer(settings["optimizer"])
            # Build the optimiser's slots now, so snapshot() before the first step covers them.
            self.optimizer.build(self.model.trainable_variables)
        self.parameters = int(count_parameters(self.model))
        h, w, c = layer_specs.input_shape(variant)
        # A fixed signature with a free batch dimension: the last, smaller batch does not retrace.
        signature = [tf.TensorSpec([None, h, w, c], tf.float32), tf.TensorSpec([None], tf.int64)]
        self._train_step = tf.function(self._train_step_eager, input_signature=signature)
        self._eval_step = tf.function(self._eval_step_eager, input_signature=signature)
        if "GPU" in device:
            tf.config.experimental.reset_memory_stats("GPU:0")

    def _inputs(self, x, y):
        with tf.device(self.device):
            return (tf.convert_to_tensor(np.asarray(x, dtype=np.float32)),
                    tf.convert_to_tensor(np.asarray(y, dtype=np.int64)))

    def _train_step_eager(self, x, y):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, variables)
        if self.weight_decay:
            grads = [g + self.weight_decay * v for g, v in zip(grads, variables)]
        self.optimizer.apply_gradients(zip(grads, variables))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.int64))
        return loss, correct

    def _eval_step_eager(self, x, y):
        logits = self.model(x, training=False)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.int64))
        top_k = tf.math.top_k(logits, k=self.top_k).indices
        correct_k = tf.reduce_sum(tf.cast(tf.reduce_any(
            tf.equal(tf.cast(top_k, tf.int64), y[:, None]), axis=1), tf.int64))
        return loss, correct, correct_k

    def train_batch(self, x, y) -> tuple:
        """One optimiser step on NHWC float32 `x`, int64 `y`: (mean loss, correct top-1)."""
        with tf.device(self.device):
            loss, correct = self._train_step(*self._inputs(x, y))
        return float(loss.numpy()), int(correct.numpy())

    def evaluate_batch(self, x, y) -> tuple:
        """Inference mode (dropout off), no gradients: (mean loss, correct top-1, correct top-k)."""
        with tf.device(self.device):
            loss, correct, correct_k = self._eval_step(*self._inputs(x, y))
        return float(loss.numpy()), int(correct.numpy()), int(correct_k.numpy())

    def get_learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

    def set_learning_rate(self, lr: float) -> None:
        self.optimizer.learning_rate = float(lr)

    def snapshot(self):
        """Weights, dropout seed-generator states and optimiser variables (slots, step count, lr).

        model.variables includes Keras's SeedGenerator states, so a warm-up step undone by
        restore() leaves the dropout random stream where it was, as in fw_pytorch.
        A large variable that still equals its seeded initial draw, or all (+0.0) zeros, is
        recorded as that recipe instead of a copy (verified block by block, so restore() writes
        back exactly the same bits); everything else is copied.
        """
        draws = getattr(self.model, "initial_draws", {})
        return ([_variable_state(v, draws.get(v.path)) for v in self.model.variables],
                [_variable_state(v, None) for v in self.optimizer.variables])

    def restore(self, state) -> None:
        weights, optimizer_vars = state
        for var, saved in zip(self.model.variables, weights):
            _restore_variable(var, saved)
        for var, saved in zip(self.optimizer.variables, optimizer_vars):
            _restore_variable(var, saved)

    def sync(self) -> None:
        """Block until every queued op on every device has finished (GPU work is asynchronous)."""
        tf.test.experimental.sync_devices()

    def peak_gpu_mb(self):
        """Peak bytes TensorFlow's allocator held on the GPU, in MiB; None on CPU."""
        if "GPU" not in self.device:
            return None
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20

    def save_weights(self, path_stem: str) -> str:
        """Write the weights as Keras's native `<stem>.weights.h5`; returns the file's name.

        Written under a temporary name and renamed, so an interrupted save leaves no
        complete-looking file.
        """
        final = f"{path_stem}.weights.h5"
        partial = f"{path_stem}.partial.weights.h5"
        self.model.save_weights(partial)
        os.replace(partial, final)
        return os.path.basename(final)


def _variable_blocks(variable):
    """(first row, numpy block) over axis 0 of a variable, read a block at a time."""
    value = getattr(variable, "value", variable)
    shape = [int(d) for d in variable.shape]
    rows = max(1, SNAPSHOT_BLOCK_ELEMENTS // max(1, int(np.prod(shape[1:], dtype=np.int64))))
    for start in range(0, shape[0], rows):
        yield start, value[start:start + rows].numpy()


def _variable_state(variable, draw):
    """("draw", SeededDraw) / ("zeros", None) for a large variable that holds exactly that,
    else ("copy", numpy copy)."""
    nbytes = int(np.prod(variable.shape, dtype=np.int64)) * np.dtype(variable.dtype).itemsize
    if variable.shape and nbytes >= SNAPSHOT_BY_RECIPE_BYTES:
        if draw is not None and all(
                np.array_equal(got.view(np.uint8), want.view(np.uint8))
                for (_, got), (_, want) in zip(_variable_blocks(variable),
                                               draw.blocks(variable.shape, SNAPSHOT_BLOCK_ELEMENTS))):
            return ("draw", draw)
        if not any(block.view(np.uint8).any() for _, block in _variable_blocks(variable)):
            return ("zeros", None)
    return ("copy", variable.numpy().copy())


def _restore_variable(variable, saved) -> None:
    # The variable takes over the new array's memory (adopt_numpy): no full-size copies. Slice
    # assignment would avoid even that one array, but it switches TensorFlow's variable to
    # copy-on-read, which copies the whole kernel on every later read.
    kind, value = saved
    if kind == "draw":
        variable.assign(adopt_numpy(value.draw(variable.shape)))
    elif kind == "zeros":
        zeros = aligned_empty(tuple(int(d) for d in variable.shape), np.dtype(variable.dtype))
        zeros.fill(0)
        variable.assign(adopt_numpy(zeros))
    else:
        variable.assign(value)
