"""Collect the expected runs: one `Run` per run folder, whether it finished, diverged, failed or
never ran.

Reads run folders only through `alexbench.common.run_contract` (metrics.json, history.csv), plus
the two files the contract leaves free-form: `env.txt` (pip freeze of the job's env) and, for a
job that crashed, `failure.json` or the job's log. Not for tables or statistics (`tables`,
`stats`): this module only says what each run folder holds.

Which runs exist, where their folders and logs are, and which experiment each belongs to comes
from the workflow's run table (results/runs.json, alexbench.common.run_table), never from
folder names.
"""
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from alexbench.common import registry, run_contract, run_table
from alexbench.common.run_table import RunIdentity

log = logging.getLogger(__name__)

# Lines in a job log that say the job failed: a Python traceback and its exception line, an
# ERROR/CRITICAL record of the harness ("2025-11-25 10:00:00,123 ERROR ..."), the OOM killer.
LOG_FAILURE = re.compile(r"^Traceback \(most recent call last\)|^[\w.]*(Error|Exception)\b|"
                         r"\b(ERROR|CRITICAL)\b|^Killed\b")


class MissingRunError(RuntimeError):
    """An expected run has no metrics.json and missing runs were not allowed."""


@dataclass
class Run:
    """One run of the run table and what its folder holds.

    status: 'ok' or 'diverged' (from metrics.json), 'failed' (no metrics.json; failure.json or the
    log says why), 'missing' (no metrics.json and no sign the job ran or failed).
    """
    identity: RunIdentity
    run_dir: Path
    log: Path
    status: str
    metrics: dict | None = None
    history: list = field(default_factory=list)
    packages: dict = field(default_factory=dict)
    failure_reason: str | None = None

    # The identity's fields, read as the run's own (tables, plots and claims use them).
    experiment = property(lambda self: self.identity.experiment)
    framework = property(lambda self: self.identity.framework)
    dataset = property(lambda self: self.identity.dataset)
    model = property(lambda self: self.identity.model)
    hardware = property(lambda self: self.identity.hardware)
    seed = property(lambda self: self.identity.seed)
    precision = property(lambda self: self.identity.precision)
    run_id = property(lambda self: self.identity.run_id)

    @property
    def workload(self) -> tuple:
        return (self.experiment, self.dataset, self.model, self.hardware)


def read_packages(env_txt: Path) -> dict:
    """{package: version} from a pip-freeze file; lines that are not 'name==version' are skipped."""
    packages = {}
    for line in env_txt.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "==" in line:
            name, _, version = line.partition("==")
            packages[name.strip().lower()] = version.strip()
    return packages


def failure_from_json(path: Path) -> str:
    """One-line reason from failure.json; its shape is free, so take the usual keys."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return f"failure.json present but unreadable ({e})"
    if not isinstance(doc, dict):
        return str(doc)
    kind = doc.get("error_type") or doc.get("type") or doc.get("exception")
    message = doc.get("message") or doc.get("error") or doc.get("reason") or doc.get("detail")
    text = ": ".join(str(p) for p in (kind, message) if p)
    return text or json.dumps(doc, sort_keys=True)[:300]


def failure_from_log(path: Path) -> str | None:
    """The last failure line of a job log (e.g. the exception of a traceback), or None."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    hits = [ln.strip() for ln in lines if LOG_FAILURE.search(ln.strip())]
    hits = [h for h in hits if not h.startswith("Traceback")] or hits
    return hits[-1][:300] if hits else None


def read_run(entry: run_table.TableEntry, allow_missing: bool = False) -> Run:
    """Read one run of the run table.

    A metrics.json that breaks the schema always raises (run_contract.ContractError, a
    ValueError naming file and field). A missing metrics.json raises MissingRunError unless
    `allow_missing`, in which case the run comes back as 'failed' or 'missing'.
    """
    run_dir, identity = entry.run_dir, entry.identity
    metrics_path = run_dir / run_contract.METRICS_FILE
    history_path = run_dir / run_contract.HISTORY_FILE
    env_path = run_dir / "env.txt"
    run = Run(identity=identity, run_dir=run_dir, log=entry.log, status="missing")
    if metrics_path.exists():
        metrics = run_contract.read_metrics(metrics_path)
        fields = ("experiment", "framework", "dataset", "model", "hardware", "seed")
        claimed = {k: metrics["run"][k] for k in fields}
        # The precision a run trained in is its settings' (absent in older folders: fp32).
        claimed["precision"] = metrics["settings"].get("precision") or registry.DEFAULT_PRECISION
        expected = {k: getattr(identity, k) for k in fields + ("precision",)}
        if claimed != expected:
            raise ValueError(f"{metrics_path}: field run says {claimed}, but the run table has {expected}")
        run.metrics = metrics
        run.status = metrics["status"]
    else:
        failure_json = run_dir / "failure.json"
        if failure_json.exists():
            run.status, run.failure_reason = "failed", failure_from_json(failure_json)
        elif entry.log.exists() and (reason := failure_from_log(entry.log)):
            run.status, run.failure_reason = "failed", f"{reason} (log {entry.log})"
        else:
            run.failure_reason = (f"no metrics.json, no failure.json and no error in {entry.log}"
                                  if entry.log.exists() else "the job never ran: no metrics.json, no log")
        if not allow_missing:
            raise MissingRunError(f"{metrics_path} is missing: run {run.run_id} did not finish "
                                  f"({run.status}: {run.failure_reason}); "
                                  "pass --allow-missing to report it as a failed/missing row")
        log.warning("run %s is %s: %s", run.run_id, run.status, run.failure_reason)
    if history_path.exists():
        run.history = run_contract.read_history(history_path)
    if env_path.exists():
        run.packages = read_packages(env_path)
    return run


def collect_runs(runs_json, allow_missing: bool = False) -> list[Run]:
    """Read every run of the run table (results/runs.json), sorted by workload, framework and
    seed."""
    runs = [read_run(entry, allow_missing) for entry in run_table.read(runs_json)]
    return sorted(runs, key=lambda r: (r.experiment or "", r.dataset, r.model, r.hardware,
                                       precision_rank(r.precision), framework_rank(r.framework),
                                       r.seed))


framework_rank = registry.framework_rank


def precision_rank(name: str) -> tuple:
    """Registered precisions in registry order (fp32 first), then others by name."""
    names = registry.precision_names()
    return (names.index(name) if name in names else len(names), name)
