"""The training job's own check that its precision can run here, before the framework loads.

The workflow checked the machine that built the DAG (precision_plan.py); a cluster node may
differ, so a bf16 job re-checks its own CPU flags or GPU compute capability and stops with the
same message instead of timing a slow emulation. Stdlib only (runs before any framework import).
"""
from alexbench.common import hardware, registry


class PrecisionUnsupportedError(RuntimeError):
    """This machine cannot train the run's precision natively, or the combination is refused."""


def check_supported(framework: str, model: str, hardware_kind: str, precision: str) -> None:
    refused = registry.refused_precision(framework, model, hardware_kind, precision)
    if refused:
        raise PrecisionUnsupportedError(f"{framework} {model} on {hardware_kind} in {precision}: "
                                        f"{refused}")
    if registry.precision(precision).needs_native:
        problem = hardware.bf16_support_problem(hardware_kind)
        if problem:
            raise PrecisionUnsupportedError(problem)
