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
    # The linked venvs are current (tests/run rebuilt them from these lock files): date the
    # copy's lock files back, so that no snakemake run in the copy rebuilds a shared venv.
    for lock in (dest / "envs").glob("*.lock.txt"):
        os.utime(lock, (0, 0))
    venv_dir = dest / ".venvs"
    venv_dir.mkdir()
    for env in ("keras-cpu", "pytorch-cpu", "gluon-cpu", "report"):
        (venv_dir / env).symlink_to(env_python(env).parents[1])
    # A gpu run must fail for want of a GPU, not spend minutes installing CUDA wheels: the CPU
    # venv stands in for keras-gpu (the harness checks for a GPU before it imports Keras).
    (venv_dir / "keras-gpu").symlink_to(env_python("keras-cpu").parents[1])
    return dest
