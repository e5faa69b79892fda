"""Energy from real counters only (alexbench.common.energy): RAPL read from a powercap tree laid
out as Linux lays it out (a temporary folder here; the real one is root-only or absent in VMs),
NVML through an object with pynvml's names (the library cannot run without an NVIDIA driver)."""
import json
import os

import jsonschema
import pytest

from alexbench.common import energy, run_contract

ENERGY_SCHEMA = json.loads(run_contract.METRICS_SCHEMA.read_text())["properties"]["energy"]


def zone(root, name, label, energy_uj, max_range=262143328850):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "name").write_text(label + "\n")
    (folder / "energy_uj").write_text(f"{energy_uj}\n")
    (folder / "max_energy_range_uj").write_text(f"{max_range}\n")
    return folder


def set_energy(folder, value):
    (folder / "energy_uj").write_text(f"{value}\n")


@pytest.fixture
def powercap(tmp_path):
    root = tmp_path / "powercap"
    pkg0 = zone(root, "intel-rapl:0", "package-0", 1_000_000)
    pkg1 = zone(root, "intel-rapl:1", "package-1", 5_000_000, max_range=10_000_000)
    core = zone(root, "intel-rapl:0:0", "core", 0)          # a subzone: not counted again
    dram = zone(root, "intel-rapl:0:1", "dram", 0)
    return root, pkg0, pkg1, core, dram


def test_rapl_sums_packages_across_a_wrap_and_marks_the_target(powercap):
    root, pkg0, pkg1, core, dram = powercap
    meter = energy.start_meter("cpu", powercap=root, interval_s=None)
    assert isinstance(meter, energy.RaplMeter) and [z.name for z in meter.zones] == ["intel-rapl:0", "intel-rapl:1"]
    set_energy(pkg0, 3_000_000)                  # +2 J
    set_energy(pkg1, 9_000_000)                  # +4 J
    set_energy(core, 99_000_000)
    meter.sample()
    set_energy(pkg1, 1_000_000)                  # wrapped at 10 J: +1 J + 1 µJ + 1 J
    meter.mark_target()
    set_energy(pkg0, 4_500_000)                  # +1.5 J
    meter.stop()
    doc = meter.document()
    jsonschema.validate(doc, ENERGY_SCHEMA)
    assert doc["to_target_joules"] == pytest.approx(2 + 4 + 2.000001)
    assert doc["joules"] == pytest.approx(2 + 4 + 2.000001 + 1.5)
    assert doc["source"] == "rapl" and doc["reason"] is None
    assert "intel-rapl:0, intel-rapl:1" in doc["scope"] and "not only this run" in doc["scope"]


def test_rapl_sampler_thread_accumulates_between_reads(powercap):
    root, pkg0, *_ = powercap
    meter = energy.start_meter("cpu", powercap=root, interval_s=0.01)
    set_energy(pkg0, 2_000_000)
    meter.stop()
    assert meter.document()["joules"] == pytest.approx(1.0)
    assert not meter.thread.is_alive()


def test_no_powercap_zone_gives_null_and_the_reason(tmp_path):
    doc = energy.start_meter("cpu", powercap=tmp_path / "absent").document()
    jsonschema.validate(doc, ENERGY_SCHEMA)
    assert doc["joules"] is None and doc["source"] is None
    assert doc["reason"].startswith("no RAPL package zone under")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_rapl_counter_gives_null_and_the_reason(powercap):
    root, pkg0, *_ = powercap
    (pkg0 / "energy_uj").chmod(0)
    doc = energy.start_meter("cpu", powercap=root).document()
    assert doc["joules"] is None and "root-only" in doc["reason"]


def test_a_counter_that_breaks_mid_run_gives_null_not_a_failed_run(powercap):
    root, pkg0, *_ = powercap
    meter = energy.start_meter("cpu", powercap=root, interval_s=None)
    (pkg0 / "energy_uj").unlink()
    meter.stop()
    doc = meter.document()
    assert doc["joules"] is None and doc["reason"].startswith("rapl counter read failed during the run")


class FakeNVMLError(Exception):
    pass


class FakeNVML:
    """pynvml's names, backed by a counter the test moves (millijoules, like the real one)."""
    NVMLError = FakeNVMLError

    def __init__(self, supported=True, init_error=None):
        self.supported, self.init_error = supported, init_error
        self.energy_mj = {0: 10_000, 1: 50_000_000}
        self.calls = []

    def nvmlInit(self):
        if self.init_error:
            raise FakeNVMLError(self.init_error)
        self.calls.append("init")

    def nvmlShutdown(self):
        self.calls.append("shutdown")

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return {"GPU-8f1e": 1}[uuid]

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA H200"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.supported:
            raise FakeNVMLError("Not Supported")
        return self.energy_mj[handle]


def test_nvml_energy_of_the_visible_gpu_in_joules():
    nvml = FakeNVML()
    meter = energy.start_meter("gpu", nvml=nvml, environ={"CUDA_VISIBLE_DEVICES": "GPU-8f1e,GPU-0000"})
    nvml.energy_mj[1] += 120_500                 # GPU 1 (the visible one) used 120.5 J
    nvml.energy_mj[0] += 999_999                 # another GPU: not ours
    meter.mark_target()
    nvml.energy_mj[1] += 30_000
    meter.stop()
    doc = meter.document()
    jsonschema.validate(doc, ENERGY_SCHEMA)
    assert doc == {"joules": 150.5, "to_target_joules": 120.5, "source": "nvml",
                   "scope": "the whole GPU GPU-8f1e (NVIDIA H200), all processes on it", "reason": None}
    assert nvml.calls == ["init", "shutdown"]
    index_meter = energy.start_meter("gpu", nvml=FakeNVML(), environ={})
    assert index_meter.handle == 0


@pytest.mark.parametrize("nvml, reason", [(FakeNVML(supported=False), "NVML has no energy counter for this GPU: Not Supported"),
                                          (FakeNVML(init_error="Driver Not Loaded"), "NVML did not start: Driver Not Loaded")])
def test_nvml_without_a_counter_gives_null_and_the_reason(nvml, reason):
    doc = energy.start_meter("gpu", nvml=nvml, environ={}).document()
    jsonschema.validate(doc, ENERGY_SCHEMA)
    assert doc["joules"] is None and doc["reason"] == reason


def test_nvml_missing_from_the_env_gives_null_and_the_reason():
    # This pytest process has no nvidia-ml-py, like the CPU envs.
    try:
        import pynvml  # noqa: F401
        pytest.skip("pynvml is installed here")
    except ImportError:
        pass
    doc = energy.start_meter("gpu", environ={}).document()
    assert doc["joules"] is None and doc["reason"].startswith("nvidia-ml-py is not installed")
