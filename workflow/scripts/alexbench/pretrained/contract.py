"""metrics.json of a pretrained evaluation (workflow/schemas/pretrained-metrics.schema.json):
validated on write and on read, written atomically and last. Stdlib only, through the run
contract's validator. Not for training runs (common/run_contract.py)."""
import json
from pathlib import Path

from alexbench.common import atomic_files, run_contract

SCHEMA = run_contract.SCHEMA_DIR / "pretrained-metrics.schema.json"
METRICS_FILE = "metrics.json"
LOGITS_FILE = "logits.npy"


def _check(document, where):
    errors = run_contract.validation_errors(document, run_contract.load_schema(SCHEMA))
    if errors:
        raise run_contract.ContractError(f"{where}: does not match {SCHEMA.name}: " + "; ".join(errors))


def write_metrics(out_dir, metrics) -> Path:
    path = Path(out_dir) / METRICS_FILE
    _check(metrics, f"{path} (not written)")
    atomic_files.write_text(path, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    return path


def read_metrics(path) -> dict:
    path = Path(path)
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, OSError) as e:
        raise run_contract.ContractError(f"{path}: not readable JSON ({e})") from e
    _check(metrics, str(path))
    return metrics
