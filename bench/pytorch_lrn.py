"""Benchmark: what do a variant's LRN layers cost PyTorch, eager and through torch.compile?

PyTorch has no fused LRN kernel: F.local_response_norm (fw_pytorch/lrn.py) runs as separate
operations (square, pad, 3-D average pool, power, divide), each with its own backward pass, and
torch.compile's Inductor fuses them. This times only the variant's LRN layers, forward and
backward, on random input of their shapes (layer_specs), both ways, alternating in one process,
with the harness's threads; compile time is excluded (two warm-up passes each). Hold its
milliseconds against the whole step's (bench/idiomatic.py --compilers) to see LRN's share.

    .venvs/pytorch-cpu/bin/python bench/pytorch_lrn.py --variant alexnet-lrn-32 --batch-size 64 \
        --threads 2 --rounds 6
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from alexbench.common import layer_specs, registry  # noqa: E402  (stdlib only)
from alexbench.harness import runtime  # noqa: E402

BATCHES_PER_ROUND = 32


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="alexnet-lrn-32", choices=registry.MODELS)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    runtime.set_runtime_env(args.threads, deterministic=False)  # before torch is imported

    import torch
    from alexbench.fw_pytorch.lrn import LocalResponseNorm

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers = [(r.layer, r.input_shape) for r in layer_specs.resolve(args.variant, 10)
              if isinstance(r.layer, layer_specs.LRN)]
    if not layers:
        raise SystemExit(f"{args.variant} has no LRN layer")
    eager = [LocalResponseNorm(s.depth_radius, s.bias, s.alpha, s.beta) for s, _ in layers]
    compiled = [torch.compile(module) for module in eager]
    inputs = [torch.randn(args.batch_size, c, h, w, requires_grad=True)
              for _, (h, w, c) in layers]

    def one_batch(modules):
        for module, x in zip(modules, inputs):
            module(x).sum().backward()

    ways = {"eager": eager, "torch.compile": compiled}
    for modules in ways.values():  # compiles, and warms the caches
        one_batch(modules)
        one_batch(modules)
    ms = {name: [] for name in ways}
    names = list(ways)
    for round_ in range(args.rounds):
        for name in names[round_ % 2:] + names[:round_ % 2]:
            start = time.perf_counter()
            for _ in range(BATCHES_PER_ROUND):
                one_batch(ways[name])
            ms[name].append(1e3 * (time.perf_counter() - start) / BATCHES_PER_ROUND)
    median = {name: statistics.median(values) for name, values in ms.items()}
    shapes = ", ".join(f"{s.name} {h}x{w}x{c}" for s, (h, w, c) in layers)
    print(f"{args.variant} LRN layers ({shapes}), batch {args.batch_size}, forward + backward, "
          f"{args.threads} threads, median of {args.rounds} rounds of {BATCHES_PER_ROUND} batches:")
    for name in names:
        print(f"  {name:<14}{median[name]:8.1f} ms per batch  (rounds "
              f"{min(ms[name]):.1f}-{max(ms[name]):.1f})")
    print(f"  torch.compile / eager time: {median['torch.compile'] / median['eager']:.2f}")


if __name__ == "__main__":
    main()
