"""The table of runs the workflow built: one identity per run, written once as results/runs.json
and read by every report step, so nothing downstream parses run identity back out of paths.

A run is experiment x framework x dataset x model x hardware x precision x seed. Its folder, log and
benchmark paths are defined here (the rules in workflow/rules/train.smk spell out the same
patterns; tests/test_run_table.py holds them equal). Standard library only.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from alexbench.common import atomic_files, registry, run_contract

RUNS_SCHEMA = run_contract.SCHEMA_DIR / "runs.schema.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RunIdentity:
    experiment: str
    source: str
    framework: str
    dataset: str
    model: str
    hardware: str
    seed: int
    # Last, with a default, so that identities written before precision joined stay fp32.
    precision: str = registry.DEFAULT_PRECISION

    @property
    def wildcards(self) -> str:
        return (f"{self.framework}/{self.dataset}/{self.model}/{self.hardware}/{self.precision}/"
                f"seed{self.seed}")

    @property
    def path(self) -> str:
        """The run folder, relative to the folder that holds results/."""
        return f"results/runs/{self.wildcards}"

    @property
    def log(self) -> str:
        return f"logs/train/{self.wildcards}.log"

    @property
    def run_id(self) -> str:
        """Stable, HTML-anchor-safe name of the run."""
        return (f"{self.framework}-{self.dataset}-{self.model}-{self.hardware}-{self.precision}-"
                f"seed{self.seed}")


@dataclass(frozen=True)
class TableEntry:
    """A run of the table, where its files are, and whether the report waited for it
    (with report_allow_missing it does not wait for runs that had not finished)."""
    identity: RunIdentity
    run_dir: Path
    log: Path
    awaited: bool


def document(identities, awaited_ids) -> dict:
    """The runs.json document for these runs; `awaited_ids`: run_ids the report waits for."""
    return {"schema_version": SCHEMA_VERSION,
            "runs": [{**asdict(r), "run_id": r.run_id, "path": r.path, "log": r.log,
                      "awaited": r.run_id in awaited_ids} for r in identities]}


def write(path, identities, awaited_ids) -> Path:
    doc = document(identities, set(awaited_ids))
    _check(doc, f"{path} (not written)")
    return atomic_files.write_text(path, json.dumps(doc, indent=2) + "\n")


def read(path) -> list[TableEntry]:
    """Entries of results/runs.json; paths resolved against the folder that holds results/."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the run table ({e})") from e
    _check(doc, str(path))
    root = path.resolve().parent.parent
    entries, seen = [], set()
    fields = RunIdentity.__dataclass_fields__
    for record in doc["runs"]:
        identity = RunIdentity(**{k: record[k] for k in fields})
        if identity.run_id in seen:
            raise ValueError(f"{path}: run {identity.run_id} is listed twice")
        seen.add(identity.run_id)
        entries.append(TableEntry(identity, root / record["path"], root / record["log"],
                                  record["awaited"]))
    return entries


def _check(doc, where):
    errors = run_contract.validation_errors(doc, run_contract.load_schema(RUNS_SCHEMA))
    if errors:
        raise run_contract.ContractError(f"{where}: does not match {RUNS_SCHEMA.name}: "
                                         + "; ".join(errors))
