"""The memory of a training job's child processes, which `memory.peak_rss_mb` leaves out.

`peak_rss_mb` is the training process's own high-water mark, kept by the kernel. Some runs
start further processes that live as long as the run: `torch.compile` (Inductor) compiles its
kernels in a pool of worker processes. A scheduler's memory limit (SLURM's cgroup) counts
every process of the job, so the run also records the highest memory its children held
together, sampled by a background thread.

Each child counts by its proportional set size (Pss in /proc/PID/smaps_rollup: pages shared
with other processes are split between them, instead of counted once per process as resident
size would), or by its resident size where the kernel has no smaps_rollup (before Linux 4.14).
A peak shorter than the sampling interval can be missed. Stdlib only; Linux's /proc.
"""
import os
import threading

SAMPLE_INTERVAL_S = 0.5  # a sample took 0.1 ms in a Keras job: 0.02% of a core
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def _children_from_task_files(pid):
    """Direct children of `pid` from /proc/PID/task/*/children (a child belongs to the thread
    that started it); None where the kernel does not provide those files."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children, seen_file = [], False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                children.extend(int(p) for p in f.read().split())
            seen_file = True
        except OSError:
            continue  # this thread ended, or the kernel lacks the file
    return children if seen_file else None


def _parents_from_stat():
    """{pid: parent pid} of every process, from /proc/PID/stat (the fallback)."""
    parents = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1:
            parents[int(name)] = int(fields[1])
    return parents


def descendants(pid):
    """Every live process started by `pid`, its children's children included."""
    found, queue, parents = [], [pid], None
    while queue:
        current = queue.pop()
        # Once the kernel has shown it lacks the children files, the one scan of /proc serves
        # every process below, instead of trying the files again for each.
        children = _children_from_task_files(current) if parents is None else None
        if children is None:
            if parents is None:
                parents = _parents_from_stat()
            children = [p for p, parent in parents.items() if parent == current]
        found.extend(children)
        queue.extend(children)
    return found


def process_memory_mb(pid):
    """Proportional set size of `pid` in MB (resident size without smaps_rollup); 0 if gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024.0
    except FileNotFoundError:
        pass
    except OSError:
        return 0.0
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE_MB
    except (OSError, IndexError, ValueError):
        return 0.0


def children_memory_mb(pid=None):
    """Memory held now by all descendants of `pid` (default: this process) together, in MB."""
    return sum(process_memory_mb(child) for child in descendants(pid or os.getpid()))


class ChildMemoryMeter:
    """Samples children_memory_mb(pid) every `interval_s` from start() until stop(), which
    returns the highest sum seen (0.0 when the process never had a child)."""

    def __init__(self, pid=None, interval_s=SAMPLE_INTERVAL_S):
        self.pid = pid or os.getpid()
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="child-memory", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _sample(self):
        stopping = False
        while True:
            self.peak_mb = max(self.peak_mb, children_memory_mb(self.pid))
            if stopping:
                return
            stopping = self._stop.wait(self.interval_s)

    def stop(self):
        """Stops sampling (after one last sample) and returns the peak in MB."""
        self._stop.set()
        self._thread.join()
        return round(self.peak_mb, 1)
