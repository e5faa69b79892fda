"""The one list of frameworks, hardware kinds, precisions and model variants; everything else
derives from it.

Standard library only: the workflow reads it at parse time (wildcard constraints, env names, the
enums of config.schema.yaml), every job env reads it (train.py's choices, metrics.schema.json's
enums through run_contract) and so does the report (labels, colours, package columns).

Adding a framework: its backend package (alexbench/fw_<name>/, checked against
alexbench/common/backend.py), its env files (envs/<env>-<hardware>.yaml and .lock.txt) and one
`Framework(...)` entry below. docs/design.md lists the steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from alexbench.common import layer_specs

HARDWARE = ("cpu", "gpu")
MODELS = layer_specs.MODEL_NAMES
# The env every framework-free job (download, prepare, report) runs in.
REPORT_ENV = "report"
# The env of the optional MLflow export (results/mlflow.done), apart so the report env stays small.
EXPORT_ENV = "export"


@dataclass(frozen=True)
class Framework:
    """One framework the benchmark trains.

    name: the run-path segment and config value (`results/runs/<name>/...`).
    label: how the report names it.
    colour: its colour in every plot (Okabe-Ito palette: distinguishable with colour blindness).
    packages: pip names whose versions the report shows, the framework's own first.
    env: stem of its envs: envs/<env>-<hardware>.yaml, .lock.txt and .venvs/<env>-<hardware>.
    backend: the package that implements alexbench.common.backend's interface.
    """
    name: str
    label: str
    colour: str
    packages: tuple
    env: str
    backend: str

    def env_name(self, hardware: str) -> str:
        return f"{self.env}-{hardware}"

    @property
    def loop_module(self) -> str:
        return f"{self.backend}.loop"

    @property
    def package_path(self) -> PurePosixPath:
        """The backend package's folder, relative to workflow/scripts."""
        return PurePosixPath(*self.backend.split("."))


_FRAMEWORKS = (
    Framework("keras", "Keras", "#D55E00", ("keras", "tensorflow"), "keras", "alexbench.fw_keras"),
    Framework("gluon", "MXNet Gluon", "#0072B2", ("mxnet",), "gluon", "alexbench.fw_gluon"),
    Framework("pytorch", "PyTorch", "#009E73", ("torch",), "pytorch", "alexbench.fw_pytorch"),
)
FRAMEWORKS = {f.name: f for f in _FRAMEWORKS}


def _entry(table: dict, kind: str, name: str):
    """table[name], or a ValueError naming the unknown `kind` and the known names."""
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(table)}") from None


def framework(name: str) -> Framework:
    return _entry(FRAMEWORKS, "framework", name)


def framework_names() -> tuple:
    """In the project's usual order (tables, legends, the default config)."""
    return tuple(FRAMEWORKS)


def framework_rank(name: str) -> tuple:
    """Sort key putting registered frameworks first, in registry order, then others by name."""
    names = framework_names()
    return (names.index(name) if name in names else len(names), name)


# TensorFlow's CPU allocators, the values of the `tf_allocator` setting (harness/runtime.py
# switches between them): its own oneDNN pool, the default, or malloc/free.
TF_ALLOCATORS = ("tensorflow", "system")
DEFAULT_TF_ALLOCATOR = "tensorflow"


def reads_tf_allocator(name: str) -> bool:
    """Whether the framework runs on TensorFlow, the one runtime the `tf_allocator` setting
    changes (harness/runtime.py); False for names not registered."""
    return name in FRAMEWORKS and "tensorflow" in FRAMEWORKS[name].packages


def label(name: str) -> str:
    return FRAMEWORKS[name].label if name in FRAMEWORKS else name


def colour(name: str) -> str:
    return FRAMEWORKS[name].colour if name in FRAMEWORKS else "grey"


def job_envs() -> tuple:
    """Every env a job can run in: one per distinct framework env stem and hardware, report and export."""
    stems = dict.fromkeys(f.env for f in _FRAMEWORKS)
    return tuple(f"{stem}-{hw}" for stem in stems for hw in HARDWARE) + (REPORT_ENV, EXPORT_ENV)


def framework_of_env(env: str) -> Framework | None:
    """The first framework whose env stem `env` ('keras-cpu') belongs to; None for 'report'."""
    for f in _FRAMEWORKS:
        if env in (f.env_name(hw) for hw in HARDWARE):
            return f
    return None


@dataclass(frozen=True)
class Precision:
    """One numeric precision a run trains in (the run-path segment `{precision}`).

    name: the run-path segment and config value (`results/runs/.../<hardware>/<name>/seed0`).
    label: how the report names it.
    how: {framework: what that framework does for it} (docs/precision.md says more).
    needs_native: True when the hardware must do it natively (hardware.bf16_support_problem):
        alexbench refuses it rather than train in a slow emulation.
    refused: {(framework, model, hardware): why} for combinations that cannot train in it; None
        as model or hardware stands for every one. The workflow refuses them by name when it
        builds the DAG (the demo leaves them out and says why).
    """
    name: str
    label: str
    how: dict
    needs_native: bool = False
    refused: dict = field(default_factory=dict)


# MXNet 1.9.1's AMP pairs bfloat16 with the CPU (oneDNN kernels) and float16 with the GPU
# (contrib/amp/amp.py: float_types_cpu = (bfloat16, float32), float_types_gpu = (float16,
# float32)). float16 with loss scaling would be another precision (fp16), not bf16: refused.
_GLUON_GPU_BF16 = (
    "MXNet 1.9.1 has no bfloat16 GPU path: its AMP pairs bfloat16 with the CPU (oneDNN) and "
    "float16 with the GPU (mxnet/contrib/amp/amp.py), and float16 with loss scaling would be "
    "fp16, not bf16 (docs/precision.md); train gluon in bf16 on a CPU, or in fp32 on the GPU")

_PRECISIONS = (
    Precision("fp32", "fp32", {
        "keras": "float32 throughout", "gluon": "float32 throughout",
        "pytorch": "float32 throughout"}),
    Precision("bf16", "bf16 mixed", {
        "keras": "keras.mixed_precision policy mixed_bfloat16: bfloat16 compute, float32 "
                 "variables; logits cast to float32 before softmax cross-entropy",
        "gluon": "mxnet.contrib.amp with target_dtype bfloat16: Convolution and FullyConnected "
                 "in bfloat16, float32 parameters and gradients; softmax/log_softmax in float32",
        "pytorch": "torch.autocast(dtype=torch.bfloat16) around forward and loss; float32 "
                   "weights and optimiser; cross-entropy on float32 logits"},
        needs_native=True,
        refused={("gluon", None, "gpu"): _GLUON_GPU_BF16}),
)
PRECISIONS = {p.name: p for p in _PRECISIONS}
DEFAULT_PRECISION = "fp32"


def precision(name: str) -> Precision:
    return _entry(PRECISIONS, "precision", name)


def precision_names() -> tuple:
    return tuple(PRECISIONS)


def refused_precision(framework: str, model: str, hardware: str, precision_name: str) -> str | None:
    """Why `framework` cannot train `model` on `hardware` in `precision_name`, or None."""
    refused = precision(precision_name).refused
    for key in ((framework, model, hardware), (framework, None, hardware),
                (framework, model, None), (framework, None, None)):
        if key in refused:
            return refused[key]
    return None


def alternation(names) -> str:
    """A regex alternation, longest first, for Snakemake's wildcard constraints."""
    return "|".join(sorted(names, key=len, reverse=True))


# JSON Schemas in workflow/schemas/ name the registry instead of repeating its lists: a node
# {"type": "string", "x-enum-from": "frameworks"} gets `enum` filled in when the schema is loaded.
_ENUMS = {"frameworks": lambda: list(framework_names()), "models": lambda: list(MODELS),
          "hardware": lambda: list(HARDWARE), "precisions": lambda: list(precision_names()),
          "tf_allocators": lambda: list(TF_ALLOCATORS)}


def fill_enums(schema):
    """Fill `enum` in place wherever a schema node says `x-enum-from`; returns the schema."""
    if isinstance(schema, dict):
        source = schema.get("x-enum-from")
        if source is not None:
            if source not in _ENUMS:
                raise ValueError(f"x-enum-from {source!r} is not one of {sorted(_ENUMS)}")
            schema["enum"] = _ENUMS[source]()
        for value in schema.values():
            fill_enums(value)
    elif isinstance(schema, list):
        for item in schema:
            fill_enums(item)
    return schema
