"""Keras 3 / TensorFlow backend of the training harness: threads, seeds, device, one train step.

The harness (alexbench.harness) drives every framework batch by batch with the same numpy
batches; this module turns them into one compiled optimiser step or one evaluation pass, and
answers the harness's questions (versions, device name, peak GPU memory). The public names and
their order match fw_gluon/loop.py and fw_pytorch/loop.py, so the three files diff line by line.

Optimisers (update rules matched to PyTorch's): optimizers.py. Undoing the warm-up step
without copying S1's 3.5 GB kernel: snapshots.py.

Not for: the epoch loop, timing, input preparation or the run contract (alexbench/harness/), nor
model definitions (models.py).

Threads and allocator: the harness sets OMP_NUM_THREADS, TF_NUM_*_THREADS and, with
`tf_allocator: system`, TF_ONEDNN_USE_SYSTEM_ALLOCATOR before this module is imported
(alexbench/harness/runtime.py: TensorFlow reads them at import); configure_threads fixes both
of TensorFlow's pools to `threads`: `threads` threads inside each op, and up to `threads`
independent ops at once (the per-variable optimiser updates, a convolution's weight and input
gradients). That is TensorFlow's own default shape (both pools as large as the cores), bounded
to the run's cores.
With one inter-op thread (and deterministic mode) the harness trained alexnet-mnist at
0.87-0.94 of model.fit's speed; with `threads` (and the fast path) at 0.98, and alexnet-lrn-32
at 0.99 once TensorFlow kept its own allocator (bench/README.md).
"""
import logging
import time

import numpy as np
import tensorflow as tf
import keras

from alexbench.common import atomic_files, hardware, layer_specs, registry
from alexbench.fw_keras import precision as precisions, snapshots
from alexbench.fw_keras.models import build_model, count_parameters
from alexbench.fw_keras.optimizers import make_optimizer

FRAMEWORK = "keras"
log = logging.getLogger(__name__)


def configure_threads(threads: int) -> None:
    """Use `threads` CPU threads inside each op and run up to `threads` independent ops at
    once; call before the framework runs anything."""
    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
    except RuntimeError as err:
        raise RuntimeError("configure_threads must run before TensorFlow executes anything "
                           f"(call it first, right after importing the backend): {err}") from err


def seed_framework(seed: int, deterministic: bool) -> None:
    """Seed TensorFlow and Keras, and switch TensorFlow to deterministic ops.

    keras.utils.set_random_seed is Keras's one documented call: it seeds TF's global generator
    and Keras's own global seed, and re-seeds Python and numpy with the same seed the harness
    just gave them (their state does not change). enable_op_determinism makes GPU kernels pick
    deterministic algorithms (slower cuDNN convolution backward passes, no atomics in
    reductions) and makes ops without a deterministic kernel raise instead of silently varying;
    on CPU it costs little (see the report).
    """
    keras.utils.set_random_seed(seed)
    if deterministic:  # TensorFlow has no call to switch it off again: a process decides once
        tf.config.experimental.enable_op_determinism()


def select_device(hardware_kind: str):
    """The device for 'cpu' or 'gpu'; a 'gpu' run without a GPU raises GPUUnavailableError
    (never a CPU fallback)."""
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
    """The GPU's name as TensorFlow reports it."""
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    return details.get("device_name") or "unknown GPU"


def versions() -> dict:
    """The framework's version and packages, and the CUDA/cuDNN it uses (None on CPU builds)."""
    build = tf.sysconfig.get_build_info()
    cuda = build.get("cuda_version") if build.get("is_cuda_build") else None
    cudnn = build.get("cudnn_version") if build.get("is_cuda_build") else None
    return {"framework": tf.__version__,
            "framework_detail": {"tensorflow": tf.__version__, "keras": keras.__version__},
            "cuda": str(cuda) if cuda else None,
            "cudnn": str(cudnn) if cudnn else None}


def check_environment() -> tuple:
    """(version, output shape) of a tiny conv net's forward pass: proves a fresh env works."""
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    out = model(np.zeros((2, 8, 8, 1), "float32"))
    return keras.__version__, tuple(out.shape)


def use_xla(model, device, choice="auto") -> bool:
    """Whether to compile this model's steps with XLA, for the `keras_jit_compile` setting, whose
    values are those of Keras's own jit_compile argument.

    "auto" (the default) is what model.fit does by default: XLA where TensorFlow sees an
    accelerator, every layer supports it and op determinism is off (Keras's Model.jit_compile
    decides); on the CPU it stays off, as on a CPU-only machine (on the developer VMs XLA trained
    alexnet-mnist and alexnet-lrn-32 slower and alexnet-d2l 1.2x as fast: bench/README.md).
    True or False go through Keras's own setter, which keeps XLA off where the model cannot
    use it (op determinism on: XLA has no deterministic max-pooling gradient) and warns.
    """
    if choice == "auto":
        return "GPU" in device and bool(model.jit_compile)
    model.jit_compile = bool(choice)
    return bool(model.jit_compile)


def peak_matmul_gflops(device, size: int, precision: str = "fp32") -> float:
    """GFLOP/s of the framework's own n x n matrix product in `precision` (float32; bfloat16
    for bf16) on the device, best of 5 after one warm-up (the peak that model FLOP utilisation
    is measured against)."""
    dtype = precisions.matmul_dtype(precision)
    with tf.device(device):
        a = tf.cast(tf.random.uniform((size, size)), dtype)
        b = tf.cast(tf.random.uniform((size, size)), dtype)
        best = float("inf")
        for _ in range(6):
            tf.test.experimental.sync_devices()
            start = time.perf_counter()
            tf.linalg.matmul(a, b)
            tf.test.experimental.sync_devices()
            best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


class Trainer:
    """One model, its optimiser and compiled train/eval steps on one device."""

    def __init__(self, variant: str, num_classes: int, settings: dict, device):
        self.device = device
        self.num_classes = num_classes
        self.top_k = min(5, num_classes)
        self.precision = settings.get("precision", registry.DEFAULT_PRECISION)
        with tf.device(device), precisions.model_policy(self.precision):
            self.model = build_model(variant, num_classes, device)
            self.optimizer, self.weight_decay = make_optimizer(settings["optimizer"])
            # Build the optimiser's slots now, so snapshot() before the first step covers them.
            self.optimizer.build(self.model.trainable_variables)
        self.parameters = int(count_parameters(self.model))
        h, w, c = layer_specs.input_shape(variant)
        # A fixed signature with a free batch dimension: the last, smaller batch does not retrace
        # (XLA compiles it once more).
        signature = [tf.TensorSpec([None, h, w, c], tf.float32), tf.TensorSpec([None], tf.int64)]
        xla = use_xla(self.model, device, settings.get("keras_jit_compile", "auto"))
        self.step_compiler = "tf.function + XLA" if xla else "tf.function"
        self._train_step = tf.function(self._train_step_eager, input_signature=signature,
                                       jit_compile=xla)
        self._eval_step = tf.function(self._eval_step_eager, input_signature=signature,
                                      jit_compile=xla)
        if "GPU" in device:
            tf.config.experimental.reset_memory_stats("GPU:0")

    def _inputs(self, x, y):
        with tf.device(self.device):
            return (tf.convert_to_tensor(np.asarray(x, dtype=np.float32)),
                    tf.convert_to_tensor(np.asarray(y, dtype=np.int64)))

    def _train_step_eager(self, x, y):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            # Softmax cross-entropy on float32 logits (a bf16 model computes them in bfloat16).
            logits = tf.cast(self.model(x, training=True), tf.float32)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, variables)
        if self.weight_decay:
            grads = [g + self.weight_decay * v for g, v in zip(grads, variables)]
        self.optimizer.apply_gradients(zip(grads, variables))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.int64))
        return loss, correct

    def _eval_step_eager(self, x, y):
        logits = tf.cast(self.model(x, training=False), tf.float32)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.int64))
        top_k = tf.math.top_k(logits, k=self.top_k).indices
        correct_k = tf.reduce_sum(tf.cast(tf.reduce_any(
            tf.equal(tf.cast(top_k, tf.int64), y[:, None]), axis=1), tf.int64))
        return loss, correct, correct_k

    def train_batch(self, x, y) -> tuple:
        """One optimiser step on NHWC float32 `x`, int64 `y`: (mean loss, correct top-1)."""
        return self.queue_batch(x, y)()

    def queue_batch(self, x, y):
        """The step run (on a GPU its kernels may still be queued on the device when this
        returns); the returned function reads (mean loss, correct top-1)."""
        with tf.device(self.device):
            loss, correct = self._train_step(*self._inputs(x, y))
        return lambda: (float(loss.numpy()), int(correct.numpy()))

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
        """Weights, dropout seed-generator states and optimiser variables (slots, step count, lr)."""
        return snapshots.take(self.model, self.optimizer)

    def restore(self, state) -> None:
        snapshots.put_back(self.model, self.optimizer, state)

    def sync(self) -> None:
        """Block until the device's queued work has finished (before a clock read)."""
        tf.test.experimental.sync_devices()

    def peak_gpu_mb(self):
        """Peak bytes TensorFlow's allocator held on the GPU, in MiB; None on CPU."""
        if "GPU" not in self.device:
            return None
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20

    def save_weights(self, path_stem: str) -> str:
        """The weights in the framework's native format, written atomically; returns the file's name."""
        path = atomic_files.write_via_path(f"{path_stem}.weights.h5", self.model.save_weights,
                                           suffix=".weights.h5")
        return path.name
