"""Which runs of the table can train in their precision here, decided when the DAG is built.

Two reasons stop a run (docs/precision.md): the registry refuses its framework x model x hardware
in that precision (registry.refused_precision, with the evidence in its words), or its precision
needs native hardware support that this machine lacks (common/hardware.bf16_support_problem:
CPU flags avx512_bf16/amx_bf16, GPU compute capability >= 8.0). A full run stops naming every
such combination; the demo leaves those runs out and says why in the report (results/config.json
`skipped_precisions`), as it does for experiments that do not fit in memory (memory_fit.py).

Used by workflow/rules/common.smk at parse time; the training job checks the hardware again
(harness/run.py), since a cluster node may differ from the machine that built the DAG. Stdlib only.
"""
from __future__ import annotations

from alexbench.common import registry


class PrecisionError(ValueError):
    """Runs that cannot train in their precision here; the message names each and why."""


def _why(run, support_problem, asked: dict):
    """(what, why) when `run` cannot train here, else None; `asked` caches support_problem per
    hardware kind (nvidia-smi is slow)."""
    reason = registry.refused_precision(run.framework, run.model, run.hardware, run.precision)
    if reason is not None:
        return f"{run.framework} {run.model} on {run.hardware} in {run.precision}", reason
    if registry.precision(run.precision).needs_native:
        if run.hardware not in asked:
            asked[run.hardware] = support_problem(run.hardware)
        if asked[run.hardware] is not None:
            return f"{run.precision} on {run.hardware}", asked[run.hardware]
    return None


def apply(runs, demo: bool, support_problem):
    """(runs that can train, {what: why} left out). Outside the demo anything blocked raises
    PrecisionError naming each combination and the --config way out.

    support_problem(hardware_kind) -> message or None (hardware.bf16_support_problem); asked
    once per hardware kind, and only for precisions that need native support.
    """
    asked, kept, reasons = {}, [], {}
    for run in runs:
        blocked = _why(run, support_problem, asked)
        if blocked is None:
            kept.append(run)
        else:
            reasons.setdefault(*blocked)
    if not reasons:
        return kept, {}
    if not demo or not kept:  # the demo leaves runs out, but not every run
        raise PrecisionError(
            "; ".join(f"{what}: {why}" for what, why in reasons.items())
            + ". Choose precisions per experiment (precision: [fp32]) or for all of them with "
            "--config precision=[fp32].")
    return kept, {what: f"left out: {why}" for what, why in reasons.items()}
