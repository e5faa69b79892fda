"""Provenance of a report: git commit, dataset checksums, package versions of each job env, date.

Not for the run figures themselves (`tables`). The git commit is `git rev-parse HEAD` of the
repository holding this code; outside git (an unpacked archive) it is "unknown".
"""
import datetime as dt
import logging
import subprocess
from pathlib import Path

from alexbench.common import registry

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[4]


def git_commit(repo: Path = REPO) -> str:
    """HEAD's commit hash, or 'unknown' outside a git work tree (or without git)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit or "unknown"


def dataset_checksums(config: dict, used=None) -> list[dict]:
    """[{dataset, file, sha256, bytes, checksum_source}] from config['datasets'], limited to the
    datasets in `used` (those of the runs) when given."""
    rows = []
    for name, spec in sorted((config.get("datasets") or {}).items()):
        if used and name not in used:
            continue
        for file_name, entry in sorted((spec.get("files") or {}).items()):
            entry = entry if isinstance(entry, dict) else {"sha256": entry}
            rows.append({"dataset": name, "file": file_name, "sha256": entry.get("sha256", ""),
                         "bytes": entry.get("bytes"), "checksum_source": spec.get("checksum_source", "")})
    return rows


def reported_packages() -> tuple:
    """The packages whose versions the report shows: Python, numpy, every registered framework's
    own packages, and the GPU and image libraries that change results."""
    framework_packages = [p for f in registry.FRAMEWORKS.values() for p in f.packages]
    return tuple(dict.fromkeys(["python", "numpy", *framework_packages, "torchvision",
                                "nvidia-cudnn-cu12", "pillow"]))


def package_versions(runs, packages=None) -> dict:
    """{env name 'framework-hardware': {package: version}} from the runs' env.txt files.

    Envs whose runs disagree (an env rebuilt between runs) list every version seen, joined by ' / '.
    Only the packages named are kept; the full freezes stay in each run folder's env.txt.
    """
    packages = packages or reported_packages()
    envs: dict[str, dict[str, set]] = {}
    for run in runs:
        versions = dict(run.packages)
        if run.metrics:
            versions.setdefault("python", run.metrics["versions"]["python"])
        if not versions:
            continue
        env = envs.setdefault(f"{run.framework}-{run.hardware}", {})
        for name in packages:
            if name in versions:
                env.setdefault(name, set()).add(versions[name])
    return {env: {name: " / ".join(sorted(v)) for name, v in sorted(pkgs.items())}
            for env, pkgs in sorted(envs.items())}


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
