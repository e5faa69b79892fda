"""Pytest fixtures around a real one-node SLURM cluster on localhost (tests/slurm/cluster.py).

For: tests that submit through Snakemake's SLURM executor plugin to real daemons.
- `slurm_cluster`: the node declares two fake GPUs as generic resources (`Gres=gpu:2`).
- `slurm_cluster_without_gpus`: the node declares no GPU gres.
- `slurm_cluster_manager.get(gpus=N)`: the same, for module-scoped fixtures.
Only one cluster runs at a time; asking for the other kind restarts it (about 3 s), so put
tests of one kind together. The cluster is torn down at the end of the session.

Not for: installing packages. The test command runs tests/slurm/install.sh first; here a
machine without the packages (or without root) skips these tests with the reason, unless
ALEXBENCH_SLURM_REQUIRED=1 (CI), which turns the skip into a failure.
"""
import os

import pytest

from slurm.cluster import ClusterStartError, ClusterUnavailable, LocalSlurmCluster


class ClusterManager:
    """Keeps at most one test cluster up, restarting it when a test needs another GPU setting."""

    def __init__(self):
        self.cluster = None

    def get(self, gpus: int) -> LocalSlurmCluster:
        if self.cluster is not None and self.cluster.gpus == gpus:
            return self.cluster
        self.close()
        cluster = LocalSlurmCluster(gpus=gpus)
        try:
            cluster.start()
        except ClusterUnavailable as reason:
            if os.environ.get("ALEXBENCH_SLURM_REQUIRED") == "1":
                pytest.fail(f"SLURM test cluster unavailable (ALEXBENCH_SLURM_REQUIRED=1): {reason}")
            pytest.skip(f"SLURM test cluster unavailable: {reason}")
        except ClusterStartError as error:
            pytest.fail(f"SLURM test cluster did not start: {error}")
        self.cluster = cluster
        return cluster

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None


@pytest.fixture(scope="session")
def slurm_cluster_manager():
    manager = ClusterManager()
    yield manager
    manager.close()


@pytest.fixture
def slurm_cluster(slurm_cluster_manager) -> LocalSlurmCluster:
    """A running one-node cluster whose node has two (fake) GPUs."""
    return slurm_cluster_manager.get(gpus=2)


@pytest.fixture
def slurm_cluster_without_gpus(slurm_cluster_manager) -> LocalSlurmCluster:
    """A running one-node cluster whose node declares no GPU generic resources."""
    return slurm_cluster_manager.get(gpus=0)
