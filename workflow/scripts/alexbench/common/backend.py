"""The interface every framework backend (`alexbench.fw_<name>.loop`) implements for the harness.

Declared here once, as typing Protocols, and checked against each backend by check_backend (at
the start of every run, and in tests/test_backends.py). Standard library only.

What stays out of the backends on purpose (the harness or common/ does it once for all):
seeding Python's and numpy's generators and every environment variable read at import
(harness/runtime.py), the CPU's name and the NVIDIA driver version (common/hardware.py, via
harness/metrics_doc.py), parameter counting (common/layer_specs.count_shapes), atomic file
writes (common/atomic_files).

The harness feeds every backend the same numpy batches: float32 NHWC images and int64 labels.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Protocol, runtime_checkable


@runtime_checkable
class Trainer(Protocol):
    """One model and its optimiser on one device, stepped batch by batch by the harness."""

    parameters: int  # trainable parameters, counted from the framework's own model
    # How the framework compiles the train step, as metrics.json records it: "tf.function" or
    # "tf.function + XLA" (Keras, XLA where model.fit would use it), "eager" (PyTorch),
    # "hybridize(static_alloc, static_shape)" (Gluon).
    step_compiler: str

    def __init__(self, variant: str, num_classes: int, settings: dict, device: Any): ...

    def train_batch(self, x, y) -> tuple:
        """One optimiser step: (mean loss as a Python float, correct top-1 count)."""

    def queue_batch(self, x, y) -> Callable[[], tuple]:
        """One optimiser step, queued: returns a function that waits for the step and returns
        train_batch's (loss, correct). The harness reads a step's results after queuing the next,
        so an asynchronous runtime (MXNet's engine, a CUDA stream) is never left idle while
        Python prepares the next step; train_batch is queue_batch(x, y)()."""

    def evaluate_batch(self, x, y) -> tuple:
        """No gradients, dropout off: (mean loss, correct top-1, correct top-5 with k=min(5, classes))."""

    def get_learning_rate(self) -> float: ...

    def set_learning_rate(self, lr: float) -> None: ...

    def snapshot(self) -> Any:
        """Everything a warm-up step changes (weights, optimiser state, RNG state)."""

    def restore(self, state: Any) -> None: ...

    def sync(self) -> None:
        """Wait for queued device work, before a clock read."""

    def peak_gpu_mb(self) -> float | None: ...

    def save_weights(self, path_stem: str) -> str:
        """The model in the framework's native format, written atomically; returns the file name."""


@runtime_checkable
class Backend(Protocol):
    """The module-level part: what the harness calls before and around the Trainer."""

    FRAMEWORK: str

    def configure_threads(self, threads: int) -> None:
        """Intra-op pool = threads (TensorFlow's inter-op pool too); before the framework runs anything."""

    def seed_framework(self, seed: int, deterministic: bool) -> None:
        """The framework's own generators, and its deterministic mode on or off (Python and
        numpy: the harness; environment switches: harness/runtime.py)."""

    def select_device(self, hardware_kind: str) -> Any:
        """'cpu' or 'gpu'; a gpu run without a GPU raises common.hardware.GPUUnavailableError."""

    def device_name(self, device: Any) -> str:
        """The GPU's name (CPU names come from common.hardware)."""

    def versions(self) -> dict:
        """{"framework", "framework_detail": {package: version}, "cuda", "cudnn"}."""

    def check_environment(self) -> tuple:
        """(version, output shape) of a tiny forward pass: proves a freshly built env works."""

    def peak_matmul_gflops(self, device: Any, size: int, precision: str = "fp32") -> float:
        """GFLOP/s of the framework's own n x n matrix product in `precision` (float32, or
        bfloat16 for bf16), best of several."""

    Trainer: type


def _parameters(function) -> list:
    """Parameter names without `self`: protocol methods and module functions compare alike."""
    return [p for p in inspect.signature(function).parameters if p != "self"]


def _members(protocol) -> dict:
    return {name: value for name, value in vars(protocol).items()
            if callable(value) and not name.startswith("_")}


def _signature_problems(owner, name, members, kind) -> list[str]:
    """How `owner`'s members differ from the declared `members` ({name: declared callable})."""
    problems = []
    for member, declared in members.items():
        found = getattr(owner, member, None)
        if not callable(found):
            problems.append(f"{name}: no {kind} {member}")
        elif _parameters(found) != _parameters(declared):
            problems.append(f"{name}.{member}{tuple(_parameters(found))} should take "
                            f"{tuple(_parameters(declared))}")
    return problems


def interface_problems(module) -> list[str]:
    """Every way `module` differs from the Backend and Trainer protocols (empty: it conforms)."""
    name = getattr(module, "__name__", repr(module))
    problems = [f"{name}: no {attribute}" for attribute in ("FRAMEWORK", "Trainer")
                if not hasattr(module, attribute)]
    problems += _signature_problems(module, name, _members(Backend), "function")
    trainer = getattr(module, "Trainer", None)
    if trainer is not None:
        problems += _signature_problems(trainer, f"{name}.Trainer",
                                        {**_members(Trainer), "__init__": Trainer.__init__}, "method")
    return problems


class BackendInterfaceError(TypeError):
    """A backend module does not implement the declared interface; the message says how."""


def check_backend(module) -> None:
    problems = interface_problems(module)
    if problems:
        raise BackendInterfaceError("; ".join(problems))
