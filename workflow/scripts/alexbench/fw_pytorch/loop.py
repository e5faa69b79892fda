"""PyTorch backend of the training harness: threads, seeds, device, one train or eval step.

The harness (alexbench.harness) drives every framework batch by batch with the same numpy
batches (float32 NHWC, int64 labels); this module moves them to the device as NCHW tensors, runs
one optimiser step or one evaluation pass, and answers the harness's questions (versions, device
name, peak GPU memory). The public names and their order match fw_keras/loop.py and
fw_gluon/loop.py.

Optimisers: PyTorch's own (optimizers.py). Undoing the warm-up step: snapshots.py.

Determinism: seed_framework turns on torch.use_deterministic_algorithms. On CPU this costs
next to nothing for these networks (oneDNN convolutions are deterministic already). On GPU it
also sets cudnn.deterministic and turns cudnn.benchmark off (no autotuned, possibly faster,
convolution algorithms; typically a 5-30% slower step); the harness sets
CUBLAS_WORKSPACE_CONFIG before import. It is warn_only: the one op of ours without a
deterministic CUDA kernel (avg_pool3d's backward inside F.local_response_norm) warns instead of
stopping the run.

Not for: the epoch loop, timing, input preparation or the run contract (alexbench/harness/), nor
model definitions (models.py). The interface: alexbench/common/backend.py.
"""
import logging
import os
import shutil
import time

import numpy as np
import torch
import torch.nn.functional as F

from alexbench.common import atomic_files, hardware, registry
from alexbench.fw_pytorch import precision as precisions, snapshots
from alexbench.fw_pytorch.models import build_model, count_parameters
from alexbench.fw_pytorch.optimizers import make_optimizer, set_learning_rate

FRAMEWORK = "pytorch"
log = logging.getLogger(__name__)

# torch's inter-op pool serves only torch.jit fork/wait, which eager training never uses; one
# thread keeps "one op at a time, `threads` threads inside it" as in the other backends.
INTER_OP_THREADS = 1


def configure_threads(threads: int) -> None:
    """Use exactly `threads` CPU threads inside each op, one op at a time; call before the
    framework runs anything."""
    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    torch.set_num_threads(int(threads))
    try:
        torch.set_num_interop_threads(INTER_OP_THREADS)
    except RuntimeError:  # already set: torch allows it once, before any inter-op work
        log.warning("torch inter-op threads were already fixed at %d",
                    torch.get_num_interop_threads())


def seed_framework(seed: int, deterministic: bool) -> None:
    """Seed torch (CPU and CUDA); deterministic algorithms on, or PyTorch's fast path: cuDNN
    benchmarking on (the tuning guide's advice for fixed input sizes)."""
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def select_device(hardware_kind: str):
    """The device for 'cpu' or 'gpu'; a 'gpu' run without a GPU raises GPUUnavailableError
    (never a CPU fallback)."""
    if hardware_kind == "cpu":
        return torch.device("cpu")
    if hardware_kind != "gpu":
        raise ValueError(f"hardware must be 'cpu' or 'gpu', got {hardware_kind!r}")
    if not torch.cuda.is_available():
        build = torch.version.cuda or "none: a CPU-only build"
        raise hardware.GPUUnavailableError(f"torch.cuda.is_available() is False; torch "
                                           f"{torch.__version__}, CUDA {build}")
    return torch.device("cuda", 0)


def device_name(device) -> str:
    """The GPU's name as CUDA reports it."""
    return torch.cuda.get_device_name(device)


def versions() -> dict:
    """The framework's version and packages, and the CUDA/cuDNN it uses (None on CPU builds)."""
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"framework": torch.__version__,
            "framework_detail": {"torch": torch.__version__},
            "cuda": torch.version.cuda,
            "cudnn": str(cudnn) if cudnn is not None else None}

def check_environment() -> tuple:
    """(version, output shape) of a tiny conv net's forward pass: proves a fresh env works."""
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(72, 3))
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 8, 8))
    return torch.__version__, tuple(out.shape)

def peak_matmul_gflops(device, size: int, precision: str = "fp32") -> float:
    """GFLOP/s of the framework's own n x n matrix product in `precision` (float32; bfloat16
    for bf16) on the device, best of 5 after one warm-up (the peak that model FLOP utilisation
    is measured against)."""
    dtype = precisions.matmul_dtype(precision)
    a = torch.rand(size, size, device=device, dtype=dtype)
    b = torch.rand(size, size, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(6):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def require_cpp_compiler() -> None:
    """torch.compile on a CPU writes C++ and builds it with the machine's compiler (Inductor):
    without one, stop before training with the reason, not at the first step."""
    candidates = [os.environ.get("CXX"), "g++", "c++", "clang++"]
    if not any(c and shutil.which(c) for c in candidates):
        raise RuntimeError("torch_compile: true needs a C++ compiler on a CPU (torch.compile's "
                           "Inductor builds C++ kernels): none of $CXX, g++, c++, clang++ is on "
                           "PATH; install one (Debian: apt-get install g++; conda: "
                           "conda install gxx) or set torch_compile: false")


class Trainer:
    """One model and its optimiser on one device, stepped batch by batch by the harness."""

    def __init__(self, variant: str, num_classes: int, settings: dict, device):
        self.device = device
        self.num_classes = num_classes
        self.model = build_model(variant, num_classes).to(device)
        self.parameters = count_parameters(self.model)
        # Eager is PyTorch's default. `torch_compile: true` (the user's choice, README) steps a
        # torch.compile'd wrapper of the same module instead: its first step, the last smaller
        # batch and evaluation each compile a graph (tens of seconds on a small CPU), and on the
        # developer VMs it trained alexnet-lrn-32 1.36x as fast (PyTorch's LRN is unfused) but
        # alexnet-mnist and alexnet-d2l at 0.87 and 0.96 of eager (bench/idiomatic.py
        # --compilers). Weights, snapshots and saving use self.model. The optimiser's step is
        # compiled too, as PyTorch's recipe for compiling the optimizer does: torch.optim has no
        # fused Adadelta, and eager it makes about ten passes over every parameter, one tensor
        # at a time; compiled, Inductor fuses them into one loop (S0's update: 14-21 ms eager,
        # 1.4-2.7 ms compiled, bench/README.md).
        compiled = bool(settings.get("torch_compile", False))
        if compiled and device.type == "cpu":
            require_cpp_compiler()
        self.step_model = torch.compile(self.model) if compiled else self.model
        self.step_compiler = "torch.compile" if compiled else "eager"
        self.optimizer = make_optimizer(self.model.parameters(), settings["optimizer"],
                                        lr_as_tensor=compiled)
        self.optimizer_step = torch.compile(self.optimizer.step) if compiled \
            else self.optimizer.step
        # fp32 weights either way (precision.py)
        self.precision = settings.get("precision", registry.DEFAULT_PRECISION)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    def _inputs(self, x, y):
        # NHWC numpy -> NCHW tensor; on a GPU the copy goes over as is and is transposed there.
        # np.require copies only read-only or non-contiguous input (torch wants it writable).
        images = torch.from_numpy(np.require(x, np.float32, ["C", "W"])).to(self.device)
        labels = torch.from_numpy(np.require(y, np.int64, ["C", "W"])).to(self.device)
        return images.permute(0, 3, 1, 2).contiguous(), labels

    def train_batch(self, x, y):
        """One optimiser step on NHWC float32 `x`, int64 `y`: (mean loss, correct top-1)."""
        return self.queue_batch(x, y)()

    def queue_batch(self, x, y):
        """The step launched (on a GPU its kernels queue on the CUDA stream; on a CPU it has run
        by the time this returns); the returned function reads (mean loss, correct top-1)."""
        images, labels = self._inputs(x, y)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with precisions.autocast(self.device, self.precision):
            logits = self.step_model(images)
            loss = F.cross_entropy(logits.float(), labels)  # softmax and loss in float32
        loss.backward()
        self.optimizer_step()
        loss, correct = loss.detach(), (logits.detach().argmax(dim=1) == labels).sum()
        return lambda: (float(loss.item()), int(correct.item()))

    def evaluate_batch(self, x, y):
        """Inference mode (dropout off), no gradients: (mean loss, correct top-1, correct top-k)."""
        images, labels = self._inputs(x, y)
        self.model.eval()
        with torch.inference_mode(), precisions.autocast(self.device, self.precision):
            logits = self.step_model(images).float()
            loss = F.cross_entropy(logits, labels)
            k = min(5, logits.shape[1])
            top = logits.topk(k, dim=1).indices
            hits = top == labels[:, None]
            correct1 = hits[:, 0].sum()
            correct5 = hits.any(dim=1).sum()
        return float(loss.item()), int(correct1.item()), int(correct5.item())

    def get_learning_rate(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def set_learning_rate(self, lr: float) -> None:
        set_learning_rate(self.optimizer, lr)

    def snapshot(self):
        """Weights, optimiser state and RNG state, so a warm-up step can be undone entirely."""
        return snapshots.take(self.model, self.optimizer, self.device)

    def restore(self, state) -> None:
        snapshots.put_back(self.model, self.optimizer, self.device, state)

    def sync(self) -> None:
        """Block until the device's queued work has finished (before a clock read)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def peak_gpu_mb(self):
        if self.device.type != "cuda":
            return None
        return torch.cuda.max_memory_allocated(self.device) / 2 ** 20

    def save_weights(self, path_stem: str) -> str:
        """The weights in the framework's native format, written atomically; returns the file's name."""
        path = atomic_files.write_atomically(f"{path_stem}.pt",
                                             lambda f: torch.save(self.model.state_dict(), f), "wb")
        return path.name
