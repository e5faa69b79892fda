"""A clean copy of the checkout for tests that run the workflow: tracked and new files, nothing
git ignores (no results, no resources), so a run there starts as on a fresh clone."""
import os
import shutil
import subprocess
from pathlib import Path

from conftest import REPO, env_python


def copy_checkout(dest: Path, venvs: bool = True) -> Path:
    """Copy the checkout to `dest`; with `venvs`, link in the venvs tests/run built."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    if not venvs:
        return dest
    venv_dir = dest / ".venvs"
    venv_dir.mkdir()
    for env in ("keras-cpu", "pytorch-cpu", "gluon-cpu", "report"):
        (venv_dir / env).symlink_to(env_python(env).parents[1])
    # A gpu run must fail for want of a GPU, not spend minutes installing CUDA wheels: the CPU
    # venv stands in for keras-gpu (the harness checks for a GPU before it imports Keras).
    (venv_dir / "keras-gpu").symlink_to(env_python("keras-cpu").parents[1])
    # The linked venvs are shared: a lock file edited after they were built must not make the
    # copy's build_venv rebuild them through the link (or, failing, delete their pip-freeze.txt
    # as the output of a failed job). tests/run rebuilds them when a lock file changes.
    for link in venv_dir.iterdir():
        freeze, lock = link / "pip-freeze.txt", dest / "envs" / f"{link.name}.lock.txt"
        if freeze.exists() and lock.exists():
            built = freeze.stat().st_mtime - 1
            os.utime(lock, (built, min(built, lock.stat().st_mtime)))
    return dest
