"""Collect the expected runs: one `Run` per run folder, whether it finished, diverged, failed or
never ran.

Reads run folders only through `alexbench.common.run_contract` (metrics.json, history.csv), plus
the two files the contract leaves free-form: `env.txt` (pip freeze of the job's env) and, for a
job that crashed, `failure.json` or the job's log. Not for tables or statistics (`tables`,
`stats`): this module only says what each run folder holds.

Run folders follow `.../runs/{framework}/{dataset}/{model}/{hardware}/seed{seed}`; the log of
that run is `logs/train/{framework}/{dataset}/{model}/{hardware}/seed{seed}.log` under the folder
that holds `results/` (design.md, "Run paths").
"""
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from alexbench.common import registry, run_contract

log = logging.getLogger(__name__)

SEED_DIR = re.compile(r"^seed(\d+)$")
# Lines in a job log that say the job failed: a Python traceback and its exception line, an
# ERROR/CRITICAL record of the harness ("2025-11-25 10:00:00,123 ERROR ..."), the OOM killer.
LOG_FAILURE = re.compile(r"^Traceback \(most recent call last\)|^[\w.]*(Error|Exception)\b|"
                         r"\b(ERROR|CRITICAL)\b|^Killed\b")


class MissingRunError(RuntimeError):
    """An expected run has no metrics.json and missing runs were not allowed."""


@dataclass
class Run:
    """One expected run and what its folder holds.

    status: 'ok' or 'diverged' (from metrics.json), 'failed' (no metrics.json; failure.json or the
    log says why), 'missing' (no metrics.json and no sign the job ran or failed).
    """
    run_dir: Path
    framework: str
    dataset: str
    model: str
    hardware: str
    seed: int
    status: str
    experiment: str | None = None
    metrics: dict | None = None
    history: list = field(default_factory=list)
    packages: dict = field(default_factory=dict)
    failure_reason: str | None = None

    @property
    def run_id(self) -> str:
        """Stable, HTML-anchor-safe name of the run."""
        return f"{self.framework}-{self.dataset}-{self.model}-{self.hardware}-seed{self.seed}"

    @property
    def workload(self) -> tuple:
        return (self.experiment, self.dataset, self.model, self.hardware)


def identity_from_path(run_dir: Path) -> dict:
    """framework/dataset/model/hardware/seed from a run folder's last five path parts."""
    parts = Path(run_dir).parts[-5:]
    match = SEED_DIR.match(parts[-1]) if len(parts) == 5 else None
    if not match:
        raise ValueError(f"{run_dir}: not a run folder; expected "
                         ".../{framework}/{dataset}/{model}/{hardware}/seed{N}")
    framework, dataset, model, hardware = parts[:4]
    return {"framework": framework, "dataset": dataset, "model": model, "hardware": hardware,
            "seed": int(match.group(1))}


def log_path_for(run_dir: Path) -> Path:
    """logs/train/{framework}/{dataset}/{model}/{hardware}/seed{N}.log for results/runs/... ."""
    run_dir = Path(run_dir)
    # run_dir = <root>/results/runs/fw/ds/model/hw/seedN: parents[5] is <root>/results.
    root = run_dir.parents[6] if len(run_dir.parents) > 6 else Path(".")
    return root.joinpath("logs", "train", *run_dir.parts[-5:-1], run_dir.name + ".log")


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


def experiment_for(identity: dict, config: dict) -> str | None:
    """The config experiment that would have produced this run (for runs without metrics.json).

    Matched on dataset, model and framework only: config.json is the config as written, where
    hardware may be 'auto' and seeds may be overridden at the top level; the run folders given
    on the command line are what was expected. Experiments kept by `experiments_only` win.
    """
    only = config.get("experiments_only") or []
    matches = [name for name, exp in (config.get("experiments") or {}).items()
               if exp.get("dataset") == identity["dataset"] and exp.get("model") == identity["model"]
               and identity["framework"] in exp.get("frameworks", [])]
    preferred = [name for name in matches if name in only]
    return (preferred or matches or [None])[0]


def read_run(run_dir, config: dict, allow_missing: bool = False) -> Run:
    """Read one expected run folder.

    A metrics.json that breaks the schema always raises (run_contract.ContractError, a
    ValueError naming file and field). A missing metrics.json raises MissingRunError unless
    `allow_missing`, in which case the run comes back as 'failed' or 'missing'.
    """
    run_dir = Path(run_dir)
    identity = identity_from_path(run_dir)
    metrics_path = run_dir / run_contract.METRICS_FILE
    history_path = run_dir / run_contract.HISTORY_FILE
    env_path = run_dir / "env.txt"
    run = Run(run_dir=run_dir, status="missing", **identity)
    if metrics_path.exists():
        metrics = run_contract.read_metrics(metrics_path)
        claimed = {k: metrics["run"][k] for k in identity}
        if claimed != identity:
            raise ValueError(f"{metrics_path}: field run says {claimed}, but the folder is {identity}")
        run.metrics = metrics
        run.status = metrics["status"]
        run.experiment = metrics["run"]["experiment"]
    else:
        run.experiment = experiment_for(identity, config)
        failure_json = run_dir / "failure.json"
        job_log = log_path_for(run_dir)
        if failure_json.exists():
            run.status, run.failure_reason = "failed", failure_from_json(failure_json)
        elif job_log.exists() and (reason := failure_from_log(job_log)):
            run.status, run.failure_reason = "failed", f"{reason} (log {job_log})"
        else:
            run.failure_reason = (f"no metrics.json, no failure.json and no error in {job_log}"
                                  if job_log.exists() else "the job never ran: no metrics.json, no log")
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


def collect_runs(run_dirs, config: dict, allow_missing: bool = False) -> list[Run]:
    """Read every expected run folder, sorted by workload, framework and seed; duplicates refused."""
    runs, seen = [], set()
    for run_dir in run_dirs:
        run = read_run(run_dir, config, allow_missing)
        if run.run_id in seen:
            raise ValueError(f"{run_dir}: run {run.run_id} is listed twice")
        seen.add(run.run_id)
        runs.append(run)
    return sorted(runs, key=lambda r: (r.experiment or "", r.dataset, r.model, r.hardware,
                                       framework_rank(r.framework), r.seed))


framework_rank = registry.framework_rank
