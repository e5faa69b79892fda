"""MXNet Gluon backend of the training harness: threads, seeds, device, one train step.

The harness (alexbench.harness) drives every framework batch by batch with the same numpy
batches; this module turns them into one optimiser step of a hybridized network or one evaluation
pass, and answers the harness's questions (versions, device name, GPU memory). The public names
and their order match fw_keras/loop.py and fw_pytorch/loop.py, so the three files diff line by line.

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

Not for: the epoch loop, timing, input preparation or the run contract (harness.py), nor
model definitions (models.py).

Threads: MXNet reads OMP_NUM_THREADS, MXNET_CPU_WORKER_NTHREADS and the determinism variables
when libmxnet loads or its engine starts, so the harness must set them before this module is
imported (it imports mxnet). configure_threads sets them again and also resizes MXNet's OpenMP
pool through MXSetNumOMPThreads, which works after import.
"""
import ctypes
import logging
import math
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import mxnet as mx
from mxnet import autograd, gluon

from alexbench.common import hardware
from alexbench.fw_gluon.models import build_model, count_parameters

FRAMEWORK = "gluon"
log = logging.getLogger(__name__)

# OpenMP sizes MXNet's operator threads (MKLDNN and its own kernels); one engine worker thread
# runs one op at a time, the same shape as TensorFlow's inter-op pool of 1 in fw_keras.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "MXNET_OMP_MAX_THREADS")
ENGINE_WORKER_THREADS = 1
DETERMINISM_ENV = {"MXNET_ENFORCE_DETERMINISM": "1", "MXNET_CUDNN_AUTOTUNE_DEFAULT": "0"}


def configure_threads(threads: int) -> None:
    """Use exactly `threads` OpenMP threads inside each op and one engine worker."""
    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    os.environ["MXNET_CPU_WORKER_NTHREADS"] = str(ENGINE_WORKER_THREADS)
    # The env vars are read when libmxnet loads; this C call resizes the pool after the import.
    if mx.base._LIB.MXSetNumOMPThreads(ctypes.c_int(int(threads))) != 0:
        raise RuntimeError(f"MXSetNumOMPThreads({threads}) failed: {mx.base.py_str(mx.base._LIB.MXGetLastError())}")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and MXNet (every device), and ask MXNet for deterministic kernels.

    MXNET_ENFORCE_DETERMINISM makes GPU ops pick deterministic algorithms (or fail), and cuDNN
    autotuning is off, so convolutions do not pick the fastest algorithm by timing: both cost
    GPU speed; on CPU neither changes anything.
    """
    os.environ.update(DETERMINISM_ENV)
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def select_device(hardware_kind: str):
    """The MXNet context for 'cpu' or 'gpu'; never falls back to CPU for a 'gpu' run."""
    if hardware_kind == "gpu":
        if mx.context.num_gpus() < 1:
            raise hardware.GPUUnavailableError("mx.context.num_gpus() is 0")
        return mx.gpu(0)
    if hardware_kind == "cpu":
        return mx.cpu()
    raise ValueError(f"hardware must be 'cpu' or 'gpu', got {hardware_kind!r}")


def device_name(device) -> str:
    """The GPU's name from nvidia-smi (MXNet has no API for it), or the CPU model."""
    if device.device_type == "gpu":
        return _nvidia_gpu_name(device.device_id) or "unknown GPU"
    return hardware.cpu_model_name()


def _nvidia_gpu_name(index: int):
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, f"--id={index}", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[0].strip() if out.returncode == 0 and out.stdout.strip() else None


def versions() -> dict:
    """MXNet's version, the CUDA runtime and cuDNN it loaded (None on CPU builds), the driver.

    MXNet 1.x has no API for its CUDA/cuDNN versions: they are asked of the libraries libmxnet
    loaded into this process (libcudart's cudaRuntimeGetVersion, libcudnn's cudnnGetVersion).
    """
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
            "cudnn": cudnn,
            "driver": hardware.nvidia_driver_version()}

def check_environment() -> tuple:
    """(version, output shape) of a tiny conv net's forward pass: proves a fresh env works."""
    model = mx.gluon.nn.HybridSequential()
    model.add(mx.gluon.nn.Conv2D(2, 3), mx.gluon.nn.Flatten(), mx.gluon.nn.Dense(3))
    model.initialize()
    out = model(mx.nd.zeros((2, 1, 8, 8)))
    return mx.__version__, tuple(out.shape)


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


@mx.optimizer.register
class AdaDeltaLR(mx.optimizer.Optimizer):
    """AdaDelta as PyTorch and Keras define it: the learning rate scales the delta.

    g = grad + wd*w; acc_g = rho*acc_g + (1-rho)*g^2; d = sqrt(acc_d+eps)/sqrt(acc_g+eps)*g;
    acc_d = rho*acc_d + (1-rho)*d^2; w -= lr*d.
    """

    def __init__(self, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (mx.nd.zeros(weight.shape, weight.context), mx.nd.zeros(weight.shape, weight.context))

    def update(self, index, weight, grad, state):
        # MXNet has no fused AdaDelta kernel, so each line below is one or more passes over
        # the parameter. In-place updates (*=, +=, -=) skip the temporaries and the copy-backs
        # of `x[:] = ...`: the same float32 operations in the same order (bit-identical
        # results), about 25% less optimizer time (bench/README.md).
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        grad = grad * self.rescale_grad
        if self.clip_gradient is not None:
            grad = mx.nd.clip(grad, -self.clip_gradient, self.clip_gradient)
        if wd:
            grad += wd * weight
        acc_g, acc_delta = state
        acc_g *= self.rho
        acc_g += (1.0 - self.rho) * grad * grad
        delta = mx.nd.sqrt(acc_delta + self.epsilon)
        delta /= mx.nd.sqrt(acc_g + self.epsilon)
        delta *= grad
        acc_delta *= self.rho
        acc_delta += (1.0 - self.rho) * delta * delta
        weight -= lr * delta


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


class Trainer:
    """One hybridized network, its gluon.Trainer and its loss on one context."""

    def __init__(self, variant: str, num_classes: int, settings: dict, device):
        self.device = device
        self.num_classes = num_classes
        self.top_k = min(5, num_classes)
        self.model = build_model(variant, num_classes, device)
        # static_alloc/static_shape: MXNet's advice for training speed (one cached graph, memory
        # planned once per input shape; the smaller last batch gets its own plan).
        self.model.hybridize(static_alloc=True, static_shape=True)
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
        xb, yb = self._inputs(x, y)
        with autograd.record():
            logits = self.model(xb)
            loss = self.loss_fn(logits, yb)
        loss.backward()
        self.trainer.step(xb.shape[0])
        correct = (logits.argmax(axis=1) == yb).sum()
        return float(loss.mean().asscalar()), int(correct.asscalar())

    def evaluate_batch(self, x, y) -> tuple:
        """Inference mode (dropout off), no gradients: (mean loss, correct top-1, correct top-k)."""
        xb, yb = self._inputs(x, y)
        logits = self.model(xb)
        loss = self.loss_fn(logits, yb)
        correct = (logits.argmax(axis=1) == yb).sum()
        top_k = mx.nd.topk(logits, axis=1, k=self.top_k, ret_typ="indices")
        correct_k = (top_k == yb.reshape((-1, 1))).sum()
        return float(loss.mean().asscalar()), int(correct.asscalar()), int(correct_k.asscalar())

    def get_learning_rate(self) -> float:
        return float(self.trainer.learning_rate)

    def set_learning_rate(self, lr: float) -> None:
        self.trainer.set_learning_rate(float(lr))

    def snapshot(self):
        """Copies of all parameters and the trainer's state (optimizer, its slots and counts).

        MXNet has no API to read its random state back, so unlike fw_pytorch and fw_keras the
        warm-up step's dropout draws are not undone: a run starts one batch further on in the
        (seeded, hence still reproducible) random stream.
        """
        weights = {name: p.data().copy() for name, p in self.model.collect_params().items()}
        with tempfile.TemporaryDirectory() as tmp:
            states = Path(tmp) / "trainer.states"
            self.trainer.save_states(str(states))
            return weights, states.read_bytes()

    def restore(self, state) -> None:
        weights, trainer_states = state
        for name, p in self.model.collect_params().items():
            p.set_data(weights[name])
        with tempfile.TemporaryDirectory() as tmp:
            states = Path(tmp) / "trainer.states"
            states.write_bytes(trainer_states)
            self.trainer.load_states(str(states))

    def sync(self) -> None:
        """Block until MXNet's engine has finished every queued op (it runs asynchronously)."""
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
        """Write the parameters as Gluon's native `<stem>.params`; returns the file's name."""
        final = f"{path_stem}.params"
        partial = f"{path_stem}.partial.params"
        self.model.save_parameters(partial)
        os.replace(partial, final)
        return os.path.basename(final)
