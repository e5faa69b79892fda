"""Energy of the training loop, from a hardware counter or not at all.

- gpu runs: NVML's total energy counter of the run's GPU (`nvmlDeviceGetTotalEnergyConsumption`,
  millijoules since the driver loaded; Volta and newer), read at the start and end of the loop.
- cpu runs: RAPL package energy from Linux's powercap tree (`/sys/class/powercap/intel-rapl:N/
  energy_uj`, one zone per CPU package, AMD included), summed over packages. The counters wrap
  (at `max_energy_range_uj`, minutes to hours at full load), so a background thread samples them
  every few seconds and adds up the increments.

When there is no counter (most VMs have no powercap zones, energy_uj is root-only since Linux
5.10, a GPU older than Volta, nvidia-ml-py missing) the result is `joules: null` with the reason:
never an estimate from TDP or utilisation. Both counters measure the whole device: the GPU a run
owns (one per run, see the workflow's `gpu` resource), or the whole CPU package(s) including
other processes and idle cores, which metrics.json says in `scope`.

Standard library only; `pynvml` (nvidia-ml-py, in the GPU envs) is imported only for gpu runs,
and tests pass a fake in its place (`nvml=`) and a fake powercap folder (`powercap=`).
Harness use: `meter = start_meter(hardware)`, `meter.mark_target()` when the target accuracy is
reached, `meter.stop()` after the loop, then `meter.document()` into metrics.json's `energy`.
"""
import os
import threading
from pathlib import Path

POWERCAP = Path("/sys/class/powercap")
SAMPLE_INTERVAL_S = 5.0


class Unavailable(Exception):
    """No counter: the message is the reason recorded in metrics.json."""


class _Meter:
    """Common bookkeeping: joules at stop and at the target, the source and its scope."""
    source = None
    scope = None

    def __init__(self):
        self.joules = None
        self.to_target_joules = None
        self.failure = None  # a counter that stopped answering mid-run: no figure, and why

    def read_joules(self) -> float:  # energy since start
        raise NotImplementedError

    def _read(self):
        # A broken counter must not fail a finished training run: record why instead.
        if self.failure is not None:
            return None
        try:
            return self.read_joules()
        except Exception as e:
            self.failure = f"{self.source} counter read failed during the run: {e}"
            return None

    def mark_target(self) -> None:
        if self.to_target_joules is None:
            self.to_target_joules = self._read()

    def stop(self) -> None:
        self.joules = self._read()

    def document(self) -> dict:
        if self.failure is not None:
            return {"joules": None, "to_target_joules": None, "source": self.source,
                    "scope": self.scope, "reason": self.failure}
        return {"joules": self.joules, "to_target_joules": self.to_target_joules,
                "source": self.source, "scope": self.scope, "reason": None}


class NoMeter(_Meter):
    """Stands in where no counter exists; records why."""

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason

    def mark_target(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def document(self) -> dict:
        return {"joules": None, "to_target_joules": None, "source": None, "scope": None,
                "reason": self.reason}


# --- NVML --------------------------------------------------------------------------------------

def _visible_gpu(environ) -> str:
    """The first GPU the framework sees: CUDA_VISIBLE_DEVICES' first entry (index or UUID), else 0."""
    visible = (environ.get("CUDA_VISIBLE_DEVICES") or "").split(",")[0].strip()
    return visible or "0"


class NvmlMeter(_Meter):
    source = "nvml"

    def __init__(self, nvml, environ=os.environ):
        super().__init__()
        self.nvml = nvml
        try:
            nvml.nvmlInit()
        except Exception as e:  # NVMLError and its subclasses, e.g. driver not loaded
            raise Unavailable(f"NVML did not start: {e}") from e
        try:
            visible = _visible_gpu(environ)
            self.handle = (nvml.nvmlDeviceGetHandleByIndex(int(visible)) if visible.isdigit()
                           else nvml.nvmlDeviceGetHandleByUUID(visible))
            name = nvml.nvmlDeviceGetName(self.handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            self.scope = f"the whole GPU {visible} ({name}), all processes on it"
            self.start_mj = nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except Exception as e:
            self._shutdown()
            raise Unavailable(f"NVML has no energy counter for this GPU: {e}") from e

    def read_joules(self) -> float:
        return (self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self.start_mj) / 1000.0

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:
            pass  # shutting down a half-started NVML: nothing left to release


# --- RAPL ------------------------------------------------------------------------------------

def package_zones(powercap: Path) -> list[Path]:
    """Top-level RAPL zones of CPU packages (intel-rapl:0, intel-rapl:1, ...; not their
    core/uncore/dram subzones intel-rapl:0:0)."""
    zones = []
    for zone in sorted(Path(powercap).glob("intel-rapl:*")):
        if zone.name.count(":") != 1:
            continue
        name_file = zone / "name"
        name = name_file.read_text().strip() if name_file.exists() else ""
        if name.startswith("package"):
            zones.append(zone)
    return zones


class RaplMeter(_Meter):
    source = "rapl"

    def __init__(self, powercap: Path = POWERCAP, interval_s: float | None = SAMPLE_INTERVAL_S):
        super().__init__()
        zones = package_zones(powercap)
        if not zones:
            raise Unavailable(f"no RAPL package zone under {powercap} (virtual machines and "
                              "containers usually have none)")
        self.zones = zones
        self.scope = ("CPU package(s) " + ", ".join(z.name for z in zones)
                      + ": every core and process on them, not only this run")
        try:
            self.ranges = [int((z / "max_energy_range_uj").read_text()) for z in zones]
            self.last = [int((z / "energy_uj").read_text()) for z in zones]
        except PermissionError as e:
            raise Unavailable(f"{e.filename} is not readable (RAPL counters are root-only since "
                              "Linux 5.10)") from e
        except (OSError, ValueError) as e:
            raise Unavailable(f"RAPL counter unreadable: {e}") from e
        self.total_uj = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = None
        if interval_s:
            self.thread = threading.Thread(target=self._sample_every, args=(interval_s,),
                                           name="rapl-sampler", daemon=True)
            self.thread.start()

    def sample(self) -> None:
        """Add every package's increment since the last sample, across at most one wrap."""
        with self.lock:
            for i, zone in enumerate(self.zones):
                now = int((zone / "energy_uj").read_text())
                delta = now - self.last[i]
                if delta < 0:  # the counter wrapped at max_energy_range_uj
                    delta += self.ranges[i] + 1
                self.total_uj += delta
                self.last[i] = now

    def _sample_every(self, interval_s: float) -> None:
        while not self.done.wait(interval_s):
            try:
                self.sample()
            except (OSError, ValueError) as e:
                self.failure = f"rapl counter read failed during the run: {e}"
                return

    def read_joules(self) -> float:
        self.sample()
        with self.lock:
            return self.total_uj / 1e6

    def stop(self) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join()
        super().stop()


def start_meter(hardware: str, nvml=None, powercap: Path = POWERCAP, environ=os.environ,
                interval_s: float | None = SAMPLE_INTERVAL_S) -> _Meter:
    """The meter for a run on `hardware` ('gpu': NVML, 'cpu': RAPL), started now; a NoMeter
    with the reason when the counter is not there. Never raises for a missing counter."""
    try:
        if hardware == "gpu":
            if nvml is None:
                try:
                    import pynvml as nvml
                except ImportError as e:
                    raise Unavailable(f"nvidia-ml-py is not installed in this env ({e})") from e
            return NvmlMeter(nvml, environ)
        return RaplMeter(powercap, interval_s)
    except Unavailable as e:
        return NoMeter(str(e))
