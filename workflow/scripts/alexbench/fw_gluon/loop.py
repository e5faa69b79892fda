"""MXNet Gluon backend of the training harness: threads, seeds, device, one train step.

The harness (alexbench.harness) drives every framework batch by batch with the same numpy
batches; this module turns them into one optimiser step of a hybridized network or one evaluation
pass, and answers the harness's questions (versions, device name, GPU memory). The public names
and their order match fw_keras/loop.py and fw_pytorch/loop.py, so the three files diff line by line.

Optimisers (update rules matched to PyTorch's): optimizers.py. Undoing the warm-up step:
snapshots.py.

Not for: the epoch loop, timing, input preparation or the run contract (alexbench/harness/), nor
model definitions (models.py).

Threads and determinism: MXNet reads OMP_NUM_THREADS, MXNET_CPU_WORKER_NTHREADS (one engine
worker: one op at a time, MXNet's own default) and the determinism variables when
libmxnet loads or its engine starts, so the harness sets them before this module is imported
(alexbench/harness/runtime.py). configure_threads resizes MXNet's OpenMP pool through
MXSetNumOMPThreads, which works after import.
"""
import ctypes
import logging
import time
from pathlib import Path

import numpy as np
import mxnet as mx
from mxnet import autograd, gluon

from alexbench.common import atomic_files, hardware, registry
from alexbench.fw_gluon import precision as precisions, snapshots
from alexbench.fw_gluon.models import build_model, count_parameters
from alexbench.fw_gluon.optimizers import make_optimizer

FRAMEWORK = "gluon"
log = logging.getLogger(__name__)


def configure_threads(threads: int) -> None:
    """Use exactly `threads` CPU threads inside each op, one op at a time; call before the
    framework runs anything."""
    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    # The env vars are read when libmxnet loads; this C call resizes the pool after the import.
    if mx.base._LIB.MXSetNumOMPThreads(ctypes.c_int(int(threads))) != 0:
        raise RuntimeError(f"MXSetNumOMPThreads({threads}) failed: {mx.base.py_str(mx.base._LIB.MXGetLastError())}")


def seed_framework(seed: int, deterministic: bool) -> None:
    """Seed MXNet (every device).

    Deterministic kernels (or not) come from the environment the harness sets before import:
    MXNET_ENFORCE_DETERMINISM makes GPU ops pick deterministic algorithms (or fail), and cuDNN
    autotuning is off, so convolutions do not pick the fastest algorithm by timing: both cost
    GPU speed; on CPU neither changes anything.
    """
    mx.random.seed(seed)


def select_device(hardware_kind: str):
    """The device for 'cpu' or 'gpu'; a 'gpu' run without a GPU raises GPUUnavailableError
    (never a CPU fallback)."""
    if hardware_kind == "gpu":
        if mx.context.num_gpus() < 1:
            raise hardware.GPUUnavailableError("mx.context.num_gpus() is 0")
        return mx.gpu(0)
    if hardware_kind == "cpu":
        return mx.cpu()
    raise ValueError(f"hardware must be 'cpu' or 'gpu', got {hardware_kind!r}")


def device_name(device) -> str:
    """The GPU's name from nvidia-smi (MXNet has no API for it)."""
    return hardware.nvidia_gpu_name(device.device_id) or "unknown GPU"


def versions() -> dict:
    """The framework's version and packages, and the CUDA/cuDNN it uses (None on CPU builds)."""
    features = mx.runtime.Features()
    cuda = cudnn = None
    if features.is_enabled("CUDA"):
        code = _loaded_library_call("libcudart", "cudaRuntimeGetVersion", by_reference=True)
        cuda = f"{code // 1000}.{(code % 1000) // 10}" if code else "unknown"
    if features.is_enabled("CUDNN"):
        code = _loaded_library_call("libcudnn", "cudnnGetVersion", by_reference=False)
        major = code // 10000 if code and code >= 90000 else (code or 0) // 1000   # cuDNN 9 changed the encoding
        minor = (code % 10000) // 100 if code and code >= 90000 else ((code or 0) % 1000) // 100
        cudnn = f"{major}.{minor}.{code % 100}" if code else "unknown"
    return {"framework": mx.__version__,
            "framework_detail": {"mxnet": mx.__version__},
            "cuda": cuda,
            "cudnn": cudnn}


def check_environment() -> tuple:
    """(version, output shape) of a tiny conv net's forward pass: proves a fresh env works."""
    model = mx.gluon.nn.HybridSequential()
    model.add(mx.gluon.nn.Conv2D(2, 3), mx.gluon.nn.Flatten(), mx.gluon.nn.Dense(3))
    model.initialize()
    out = model(mx.nd.zeros((2, 1, 8, 8)))
    return mx.__version__, tuple(out.shape)

def peak_matmul_gflops(device, size: int, precision: str = "fp32") -> float:
    """GFLOP/s of the framework's own n x n matrix product in `precision` on the device, best of
    5 after one warm-up (the peak that model FLOP utilisation is measured against). float32:
    mx.nd.dot; bf16: FullyConnected (a @ b.T, the op AMP runs in bfloat16) on bfloat16 operands."""
    a = mx.nd.random.uniform(shape=(size, size), ctx=device)
    b = mx.nd.random.uniform(shape=(size, size), ctx=device)
    a, b = precisions.matmul_operands(a, b, precision)
    if precision == "fp32":
        product = lambda: mx.nd.dot(a, b)  # noqa: E731
    else:
        product = lambda: mx.nd.FullyConnected(a, b, no_bias=True, num_hidden=size)  # noqa: E731
    best = float("inf")
    for _ in range(6):
        mx.nd.waitall()
        start = time.perf_counter()
        product().wait_to_read()
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def _loaded_library_call(prefix: str, function: str, by_reference: bool):
    """Call an int-returning version function of a shared library this process has loaded."""
    try:
        paths = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                 if f"/{prefix}" in line and ".so" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            if by_reference:
                value = ctypes.c_int()
                if getattr(lib, function)(ctypes.byref(value)) == 0:
                    return value.value
            else:
                getattr(lib, function).restype = ctypes.c_size_t
                return int(getattr(lib, function)())
    except (OSError, AttributeError) as err:
        log.warning("could not read the %s version: %s", prefix, err)
    return None


class Trainer:
    """One hybridized network, its gluon.Trainer and its loss on one context."""

    def __init__(self, variant: str, num_classes: int, settings: dict, device):
        self.device = device
        self.num_classes = num_classes
        self.top_k = min(5, num_classes)
        self.precision = settings.get("precision", registry.DEFAULT_PRECISION)
        precisions.enable(self.precision)  # AMP before the model is built (precision.py)
        self.model = build_model(variant, num_classes, device)
        # static_alloc/static_shape: MXNet's advice for training speed (one cached graph, memory
        # planned once per input shape; the smaller last batch gets its own plan).
        self.model.hybridize(static_alloc=True, static_shape=True)
        self.step_compiler = "hybridize(static_alloc, static_shape)"
        self.loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        self.loss_fn.hybridize(static_alloc=True, static_shape=True)
        opt_name, opt_args = make_optimizer(settings["optimizer"])
        # kvstore=None: one device, the update runs in this process without a parameter store.
        self.trainer = gluon.Trainer(self.model.collect_params(), opt_name, opt_args, kvstore=None)
        self.parameters = int(count_parameters(self.model))

    def _inputs(self, x, y):
        # The shared batches are NHWC; Gluon's convolutions take NCHW: transpose on the device.
        xb = mx.nd.array(np.asarray(x, dtype=np.float32), ctx=self.device).transpose((0, 3, 1, 2))
        yb = mx.nd.array(np.asarray(y), ctx=self.device, dtype=np.float32)
        return xb, yb

    def train_batch(self, x, y) -> tuple:
        """One optimiser step on NHWC float32 `x`, int64 `y`: (mean loss, correct top-1)."""
        return self.queue_batch(x, y)()

    def queue_batch(self, x, y):
        """The step's operations pushed to MXNet's engine, which runs them asynchronously; the
        returned function waits for them and reads (mean loss, correct top-1)."""
        xb, yb = self._inputs(x, y)
        with autograd.record():
            logits = self._float32(self.model(xb))
            loss = self.loss_fn(logits, yb)
        loss.backward()
        self.trainer.step(xb.shape[0])
        mean_loss, correct = loss.mean(), (logits.argmax(axis=1) == yb).sum()
        return lambda: (float(mean_loss.asscalar()), int(correct.asscalar()))

    def evaluate_batch(self, x, y) -> tuple:
        """Inference mode (dropout off), no gradients: (mean loss, correct top-1, correct top-k)."""
        xb, yb = self._inputs(x, y)
        logits = self._float32(self.model(xb))
        loss = self.loss_fn(logits, yb)
        correct = (logits.argmax(axis=1) == yb).sum()
        top_k = mx.nd.topk(logits, axis=1, k=self.top_k, ret_typ="indices")
        correct_k = (top_k == yb.reshape((-1, 1))).sum()
        return float(loss.mean().asscalar()), int(correct.asscalar()), int(correct_k.asscalar())

    def _float32(self, logits):
        """Logits in float32 for the loss and the counts (a bf16 model's come out in bfloat16)."""
        return logits if logits.dtype == np.float32 else mx.nd.amp_cast(logits, dtype="float32")

    def get_learning_rate(self) -> float:
        return float(self.trainer.learning_rate)

    def set_learning_rate(self, lr: float) -> None:
        self.trainer.set_learning_rate(float(lr))

    def snapshot(self):
        """Copies of all parameters and the trainer's state (optimizer, its slots and counts)."""
        return snapshots.take(self.model, self.trainer)

    def restore(self, state) -> None:
        snapshots.put_back(self.model, self.trainer, state)

    def sync(self) -> None:
        """Block until the device's queued work has finished (before a clock read)."""
        mx.nd.waitall()

    def peak_gpu_mb(self):
        """GPU memory in use on the device now, in MiB (None on CPU).

        MXNet 1.x has no peak counter; its pooled allocator keeps every block it has taken, so at
        the end of training the memory in use is the pool's high-water mark, plus the CUDA context
        and anything else running on that GPU.
        """
        if self.device.device_type != "gpu":
            return None
        free, total = mx.context.gpu_memory_info(self.device.device_id)
        return (total - free) / 2**20

    def save_weights(self, path_stem: str) -> str:
        """The weights in the framework's native format, written atomically; returns the file's name."""
        path = atomic_files.write_via_path(f"{path_stem}.params", self.model.save_parameters,
                                           suffix=".params")
        return path.name
