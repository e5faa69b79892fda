"""The one list of frameworks, hardware kinds and model variants; everything else derives from it.

Standard library only: the workflow reads it at parse time (wildcard constraints, env names, the
enums of config.schema.yaml), every job env reads it (train.py's choices, metrics.schema.json's
enums through run_contract) and so does the report (labels, colours, package columns).

Adding a framework: its backend package (alexbench/fw_<name>/, checked against
alexbench/common/backend.py), its env files (envs/<env>-<hardware>.yaml and .lock.txt) and one
`Framework(...)` entry below. docs/design.md lists the steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from alexbench.common import layer_specs

HARDWARE = ("cpu", "gpu")
MODELS = layer_specs.MODEL_NAMES
# The env every framework-free job (download, prepare, report) runs in.
REPORT_ENV = "report"


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


def framework(name: str) -> Framework:
    try:
        return FRAMEWORKS[name]
    except KeyError:
        raise ValueError(f"unknown framework {name!r}; known: {', '.join(FRAMEWORKS)}") from None


def framework_names() -> tuple:
    """In the project's usual order (tables, legends, the default config)."""
    return tuple(FRAMEWORKS)


def framework_rank(name: str) -> tuple:
    """Sort key putting registered frameworks first, in registry order, then others by name."""
    names = framework_names()
    return (names.index(name) if name in names else len(names), name)


def label(name: str) -> str:
    return FRAMEWORKS[name].label if name in FRAMEWORKS else name


def colour(name: str) -> str:
    return FRAMEWORKS[name].colour if name in FRAMEWORKS else "grey"


def job_envs() -> tuple:
    """Every env a job can run in: one per distinct framework env stem and hardware, and report."""
    stems = dict.fromkeys(f.env for f in _FRAMEWORKS)
    return tuple(f"{stem}-{hw}" for stem in stems for hw in HARDWARE) + (REPORT_ENV,)


def framework_of_env(env: str) -> Framework | None:
    """The first framework whose env stem `env` ('keras-cpu') belongs to; None for 'report'."""
    for f in _FRAMEWORKS:
        if env in (f.env_name(hw) for hw in HARDWARE):
            return f
    return None


def alternation(names) -> str:
    """A regex alternation, longest first, for Snakemake's wildcard constraints."""
    return "|".join(sorted(names, key=len, reverse=True))


# JSON Schemas in workflow/schemas/ name the registry instead of repeating its lists: a node
# {"type": "string", "x-enum-from": "frameworks"} gets `enum` filled in when the schema is loaded.
_ENUMS = {"frameworks": lambda: list(framework_names()), "models": lambda: list(MODELS),
          "hardware": lambda: list(HARDWARE)}


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
