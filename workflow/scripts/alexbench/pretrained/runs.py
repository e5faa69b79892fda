"""The pretrained evaluations a (validated) config asks for, and the cross-references of its
`weights` block that JSON Schema cannot express. Stdlib only: the workflow imports it at parse
time (workflow/rules/pretrained.smk). Not for job code."""
from __future__ import annotations

from dataclasses import dataclass


class WeightsConfigError(ValueError):
    """A weights entry refers to something the config lacks; the message names the key."""


@dataclass(frozen=True)
class PretrainedRun:
    weights: str
    framework: str
    dataset: str
    model: str
    hardware: str

    @property
    def path(self) -> str:
        return f"results/pretrained/{self.framework}/{self.dataset}/{self.model}/{self.hardware}"


def check_weights(config: dict) -> None:
    """Every weights entry names a known dataset and experiment; one entry per (model, dataset)."""
    seen = {}
    for name, entry in (config.get("weights") or {}).items():
        for key, table in (("dataset", "datasets"), ("experiment", "experiments")):
            if entry[key] not in config[table]:
                raise WeightsConfigError(
                    f"config key 'weights.{name}.{key}': unknown {key} '{entry[key]}' "
                    f"(known: {', '.join(sorted(config[table]))})")
        workload = (entry["model"], entry["dataset"])
        if workload in seen:
            raise WeightsConfigError(f"config key 'weights.{name}': weights '{seen[workload]}' "
                                     f"already evaluate {workload[0]} on {workload[1]}")
        seen[workload] = name


def pretrained_runs(config: dict, gpu_visible: bool) -> list[PretrainedRun]:
    """Every evaluation of the config's weights whose experiment is selected, in config order."""
    only = config.get("experiments_only") or []
    runs = []
    for name, entry in (config.get("weights") or {}).items():
        if only and entry["experiment"] not in only:
            continue
        choice = entry.get("hardware", "auto")
        if choice == "auto":
            choice = config.get("hardware", "auto")
        hardware = (["cpu", "gpu"] if gpu_visible else ["cpu"]) if choice == "auto" else list(choice)
        for framework in entry["frameworks"]:
            for hw in hardware:
                runs.append(PretrainedRun(name, framework, entry["dataset"], entry["model"], hw))
    return runs


def weights_for(config: dict, model: str, dataset: str) -> str:
    for name, entry in (config.get("weights") or {}).items():
        if (entry["model"], entry["dataset"]) == (model, dataset):
            return name
    raise KeyError(f"no weights in config.yaml evaluate {model} on {dataset}")
