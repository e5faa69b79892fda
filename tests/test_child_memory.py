"""The memory of a run's child processes (harness/child_memory.py), which the training
process's own peak leaves out: real process trees holding known amounts of memory. Each test
measures the tree under a process it starts, so other tests' processes do not count."""
import json
import os
import subprocess
import sys
import time

from alexbench.harness import child_memory

# One process per level of `sizes`: each touches its own block of sizes[0] MB, starts the next
# level, says "ready" once the whole chain below it is, and sleeps.
HOLD = """
import json, subprocess, sys, time
sizes = json.loads(sys.argv[2])
block = bytearray(sizes[0] << 20)
block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not just reserved
if sizes[1:]:
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[1],
                              json.dumps(sizes[1:])], stdout=subprocess.PIPE, text=True)
    child.stdout.readline()
print("ready", flush=True)
time.sleep(60)
"""
INTERPRETER_MB = 40  # what one idle Python interpreter may hold besides its block


def start_tree(*sizes_mb):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, HOLD, json.dumps(sizes_mb)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def kill_tree(proc):
    for pid in child_memory.descendants(proc.pid):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    proc.kill()
    proc.wait()


def test_children_and_grandchildren_are_counted_together():
    root = start_tree(1, 80, 80)
    try:
        assert len(child_memory.descendants(root.pid)) == 2
        total = child_memory.children_memory_mb(root.pid)
        assert 160 <= total < 160 + 2 * INTERPRETER_MB, total  # the root's own memory is not in
    finally:
        kill_tree(root)


def test_the_meter_keeps_the_peak_after_the_children_are_gone():
    root = start_tree(1, 120)
    meter = child_memory.ChildMemoryMeter(root.pid, interval_s=0.05).start()
    time.sleep(0.3)
    [child] = child_memory.descendants(root.pid)
    os.kill(child, 9)
    time.sleep(0.3)
    try:
        assert 120 <= meter.stop() < 120 + INTERPRETER_MB
    finally:
        kill_tree(root)


def test_without_children_the_peak_is_zero():
    root = start_tree(50)
    try:
        meter = child_memory.ChildMemoryMeter(root.pid, interval_s=0.05).start()
        time.sleep(0.2)
        assert meter.stop() == 0.0
    finally:
        kill_tree(root)


def test_the_fallback_without_children_files_finds_the_same_processes(monkeypatch):
    # Kernels built without CONFIG_PROC_CHILDREN have no /proc/PID/task/TID/children.
    root = start_tree(1, 1, 1)
    try:
        expected = sorted(child_memory.descendants(root.pid))
        assert len(expected) == 2
        monkeypatch.setattr(child_memory, "_children_from_task_files", lambda pid: None)
        assert sorted(child_memory.descendants(root.pid)) == expected
    finally:
        kill_tree(root)
