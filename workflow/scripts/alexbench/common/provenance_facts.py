"""Where a run's numbers came from: the code's git commit (and whether the work tree had
uncommitted changes) and the sha256 of every input file the run's dataset was prepared from.

Standard library only: called from the training harness in every framework env. The job env may
have no git (a conda env on a compute node, a container): the workflow reads the commit once
while it builds the DAG, where git is at hand, and hands it to every job in the environment
variables below; only when those are absent does this module ask git itself, and without git it
records "unknown" rather than guessing. The environment is used instead of a rule parameter on
purpose: a parameter is a rerun trigger, and a new commit must not retrain every run.

The input checksums come from the prepared dataset's meta.json (`sources`: official file name ->
sha256, checked against the download when the dataset was prepared), so no gigabyte file is
hashed again before a timed run.
"""
import json
import os
import subprocess
from pathlib import Path

COMMIT_VARIABLE = "ALEXBENCH_GIT_COMMIT"
DIRTY_VARIABLE = "ALEXBENCH_GIT_DIRTY"
UNKNOWN = "unknown"
# workflow/scripts/alexbench/common/provenance_facts.py -> the repository
REPO = Path(__file__).resolve().parents[4]


def _git(repo: Path, *args) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                              timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def read_git_state(repo: Path = REPO) -> dict:
    """{'commit': HEAD's hash or 'unknown', 'dirty': True/False, or None when unknown}, asking
    git in `repo`. Dirty: any tracked change or untracked file that .gitignore does not hide."""
    head = _git(repo, "rev-parse", "HEAD")
    if not head or not head.strip():
        return {"commit": UNKNOWN, "dirty": None}
    status = _git(repo, "status", "--porcelain")
    return {"commit": head.strip(), "dirty": None if status is None else bool(status.strip())}


def git_state_environment(repo: Path = REPO, environ=os.environ) -> dict:
    """The variables the workflow exports to its jobs; an existing value wins (a job's own
    Snakemake re-reads the workflow on a node that may have no git)."""
    if environ.get(COMMIT_VARIABLE):
        return {COMMIT_VARIABLE: environ[COMMIT_VARIABLE], DIRTY_VARIABLE: environ.get(DIRTY_VARIABLE, "")}
    state = read_git_state(repo)
    dirty = "" if state["dirty"] is None else str(state["dirty"]).lower()
    return {COMMIT_VARIABLE: state["commit"], DIRTY_VARIABLE: dirty}


def git_state(environ=os.environ, repo: Path = REPO) -> dict:
    """The commit and dirty flag for a run: from the workflow's variables, else from git."""
    commit = environ.get(COMMIT_VARIABLE)
    if commit:
        dirty = {"true": True, "false": False}.get(environ.get(DIRTY_VARIABLE, "").lower())
        return {"commit": commit, "dirty": dirty}
    return read_git_state(repo)


def input_checksums(data_dir) -> dict:
    """{official file name: sha256} of the files the prepared dataset in data_dir was made from.

    Raises ValueError naming meta.json when `sources` is missing or not such a mapping: a run
    whose inputs cannot be named should not look traceable."""
    meta_path = Path(data_dir) / "meta.json"
    try:
        sources = json.loads(meta_path.read_text(encoding="utf-8")).get("sources")
    except (OSError, ValueError) as e:
        raise ValueError(f"{meta_path}: cannot read the input checksums ({e})") from e
    if not isinstance(sources, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in sources.items()):
        raise ValueError(f"{meta_path}: 'sources' must map each input file to its sha256, got {sources!r}")
    return dict(sorted(sources.items()))


def run_provenance(data_dir, environ=os.environ) -> dict:
    """metrics.json's `provenance`: {git_commit, git_dirty, inputs: {file: sha256}}."""
    state = git_state(environ)
    return {"git_commit": state["commit"], "git_dirty": state["dirty"],
            "inputs": input_checksums(data_dir)}
