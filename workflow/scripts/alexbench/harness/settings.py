"""The training settings a job receives (`train.py --settings`), checked once against
workflow/schemas/settings.schema.json and completed with that schema's defaults.

The schema is the one definition: its optimizer defaults are the one table every backend gets
(Keras's values, passed explicitly, so no backend relies on its framework's own defaults). The
check uses the run contract's stdlib validator, because the framework envs have no jsonschema.
"""
import json

from alexbench.common import run_contract

SETTINGS_SCHEMA = run_contract.SCHEMA_DIR / "settings.schema.json"


class SettingsError(ValueError):
    """--settings breaks the training contract; the message names the key."""


def resolve_settings(text):
    """Parse --settings (JSON text or a dict), check it against the schema, fill defaults."""
    try:
        given = json.loads(text) if isinstance(text, str) else dict(text)
    except json.JSONDecodeError as e:
        raise SettingsError(f"--settings is not valid JSON ({e})") from e
    if not isinstance(given, dict):
        raise SettingsError("--settings must be a JSON object")
    schema = run_contract.load_schema(SETTINGS_SCHEMA)
    errors = run_contract.validation_errors(given, schema, path="settings")
    if errors:
        raise SettingsError(f"--settings does not match {SETTINGS_SCHEMA.name}: " + "; ".join(errors))
    settings = run_contract.with_defaults(given, schema)
    # Numbers as the backends and metrics.json expect them: a rate given as 1 is 1.0.
    settings["optimizer"]["learning_rate"] = float(settings["optimizer"]["learning_rate"])
    if settings["lr_schedule"] is not None:
        settings["lr_schedule"]["factor"] = float(settings["lr_schedule"]["factor"])
    return settings


def optimizer_defaults() -> dict:
    """{optimizer name: {hyperparameter: default}} as the schema declares them (docs, tests)."""
    branches = run_contract.load_schema(SETTINGS_SCHEMA)["properties"]["optimizer"]["oneOf"]
    return {b["properties"]["name"]["const"]: {k: v["default"] for k, v in b["properties"].items()
                                               if "default" in v}
            for b in branches}
