"""The run contract: write and read a run's metrics.json and history.csv.

Used by the training harness (every framework env, including gluon's old numpy) and by the
report (which reads runs only through here). Standard library only, on purpose: the schemas in
workflow/schemas/ are the definition, and this module checks documents against them with a
small validator of the JSON Schema subset those schemas use (type, required, properties,
additionalProperties, enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, items,
oneOf), and fills in their `default`s (with_defaults). `format` is annotation only, as in
JSON Schema's default. Not for anything else: it knows nothing of frameworks or training.

metrics.json is the "run completed" marker, so it is written last and atomically (temporary
file in the same folder, then os.replace): a killed job never leaves one that looks complete.
"""
import csv
import io
import json
import math
from pathlib import Path

from alexbench.common import atomic_files, registry

# workflow/scripts/alexbench/common/run_contract.py -> workflow/schemas
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"
METRICS_SCHEMA = SCHEMA_DIR / "metrics.schema.json"
HISTORY_ROW_SCHEMA = SCHEMA_DIR / "history-row.schema.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
# Written instead of metrics.json when a run fails, so that a report built after
# `snakemake --keep-going` can say why. Never read as a result.
FAILURE_FILE = "failure.json"


class ContractError(ValueError):
    """A document breaks the run contract; the message names the file and the field."""


def load_schema(path):
    """A schema of workflow/schemas/, with the registry's lists filled in (registry.fill_enums)."""
    with open(path, encoding="utf-8") as f:
        return registry.fill_enums(json.load(f))


def history_columns():
    """history.csv's columns, in the schema's property order."""
    return list(load_schema(HISTORY_ROW_SCHEMA)["properties"])


# --- the validator -----------------------------------------------------------------------------

def _is_type(value, name):
    # bool is a subclass of int in Python but not a number in JSON Schema.
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or \
            (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise ValueError(f"schema uses type {name!r}, which this validator does not support")


def validation_errors(value, schema, path="$"):
    """Every way `value` breaks `schema`, as 'path: problem' strings (empty list: valid)."""
    errors = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [f"{path}: {value!r} is not of type {' or '.join(types)}"]
    if "const" in schema and not _json_equal(value, schema["const"]):
        errors.append(f"{path}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if _is_type(value, "number"):
        if isinstance(value, float) and not math.isfinite(value):
            errors.append(f"{path}: {value!r} is not a finite number (JSON has no NaN/inf)")
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value!r} is less than the minimum {schema['minimum']!r}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value!r} is greater than the maximum {schema['maximum']!r}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{path}: {value!r} must be greater than {schema['exclusiveMinimum']!r}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errors.append(f"{path}: {value!r} must be less than {schema['exclusiveMaximum']!r}")
    if "oneOf" in schema:
        errors += _one_of_errors(value, schema["oneOf"], path)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}.{key}: required field is missing")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                errors += validation_errors(item, properties[key], f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}.{key}: unexpected field (additionalProperties is false)")
            elif isinstance(extra, dict):
                errors += validation_errors(item, extra, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validation_errors(item, schema["items"], f"{path}[{i}]")
    return errors


def _one_of_errors(value, branches, path):
    """oneOf: exactly one branch must hold. When none does, the problems of the closest branch
    (fewest errors: e.g. the optimizer whose `name` matched) say what to fix."""
    results = [validation_errors(value, branch, path) for branch in branches]
    valid = sum(not r for r in results)
    if valid == 1:
        return []
    if valid > 1:
        return [f"{path}: {value!r} matches more than one of the allowed forms"]
    return min(results, key=len)


def with_defaults(value, schema):
    """A copy of a valid document with every missing property that has a schema `default`
    filled in (also inside the oneOf branch the value matches)."""
    if "oneOf" in schema:
        for branch in schema["oneOf"]:
            if not validation_errors(value, branch):
                return with_defaults(value, branch)
    if not isinstance(value, dict):
        return value
    filled = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if key in filled:
            filled[key] = with_defaults(filled[key], sub)
        elif "default" in sub:
            filled[key] = json.loads(json.dumps(sub["default"]))
    return filled


def _json_equal(a, b):
    # JSON Schema equality: 1 == 1.0, but true != 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _check(document, schema_path, where):
    errors = validation_errors(document, load_schema(schema_path))
    if errors:
        raise ContractError(f"{where}: does not match {Path(schema_path).name}: " + "; ".join(errors))


# --- atomic writes -----------------------------------------------------------------------------

# --- metrics.json -------------------------------------------------------------------------------

def write_metrics(out_dir, metrics):
    """Validate `metrics` against metrics.schema.json, then write out_dir/metrics.json atomically.

    Raises ContractError (naming the field) and writes nothing when the document is invalid.
    Returns the path written.
    """
    path = Path(out_dir) / METRICS_FILE
    _check(metrics, METRICS_SCHEMA, f"{path} (not written)")
    atomic_files.write_text(path, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    return path


def read_metrics(path):
    """Read and validate one run's metrics.json; ValueError naming the file and field if invalid."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            metrics = json.load(f, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise ContractError(f"{path}: not valid JSON ({e})") from e
    except ValueError as e:
        raise ContractError(f"{path}: {e}") from e
    _check(metrics, METRICS_SCHEMA, str(path))
    return metrics


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON (a non-finite number)")


# --- history.csv --------------------------------------------------------------------------------

def _format_cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest round-trip representation
    return str(value)


def write_history(out_dir, rows):
    """Write out_dir/history.csv atomically: one row per completed epoch, schema column order.

    Each row is a dict validated against history-row.schema.json; None becomes an empty cell.
    """
    path = Path(out_dir) / HISTORY_FILE
    columns = history_columns()
    for i, row in enumerate(rows):
        _check(row, HISTORY_ROW_SCHEMA, f"{path} (not written), row {i + 1}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_format_cell(row.get(c)) for c in columns])
    atomic_files.write_text(path, buffer.getvalue())
    return path


def read_history(path):
    """Read history.csv into a list of dicts (numbers parsed, empty cells None), validated."""
    path = Path(path)
    schema = load_schema(HISTORY_ROW_SCHEMA)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != list(schema["properties"]):
            raise ContractError(f"{path}: header {reader.fieldnames} is not the schema's columns "
                                f"{list(schema['properties'])}")
        rows = []
        for line_no, raw in enumerate(reader, start=2):
            row = {}
            for column, cell in raw.items():
                types = schema["properties"][column]["type"]
                types = types if isinstance(types, list) else [types]
                row[column] = _parse_cell(cell, types, f"{path}: line {line_no}, column {column}")
            _check(row, HISTORY_ROW_SCHEMA, f"{path}: line {line_no}")
            rows.append(row)
    return rows


def _parse_cell(cell, types, where):
    if cell is None or cell == "":
        if "null" in types:
            return None
        raise ContractError(f"{where}: empty, but the column is not nullable")
    try:
        if "integer" in types:
            return int(cell)
        number = float(cell)
    except ValueError:
        raise ContractError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(number):
        raise ContractError(f"{where}: {cell!r} is not a finite number")
    return number


def write_failure(out_dir, error_type: str, message: str):
    """Record why a run failed (failure.json: {"error_type", "message"}); returns its path."""
    path = Path(out_dir) / FAILURE_FILE
    atomic_files.write_text(path, json.dumps({"error_type": error_type, "message": message}, indent=2) + "\n")
    return path
