"""Per-run provenance (alexbench.common.provenance_facts): the git commit and dirty flag, read
from the workflow's variables or from git itself, and the input checksums from meta.json."""
import json
import shutil
import subprocess

import pytest

from alexbench.common import provenance_facts as pf

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("results/\n")
    (repo / "a.py").write_text("x = 1\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    return repo


@needs_git
def test_git_state_reads_the_commit_and_sees_uncommitted_changes(repo):
    head = git(repo, "rev-parse", "HEAD").strip()
    assert pf.read_git_state(repo) == {"commit": head, "dirty": False}
    (repo / "results").mkdir()
    (repo / "results" / "metrics.json").write_text("{}")   # ignored output: still clean
    assert pf.read_git_state(repo)["dirty"] is False
    (repo / "a.py").write_text("x = 2\n")
    assert pf.read_git_state(repo) == {"commit": head, "dirty": True}


def test_outside_git_the_commit_is_unknown_not_guessed(tmp_path):
    assert pf.read_git_state(tmp_path) == {"commit": "unknown", "dirty": None}
    assert pf.git_state(environ={}, repo=tmp_path) == {"commit": "unknown", "dirty": None}


@needs_git
def test_the_workflow_variables_win_over_git(repo, tmp_path):
    # What the workflow exports at parse time is what a job without git records.
    exported = pf.git_state_environment(repo, environ={})
    assert exported == {pf.COMMIT_VARIABLE: git(repo, "rev-parse", "HEAD").strip(), pf.DIRTY_VARIABLE: "false"}
    assert pf.git_state(environ=exported, repo=tmp_path) == {"commit": exported[pf.COMMIT_VARIABLE],
                                                             "dirty": False}
    # A job's own Snakemake on a node without git keeps what it was handed.
    assert pf.git_state_environment(tmp_path, environ=exported) == exported
    assert pf.git_state(environ={pf.COMMIT_VARIABLE: "abc", pf.DIRTY_VARIABLE: ""}) == \
        {"commit": "abc", "dirty": None}


def test_input_checksums_come_from_meta_json(tmp_path):
    sums = {"train-images-idx3-ubyte.gz": "a" * 64, "t10k-labels-idx1-ubyte.gz": "b" * 64}
    (tmp_path / "meta.json").write_text(json.dumps({"dataset": "mnist", "sources": sums}))
    provenance = pf.run_provenance(tmp_path, environ={pf.COMMIT_VARIABLE: "c0ffee", pf.DIRTY_VARIABLE: "true"})
    assert provenance == {"git_commit": "c0ffee", "git_dirty": True, "inputs": dict(sorted(sums.items()))}


@pytest.mark.parametrize("meta, problem", [(None, "cannot read"), ("{broken", "cannot read"),
                                           ({"sources": ["x"]}, "'sources' must map"),
                                           ({"sources": {"f": "short"}}, "'sources' must map")])
def test_bad_meta_json_is_named(tmp_path, meta, problem):
    if meta is not None:
        (tmp_path / "meta.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    with pytest.raises(ValueError, match=problem) as error:
        pf.input_checksums(tmp_path)
    assert str(tmp_path / "meta.json") in str(error.value)
