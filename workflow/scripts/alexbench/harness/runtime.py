"""The process environment of a training job, set before numpy or any framework is imported:
thread pools, determinism switches, TensorFlow's allocator; and the seeding every backend shares.

Standard library only at import (numpy is imported inside `seed_python_and_numpy`), because
these variables are read when the libraries load. This is the one place that sets them: the
backends configure only their framework's own API (`configure_threads`, `seed_framework`).
"""
import importlib
import os
import random

from alexbench.common import backend as backend_interface, registry

# Every runtime reads one of these when it builds its thread pools. TensorFlow's inter-op pool
# (independent ops at once) is as large as the cores by default; it is bounded to `threads`
# like the rest. MXNet's engine keeps its default of one CPU worker, torch's inter-op pool
# serves only torch.jit.fork (both are set by the backends, see fw_*/loop.py). torch.compile
# (`torch_compile: true`) builds its kernels in a pool of worker processes, by default one per
# core of the machine up to 32, which on a large node would far outgrow the run's cores and
# memory: it gets `threads` workers too (with 1, Inductor compiles in the training process).
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                   "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "MXNET_OMP_MAX_THREADS",
                   "TORCHINDUCTOR_COMPILE_THREADS")
# numpy's BLAS (OpenBLAS in pip's and conda-forge's numpy, Accelerate on macOS) does one job in a
# run: the input pipeline's resize products, in its background thread beside the framework's
# `threads`. It gets one thread. A second would take a core from the framework, and OpenBLAS's
# idle workers spin after every product: on alexnet-d2l the pipeline burned 61-78 ms of CPU per
# batch of 32 with two, 7-19 ms with one, and the harness trained it 4-10% slower than the
# frameworks' plain loops (bench/pipeline_cpu.py, bench/README.md). No framework trains through these libraries
# (MXNet's own OpenBLAS included: profiled, bench/README.md).
PRE_IMPORT_ENV = {"MXNET_CPU_WORKER_NTHREADS": "1",
                  "OPENBLAS_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}
# The setting `tf_allocator` (Keras runs only; recorded in metrics.json). "tensorflow": oneDNN
# builds of TensorFlow keep freed CPU tensors in their own pool, which never shrinks; it is
# TensorFlow's default and the faster one. "system": malloc/free instead, so freed memory goes
# back: Keras's peak falls by up to a fifth (S1: 13.0 to 11.8 GB), at a measured cost in speed
# on every variant (S1: 1.6-1.7 times slower; README, bench/README.md).
# Keyed by registry.TF_ALLOCATORS.
TF_ALLOCATOR_ENV = {"tensorflow": {}, "system": {"TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1"}}
# Deterministic mode's switches read when libmxnet / cuBLAS load, i.e. before any backend code
# runs: MXNet's deterministic kernels, no cuDNN autotuning, cuBLAS's fixed workspace (needed by
# torch.use_deterministic_algorithms on GPUs). Without deterministic mode they are left unset,
# so each library takes its own (faster) defaults.
DETERMINISM_ENV = {"MXNET_ENFORCE_DETERMINISM": "1", "MXNET_CUDNN_AUTOTUNE_DEFAULT": "0",
                   "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}


def default_threads():
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def set_runtime_env(threads, deterministic=True, tf_allocator=registry.DEFAULT_TF_ALLOCATOR):
    """Pin every runtime's thread pools to `threads`, set (or clear) the determinism switches and
    choose TensorFlow's CPU allocator, through the environment; call before numpy or a framework
    is imported."""
    if tf_allocator not in TF_ALLOCATOR_ENV:
        raise ValueError(f"tf_allocator {tf_allocator!r} is not one of {sorted(TF_ALLOCATOR_ENV)}")
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    os.environ.update(PRE_IMPORT_ENV)
    _set_or_clear(DETERMINISM_ENV, deterministic)
    for choice, switches in TF_ALLOCATOR_ENV.items():
        _set_or_clear(switches, choice == tf_allocator)


def _set_or_clear(switches, on):
    """Set every variable of `switches` when `on`, else remove it (the library's default holds)."""
    for name, value in switches.items():
        if on:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)


def seed_python_and_numpy(seed):
    """Python's and numpy's global generators (the backends seed only their framework)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)


def load_backend(framework):
    """The framework's backend module (registry), checked against the declared interface."""
    module = importlib.import_module(registry.framework(framework).loop_module)
    backend_interface.check_backend(module)
    return module


def start_backend(framework, threads, deterministic=True,
                  tf_allocator=registry.DEFAULT_TF_ALLOCATOR):
    """How every run starts a framework, the harness's and the test probes' and bench's alike:
    the environment first, then the backend's import, then its thread pools."""
    set_runtime_env(threads, deterministic, tf_allocator)
    backend = load_backend(framework)
    backend.configure_threads(threads)
    return backend


def seed_everything(backend, seed, deterministic=True):
    """Python, numpy, then the framework's own generators and (or not) its deterministic mode."""
    seed_python_and_numpy(seed)
    backend.seed_framework(seed, deterministic)
