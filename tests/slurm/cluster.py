"""Start and stop a real one-node SLURM cluster on localhost, for tests of the SLURM profile.

For: tests (and CI) that must submit through real `slurmctld`/`slurmd`/`munged` daemons from
Debian's packages. The cluster has one node, `localhost`, one default partition, optional fake
GPUs declared as generic resources (character devices made with `mknod ... c 1 3`), and no
accounting database (clients use `squeue`, not `sacct`).

Not for: real clusters, or any process this module did not start. It records the PID of each
daemon it starts and stops exactly those; it replaces `/etc/slurm/slurm.conf` (and `gres.conf`)
with links to its own files only while running, moving what was there aside and putting it
back on stop. One cluster per machine at a time (a lock file serialises test sessions).

Use as a context manager, or from the command line around one command:
    python tests/slurm/cluster.py [--gpus 2] [--install] -- snakemake --workflow-profile profiles/slurm ...
"""
from __future__ import annotations

import argparse
import atexit
import fcntl
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
INSTALL_SCRIPT = HERE / "install.sh"
SLURM_CONF_TEMPLATE = HERE / "slurm.conf.template"
GRES_CONF_TEMPLATE = HERE / "gres.conf.template"

# Where SLURM's clients and daemons look for their configuration. SLURM_CONF alone is not
# enough: the executor plugin strips SLURM_* variables before it calls srun inside a job.
ETC_SLURM = Path("/etc/slurm")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_USER = "munge"
PROGRAMS = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "scancel", "srun")
SCRATCH_PREFIX = "alexbench-slurm-"
LOCK_FILE = Path(tempfile.gettempdir()) / "alexbench-slurm-cluster.lock"
BACKUP_SUFFIX = ".alexbench-backup"


class ClusterUnavailable(RuntimeError):
    """A precondition is missing (packages, root, munge key, another test cluster): callers skip."""


class ClusterStartError(RuntimeError):
    """The daemons were started but the node never became usable: a defect, callers fail."""


def missing_programs() -> list[str]:
    """SLURM/munge programs not found on PATH (plus /usr/sbin, where Debian puts the daemons)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [p for p in PROGRAMS if shutil.which(p, path=search) is None]


def install_packages(timeout_s: float = 600) -> None:
    """Run tests/slurm/install.sh (idempotent); raises ClusterUnavailable naming why it failed."""
    try:
        proc = subprocess.run(["sh", str(INSTALL_SCRIPT)], capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ClusterUnavailable(f"{INSTALL_SCRIPT} did not finish within {timeout_s:.0f} s")
    if proc.returncode != 0:
        raise ClusterUnavailable(f"{INSTALL_SCRIPT} exited {proc.returncode}: "
                                 f"{(proc.stdout + proc.stderr).strip()[-1500:]}")


def client_env(base: dict | None = None) -> dict:
    """An environment for SLURM clients of this cluster: no inherited SLURM_* variables, so a
    SLURM_CONF (or job context) from an outer cluster cannot redirect them."""
    env = dict(os.environ if base is None else base)
    for key in [k for k in env if k.startswith("SLURM_")]:
        del env[key]
    return env


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as error:
        return f"<{path}: {error}>"


@dataclass
class LocalSlurmCluster:
    """One slurmctld + one slurmd + one munged on localhost.

    gpus: fake GPUs declared on the node (`Gres=gpu:N`); 0 declares no GPU gres at all.
    gpu_type: optional GPU type name (`Gres=gpu:<type>:N`), to test `gpu_model` requests.
    """

    gpus: int = 0
    gpu_type: str | None = None
    partition: str = "debug"
    keep_scratch: bool = field(default_factory=lambda: os.environ.get("ALEXBENCH_SLURM_KEEP") == "1")
    scratch: Path | None = field(default=None, init=False)
    _procs: list = field(default_factory=list, init=False)          # (name, Popen), start order
    _links: list = field(default_factory=list, init=False)          # (path, backup or None)
    _lock_handle: object = field(default=None, init=False)

    # ---- public API -------------------------------------------------------------------------
    def start(self, idle_timeout_s: float = 60, lock_wait_s: float = 120) -> "LocalSlurmCluster":
        """Start the daemons and wait until the node is idle. On failure everything started is
        stopped again before the exception propagates."""
        self._check_preconditions()
        self._acquire_lock(lock_wait_s)
        atexit.register(self.stop)
        try:
            self._write_config()
            self._start_daemons()
            self._wait_until_idle(idle_timeout_s)
        except BaseException:
            self.stop()
            raise
        log.info("SLURM test cluster up in %s (gpus=%d): %s", self.scratch, self.gpus,
                 ", ".join(f"{name}={proc.pid}" for name, proc in self._procs))
        return self

    def stop(self) -> None:
        """Cancel this cluster's jobs, stop exactly the daemons started here (newest first),
        restore /etc/slurm, release the lock. Safe to call twice."""
        if self._procs and self._procs[-1][1].poll() is None:
            self._cancel_all_jobs()
        for name, proc in reversed(self._procs):
            self._stop_process(name, proc)
        self._procs.clear()
        for path, backup in reversed(self._links):
            self._restore_link(path, backup)
        self._links.clear()
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None
        if self.scratch is not None and not self.keep_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def __enter__(self) -> "LocalSlurmCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pids(self) -> dict[str, int]:
        """PIDs of the daemons this object started, by program name."""
        return {name: proc.pid for name, proc in self._procs}

    @property
    def slurmctld_log(self) -> Path:
        return self.scratch / "log" / "slurmctld.log"

    def submitted_job_ids(self) -> set[str]:
        """Job ids slurmctld accepted from sbatch, read from its own log."""
        text = self.slurmctld_log.read_text(errors="replace")
        return set(re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", text))

    def run(self, args: list[str], timeout_s: float = 30) -> subprocess.CompletedProcess:
        """Run a SLURM client command (sinfo, squeue, scontrol ...) against this cluster."""
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout_s,
                              env=client_env())

    # ---- start-up -----------------------------------------------------------------------------
    def _check_preconditions(self) -> None:
        if os.geteuid() != 0:
            raise ClusterUnavailable("the test cluster needs root (daemons, /etc/slurm, mknod)")
        missing = missing_programs()
        if missing:
            raise ClusterUnavailable(f"SLURM programs missing: {', '.join(missing)} "
                                     f"(install them with {INSTALL_SCRIPT})")
        if not MUNGE_KEY.exists():
            raise ClusterUnavailable(f"{MUNGE_KEY} is missing (the munge package creates it)")
        try:
            pwd.getpwnam(MUNGE_USER)
        except KeyError:
            raise ClusterUnavailable(f"user {MUNGE_USER!r} is missing (the munge package creates it)")

    def _acquire_lock(self, wait_s: float) -> None:
        handle = open(LOCK_FILE, "a")
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_handle = handle
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise ClusterUnavailable(f"another test cluster holds {LOCK_FILE} "
                                             f"(waited {wait_s:.0f} s)")
                time.sleep(1)

    def _write_config(self) -> None:
        # Under the system temp dir, not pytest's 0700 tmp_path: munged (as user munge) must
        # reach its socket directory.
        self.scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
        self.scratch.chmod(0o755)
        for sub in ("state", "spool", "run", "log", "dev"):
            (self.scratch / sub).mkdir()
        munge_dir = self.scratch / "munge"
        munge_dir.mkdir()
        munge_dir.chmod(0o755)  # munged insists that every user can reach its socket
        user = pwd.getpwnam(MUNGE_USER)
        os.chown(munge_dir, user.pw_uid, user.pw_gid)
        (self.scratch / "plugstack.conf").write_text("")  # no SPANK plugins from the host

        gpu_lines = []
        for index in range(self.gpus):
            device = self.scratch / "dev" / f"nvidia{index}"
            try:
                os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            except OSError as error:
                raise ClusterUnavailable(f"cannot create fake GPU device {device}: {error}")
            type_part = f" Type={self.gpu_type}" if self.gpu_type else ""
            gpu_lines.append(f"NodeName=localhost Name=gpu{type_part} File={device}")
        node_gres = ""
        if self.gpus:
            node_gres = f"Gres=gpu:{self.gpu_type + ':' if self.gpu_type else ''}{self.gpus}"

        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        values = dict(
            scratch=self.scratch,
            slurmctld_port=_free_tcp_port(),
            slurmd_port=_free_tcp_port(),
            munge_socket=munge_dir / "munge.socket",
            cpus=os.cpu_count() or 1,
            # Below the physical total, or slurmd registers with less than configured and the
            # node is drained.
            real_memory_mb=int(total_mb * 0.8),
            gres_types="GresTypes=gpu" if self.gpus else "",
            node_gres=node_gres,
            partition=self.partition,
        )
        slurm_conf = self.scratch / "slurm.conf"
        slurm_conf.write_text(string.Template(SLURM_CONF_TEMPLATE.read_text()).substitute(values))
        self._link(ETC_SLURM / "slurm.conf", slurm_conf)
        if self.gpus:
            gres_conf = self.scratch / "gres.conf"
            gres_conf.write_text(string.Template(GRES_CONF_TEMPLATE.read_text())
                                 .substitute(gpu_lines="\n".join(gpu_lines)))
            self._link(ETC_SLURM / "gres.conf", gres_conf)

    def _link(self, path: Path, target: Path) -> None:
        """Point `path` at `target`, moving an existing file aside (restored by stop)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if path.is_symlink() and SCRATCH_PREFIX in os.readlink(path):
            # Left by a test session that was killed before its teardown: ours, not the host's.
            log.warning("removing stale test-cluster link %s -> %s", path, os.readlink(path))
            path.unlink()
            original = backup if backup.exists() or backup.is_symlink() else None
        elif path.exists() or path.is_symlink():
            if backup.exists() or backup.is_symlink():
                raise ClusterUnavailable(f"{path} exists and so does {backup}; "
                                         "move one of them by hand")
            log.warning("moving the host's %s aside to %s until the test cluster stops",
                        path, backup)
            os.rename(path, backup)
            original = backup
        else:
            original = None
        path.symlink_to(target)
        self._links.append((path, original))

    def _spawn(self, name: str, args: list[str]) -> None:
        out = open(self.scratch / "log" / f"{name}.out", "w")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=client_env(), start_new_session=True)
        out.close()
        self._procs.append((name, proc))

    def _start_daemons(self) -> None:
        munge_dir = self.scratch / "munge"
        socket_path = munge_dir / "munge.socket"
        # setpriv execs munged in place, so the recorded PID is munged's (runuser's is not).
        self._spawn("munged", ["setpriv", f"--reuid={MUNGE_USER}", f"--regid={MUNGE_USER}",
                               "--init-groups", shutil.which("munged", path="/usr/sbin:/usr/bin"),
                               "--foreground", f"--socket={socket_path}",
                               f"--pid-file={munge_dir / 'munged.pid'}",
                               f"--seed-file={munge_dir / 'munged.seed'}",
                               f"--log-file={munge_dir / 'munged.log'}"])
        self._wait_for(lambda: socket_path.exists(), 15, f"munged socket {socket_path}")
        self._spawn("slurmctld", [shutil.which("slurmctld", path="/usr/sbin:/usr/bin"), "-D", "-i"])
        self._spawn("slurmd", [shutil.which("slurmd", path="/usr/sbin:/usr/bin"),
                               "-D", "-N", "localhost"])

    def _wait_until_idle(self, timeout_s: float) -> None:
        def node_idle() -> bool:
            proc = self.run(["sinfo", "-h", "-N", "-o", "%N %T"], timeout_s=10)
            return proc.returncode == 0 and "localhost idle" in proc.stdout
        self._wait_for(node_idle, timeout_s, "node localhost to be idle in sinfo")

    def _wait_for(self, condition, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            dead = [(name, proc.returncode) for name, proc in self._procs if proc.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = (f"{', '.join(f'{n} exited {rc}' for n, rc in dead)}" if dead
                       else f"timed out after {timeout_s:.0f} s")
                raise ClusterStartError(f"waiting for {what}: {why}\n{self._diagnostics()}")
            time.sleep(0.3)

    def _diagnostics(self) -> str:
        logs = [self.scratch / "log" / f"{name}.out" for name, _ in self._procs]
        logs += [self.scratch / "log" / "slurmctld.log", self.scratch / "log" / "slurmd.log",
                 self.scratch / "munge" / "munged.log"]
        return "\n".join(f"--- {p}\n{_tail(p, 1500)}" for p in logs if p.exists())

    # ---- teardown -------------------------------------------------------------------------------
    def _cancel_all_jobs(self) -> None:
        """Cancel jobs of this cluster, so their slurmstepd processes end before slurmd does."""
        try:
            ids = self.run(["squeue", "-h", "-o", "%i"], timeout_s=10).stdout.split()
            if not ids:
                return
            self.run(["scancel", *ids], timeout_s=10)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                states = self.run(["squeue", "-h", "-o", "%T"], timeout_s=10).stdout.split()
                if not [s for s in states if s not in ("COMPLETED", "CANCELLED", "FAILED",
                                                        "TIMEOUT", "NODE_FAIL")]:
                    return
                time.sleep(0.5)
            log.warning("jobs still active after scancel: %s", states)
        except (OSError, subprocess.SubprocessError) as error:
            log.warning("could not cancel the test cluster's jobs: %s", error)

    @staticmethod
    def _stop_process(name: str, proc: subprocess.Popen) -> None:
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) ignored SIGTERM; killing it", name, proc.pid)
            proc.kill()
            proc.wait(timeout=10)

    @staticmethod
    def _restore_link(path: Path, backup: Path | None) -> None:
        if path.is_symlink() and SCRATCH_PREFIX in os.readlink(path):
            path.unlink()
        if backup is not None:
            if path.exists() or path.is_symlink():
                log.warning("not restoring %s: %s was replaced meanwhile", backup, path)
            else:
                os.rename(backup, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpus", type=int, default=0, help="fake GPUs to declare on the node")
    parser.add_argument("--gpu-type", default=None, help="GPU type name, e.g. a100")
    parser.add_argument("--install", action="store_true", help=f"run {INSTALL_SCRIPT.name} first")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="command to run while the cluster is up (after --)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command to run after --")
    if args.install:
        install_packages()
    with LocalSlurmCluster(gpus=args.gpus, gpu_type=args.gpu_type) as cluster:
        # Forward SIGTERM as an exception, so the cluster is torn down on `timeout`.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        log.info("running %s", " ".join(command))
        return subprocess.run(command, env=client_env()).returncode


if __name__ == "__main__":
    sys.exit(main())
