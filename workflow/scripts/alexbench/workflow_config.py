"""Turn config.yaml into the table of runs the workflow builds, after checking it.

Used by workflow/rules/common.smk at parse time (Snakemake's own Python, which has jsonschema
and PyYAML) and by tests. Not for job code: jobs receive their settings as arguments.
"""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from alexbench.common import registry
from alexbench.common.run_table import RunIdentity

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
SMOKE_IMAGES = 256


class ConfigError(ValueError):
    """A config problem, worded for the user: it names the key."""


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        # jsonschema reports the parent; the unknown key itself is what the user must fix.
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        parts += unknown[:1]
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        parts += missing[:1]
    return ".".join(parts) or "<top level>"


def _message(error: jsonschema.ValidationError) -> str:
    best = jsonschema.exceptions.best_match([error])
    # For oneOf, the nested reason is more useful than "is not valid under any of the given schemas".
    if best.context:
        best = jsonschema.exceptions.best_match(best.context)
    return best.message


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    return registry.fill_enums(yaml.safe_load(Path(path).read_text()))


def _fill_defaults(instance: dict, schema: dict) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if isinstance(instance.get(key), dict) and isinstance(sub, dict):
            _fill_defaults(instance[key], sub)


def _parse_command_line_value(value, schema: dict):
    if isinstance(value, str) and schema.get("type") != "string":
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value  # left as given: the schema check names the key
    if isinstance(value, list):
        return [_parse_command_line_value(item, schema.get("items", {})) for item in value]
    return value


def _parse_command_line_values(config: dict, schema: dict) -> dict:
    """Read top-level string values as YAML where the schema wants another type.

    `snakemake --config demo=true seeds=[0]` hands over 'true' and ['0']; users mean a boolean
    and a list of integers, as they would in config.yaml.
    """
    properties = schema.get("properties", {})
    return {key: _parse_command_line_value(value, properties.get(key, {}))
            for key, value in config.items()}


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Check `config` against the schema and cross-references; return a copy with defaults.

    Raises ConfigError naming the offending key (dotted path) for the first problem found.
    """
    schema = schema or load_schema()
    config = _parse_command_line_values(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        raise ConfigError(f"config key '{_key_path(first)}': {_message(first)}")

    config = copy.deepcopy(config)
    _fill_defaults(config, schema)
    experiment_schema = schema["properties"]["experiments"]["additionalProperties"]
    for experiment in config["experiments"].values():
        _fill_defaults(experiment, experiment_schema)

    for name, experiment in config["experiments"].items():
        if experiment["dataset"] not in config["datasets"]:
            raise ConfigError(
                f"config key 'experiments.{name}.dataset': unknown dataset "
                f"'{experiment['dataset']}' (known: {', '.join(sorted(config['datasets']))})")
    for name in config["demo_precision"]:
        if name not in config["experiments"]:
            raise ConfigError(f"config key 'demo_precision.{name}': unknown experiment '{name}' "
                              f"(known: {', '.join(config['experiments'])})")
    for name in config["experiments_only"]:
        if name not in config["experiments"]:
            raise ConfigError(f"config key 'experiments_only': unknown experiment '{name}' "
                              f"(known: {', '.join(config['experiments'])})")

    seen = {}
    for name, experiment in config["experiments"].items():
        for framework in experiment["frameworks"]:
            workload = (framework, experiment["dataset"], experiment["model"])
            if workload in seen:
                raise ConfigError(
                    f"config key 'experiments.{name}': {framework} already trains "
                    f"{experiment['model']} on {experiment['dataset']} in experiment "
                    f"'{seen[workload]}'; one run path cannot hold two experiments")
            seen[workload] = name
    return config


def resolve_hardware(choice, default_choice, gpu_visible: bool) -> list[str]:
    """'auto' follows the top-level choice; a top-level 'auto' means cpu, plus gpu if visible."""
    if choice == "auto":
        choice = default_choice
    if choice == "auto":
        return ["cpu", "gpu"] if gpu_visible else ["cpu"]
    return list(choice)


def selected_experiments(config: dict) -> dict:
    only = config["experiments_only"]
    return {name: exp for name, exp in config["experiments"].items() if not only or name in only}


def expand_runs(config: dict, gpu_visible: bool) -> list[RunIdentity]:
    """Every run of the (validated) config, in config order."""
    runs = []
    for name, experiment in selected_experiments(config).items():
        hardware = resolve_hardware(experiment["hardware"], config["hardware"], gpu_visible)
        for framework in experiment["frameworks"]:
            for hw in hardware:
                for precision in run_precisions(config, name):
                    for seed in config["seeds"] or experiment["seeds"]:
                        runs.append(RunIdentity(name, experiment["source"], framework,
                                                experiment["dataset"], experiment["model"], hw,
                                                seed, precision))
    return runs


def run_precisions(config: dict, experiment_name: str) -> list[str]:
    """The top-level `precision` when set, else (demo mode) the experiment's `demo_precision`
    entry, else the experiment's own `precision`."""
    if config["precision"]:
        return list(config["precision"])
    if config["demo"] and experiment_name in config["demo_precision"]:
        return list(config["demo_precision"][experiment_name])
    return list(config["experiments"][experiment_name]["precision"])


def training_settings(config: dict, experiment_name: str) -> dict:
    """The settings a training job receives (design.md, Training contract)."""
    experiment = config["experiments"][experiment_name]
    smoke = bool(config["smoke"] or config["demo"])
    subset = config.get("subset") or {}
    return {
        "epochs": 1 if smoke else experiment["epochs"],
        "batch_size": experiment["batch_size"],
        "optimizer": experiment["optimizer"],
        "lr_schedule": experiment["lr_schedule"],
        "validation": experiment["validation"],
        "target_accuracy": experiment["target_accuracy"],
        "max_train_images": _image_cap(subset.get("train"), smoke),
        "max_test_images": _image_cap(subset.get("test"), smoke),
        "smoke": smoke,
        "subset": dict(subset) or None,
        "save_weights": bool(config["save_weights"]),
        "deterministic": bool(config["deterministic"]),
        "tf_allocator": experiment["tf_allocator"],
        "keras_jit_compile": experiment["keras_jit_compile"],
        "torch_compile": experiment["torch_compile"],
    }


def _image_cap(subset_count: int | None, smoke: bool) -> int | None:
    """First-N cap of one split: the subset's, and in smoke mode never above SMOKE_IMAGES."""
    caps = [c for c in (subset_count, SMOKE_IMAGES if smoke else None) if c is not None]
    return min(caps) if caps else None
