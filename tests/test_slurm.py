"""The workflow on a real SLURM cluster, through Snakemake's executor plugin and profiles/slurm.

A one-node cluster on localhost (tests/plugins/slurm_cluster.py: real slurmctld, slurmd and
munged) runs the offline demo of one cheap experiment (S2: Keras, MNIST padded to 32x32, smoke
mode) in a fresh copy of the working tree, with the job venvs of this checkout linked in.
- On cpu the run ends like a local run: every job went through sbatch, and a local dry run
  of the same config afterwards finds nothing to do.
- On gpu, with two fake GPUs declared as generic resources, the train job is granted one
  (`--gpus=1`, CUDA_VISIBLE_DEVICES set), then fails the way a gpu run without a usable GPU
  must ("no GPU is visible"): the run ends by itself, promptly, naming the failed job.
- On a node without GPU gres, the refused submission is reported with SLURM's own reason.
First, the cluster itself: it stops exactly the daemons it started and gives /etc/slurm back.

Not for: the plugin's other options, or real GPUs (the device machine's tests cover training).
"""
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from alexbench.common import run_contract
from slurm.cluster import ETC_SLURM, LocalSlurmCluster, client_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[1]
RUN = "keras/mnist/alexnet-lrn-32/{hardware}/fp32/seed0"
# Threads are explicit: the workflow's default (all of --cores) has no meaning on a cluster.
TRAIN_THREADS = min(2, os.cpu_count() or 1)


def demo_config(hardware: str) -> list[str]:
    return ["--config", "demo=true", "experiments_only=[S2]", f"hardware=[{hardware}]",
            f"train_threads={TRAIN_THREADS}"]


# The test cluster keeps finished jobs for MinJobAge=300 s, well above 3 x 2 s, so squeue
# status checks stay reliable with a short first wait.
SLURM_ARGS = ["--workflow-profile", "profiles/slurm",
              "--slurm-init-seconds-before-status-checks", "2"]
RUN_TIMEOUT_S = 480
# From the failed job's error to Snakemake's exit: cancelling nothing, cleaning logs.
FAILURE_EXIT_BOUND_S = 60


@dataclass
class SnakemakeRun:
    returncode: int
    output: str
    elapsed_s: float
    ended_at: datetime

    def slurm_job_ids(self, rule: str | None = None) -> list[str]:
        """SLURM job ids the plugin reported for submitted jobs (of one rule, if given)."""
        pattern = (r"has been submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_"
                   + (re.escape(rule) + "/" if rule else ""))
        return re.findall(pattern, self.output)

    def job_counts(self) -> dict[str, int]:
        """The 'Job stats' table Snakemake prints before running."""
        table = self.output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
        return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)
                if m[1] != "total"}

    def describe(self) -> str:
        return f"snakemake exited {self.returncode} after {self.elapsed_s:.0f} s\n{self.output[-8000:]}"


def run_snakemake(workdir: Path, args: list[str], timeout_s: float = RUN_TIMEOUT_S) -> SnakemakeRun:
    # `timeout -k`: a plugin that lost track of a job waits forever and ignores SIGTERM.
    command = ["timeout", "-k", "30", str(int(timeout_s)), sys.executable, "-m", "snakemake", *args]
    started = time.monotonic()
    proc = subprocess.run(command, cwd=workdir, env=client_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return SnakemakeRun(proc.returncode, proc.stdout, time.monotonic() - started, datetime.now())


def copy_working_tree(dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files, mtimes kept; job venvs linked, not copied."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venvs").mkdir()
    for venv in (REPO / ".venvs").iterdir():
        (dest / ".venvs" / venv.name).symlink_to(venv)


def assert_no_venv_rebuild(workdir: Path, config: list[str]) -> None:
    """The linked venvs are this checkout's: a build_venv job here would rewrite them."""
    dry = run_snakemake(workdir, ["-n", "--workflow-profile", "none", *config], timeout_s=120)
    assert dry.returncode == 0, dry.describe()
    if "Nothing to be done" not in dry.output and "build_venv" in dry.job_counts():
        pytest.fail("the workflow would rebuild a job venv (build_venv); run the test command "
                    f"(tests/run) so that .venvs/ is current first\n{dry.output[-3000:]}")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("slurm-checkout")
    copy_working_tree(workdir)
    return workdir


@pytest.fixture(scope="module")
def cpu_run(checkout, slurm_cluster_manager):
    cluster = slurm_cluster_manager.get(gpus=2)
    assert_no_venv_rebuild(checkout, demo_config("cpu"))
    return cluster, run_snakemake(checkout, [*SLURM_ARGS, *demo_config("cpu")])


@pytest.fixture(scope="module")
def gpu_run(checkout, cpu_run, slurm_cluster_manager):
    """A gpu run of S2 on the node with fake GPUs. Its job venv is the cpu one under the gpu
    name: the job only has to get as far as the framework looking for its GPU."""
    keras_gpu = checkout / ".venvs" / "keras-gpu"
    if not keras_gpu.exists():
        keras_gpu.symlink_to(REPO / ".venvs" / "keras-cpu")
    cluster = slurm_cluster_manager.get(gpus=2)
    assert_no_venv_rebuild(checkout, demo_config("gpu"))
    return cluster, run_snakemake(checkout, [*SLURM_ARGS, *demo_config("gpu")])


def test_cluster_stops_only_its_daemons_and_restores_the_host_config(slurm_cluster_manager):
    slurm_cluster_manager.get(gpus=0)  # skips here, with the reason, where no cluster can run
    slurm_cluster_manager.close()      # this test starts its own
    host_conf = ETC_SLURM / "slurm.conf"
    if host_conf.exists() or host_conf.is_symlink():
        pytest.skip(f"{host_conf} belongs to this host; the test will not stand in for it")
    host_conf.write_text("# the host's own configuration\n")
    bystander = subprocess.Popen(["sleep", "120"])  # a process the cluster must not touch
    try:
        cluster = LocalSlurmCluster(gpus=2)
        with cluster:
            pids = cluster.pids
            scratch = cluster.scratch
            assert set(pids) == {"munged", "slurmctld", "slurmd"}
            assert os.readlink(host_conf) == str(scratch / "slurm.conf")
            assert (ETC_SLURM / "gres.conf").is_symlink()
            gres = cluster.run(["sinfo", "-h", "-N", "-o", "%N %G"]).stdout.split()
            assert gres == ["localhost", "gpu:2"]
        for name, pid in pids.items():
            assert not Path(f"/proc/{pid}").exists(), f"{name} (pid {pid}) still running"
        assert bystander.poll() is None
        assert not host_conf.is_symlink()
        assert host_conf.read_text() == "# the host's own configuration\n"
        assert not (ETC_SLURM / "gres.conf").exists()
        assert not list(ETC_SLURM.glob("*.alexbench-backup"))
        assert not scratch.exists()
    finally:
        bystander.kill()
        bystander.wait()
        host_conf.unlink(missing_ok=True)


def test_demo_runs_through_slurm_like_a_local_run(cpu_run, checkout):
    cluster, run = cpu_run
    assert run.returncode == 0, run.describe()

    # Every job but the local `all` went through sbatch, and slurmctld saw each submission.
    counts = run.job_counts()
    job_ids = run.slurm_job_ids()
    assert len(job_ids) == sum(counts.values()) - counts.get("all", 0), run.describe()
    assert len(run.slurm_job_ids("train")) == 1, run.describe()
    assert set(job_ids) <= cluster.submitted_job_ids()
    finished = cluster.run(["squeue", "-h", "--states=all", "-o", "%i %T"]).stdout.split("\n")
    assert {f"{job_id} COMPLETED" for job_id in job_ids} <= set(finished), finished

    # The same results a local run leaves: a local dry run of the same config has nothing to do.
    dry = run_snakemake(checkout, ["-n", "--workflow-profile", "none", *demo_config("cpu")], 120)
    assert dry.returncode == 0 and "Nothing to be done" in dry.output, dry.describe()
    run_dir = checkout / "results" / "runs" / RUN.format(hardware="cpu")
    metrics = run_contract.read_metrics(run_dir / "metrics.json")  # validates the schema
    assert metrics["status"] == "ok" and metrics["run"]["hardware"] == "cpu"
    assert (run_dir / "history.csv").stat().st_size > 0
    assert "<html" in (checkout / "results" / "report.html").read_text().lower()

    # A cpu job asks for no GPU, so SLURM hands it none.
    train_log = checkout / "logs" / "train" / f"{RUN.format(hardware='cpu')}.log"
    assert train_log.read_text().splitlines()[0] == "CUDA_VISIBLE_DEVICES=unset"


def test_gpu_run_is_granted_a_gpu_by_slurm(gpu_run, checkout):
    cluster, run = gpu_run
    [train_job] = run.slurm_job_ids("train") or [None]
    assert train_job is not None, run.describe()
    job = cluster.run(["scontrol", "show", "job", train_job]).stdout
    assert re.search(r"TresPerJob=gres:gpu:1\b", job), job
    train_log = checkout / "logs" / "train" / f"{RUN.format(hardware='gpu')}.log"
    assert train_log.read_text().splitlines()[0] == "CUDA_VISIBLE_DEVICES=0"


def test_failed_job_ends_the_run_promptly_naming_it(gpu_run, checkout):
    cluster, run = gpu_run
    assert run.returncode == 1, run.describe()  # 124/137 would be our timeout, not Snakemake
    [train_job] = run.slurm_job_ids("train")
    assert "Error in rule train:" in run.output, run.describe()
    assert f"SLURM-job '{train_job}' failed, SLURM status is: 'FAILED'" in run.output, run.describe()
    assert f"logs/train/{RUN.format(hardware='gpu')}.log" in run.output
    train_log = checkout / "logs" / "train" / f"{RUN.format(hardware='gpu')}.log"
    assert "no GPU is visible" in train_log.read_text()
    # The plugin keeps the SLURM log of a failed job.
    assert list((checkout / ".snakemake" / "slurm_logs" / "rule_train").rglob(f"{train_job}.log"))

    error_at = re.findall(r"\[(\w{3} \w{3} +\d+ [\d:]{8} \d{4})\]\nError in rule train", run.output)
    assert error_at, run.describe()
    waited_s = (run.ended_at - datetime.strptime(error_at[-1], "%a %b %d %H:%M:%S %Y")).total_seconds()
    assert waited_s < FAILURE_EXIT_BOUND_S, f"exit came {waited_s:.0f} s after the error\n{run.describe()}"


def test_gpu_request_on_a_node_without_gpus_is_reported(checkout, gpu_run, slurm_cluster_without_gpus):
    # Depends on gpu_run only to run after it: one cluster restart for the whole module.
    run = run_snakemake(checkout, [*SLURM_ARGS, *demo_config("gpu")])
    assert run.returncode == 1, run.describe()
    assert "Error in rule train:" in run.output, run.describe()
    assert "SLURM sbatch failed" in run.output, run.describe()
    assert "Invalid generic resource (gres) specification" in run.output, run.describe()
    assert re.search(r"sbatch call:\n\s+sbatch .* --gpus=1 ", run.output), run.describe()
