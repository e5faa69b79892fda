"""Write a small synthetic dataset in its official file format, for tests and the demo mode.

    python workflow/scripts/synthesize.py --dataset mnist --format idx \
        --out resources/synthetic/mnist --seed 0 [--train-count N --test-count N] [--variant 160|320]

Formats: idx (mnist, fashion_mnist), cifar10-binary, imagenette (variant from --variant or a
dataset name like imagenette-320). Writes the official file names plus SHA256SUMS, last.
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.data.official import FORMATS  # noqa: E402
from alexbench.data.synthetic import synthesize  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="dataset name, e.g. mnist, imagenette-160")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    parser.add_argument("--out", type=Path, required=True, help="folder for the official files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-count", type=int, default=None,
                        help="training images (default 512; imagenette 200)")
    parser.add_argument("--test-count", type=int, default=None,
                        help="test images (default 256; imagenette 200)")
    parser.add_argument("--variant", type=int, default=None,
                        help="imagenette shorter side, 160 or 320 (default: from --dataset)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        synthesize(args.dataset, args.fmt, args.out, seed=args.seed, train_count=args.train_count,
                   test_count=args.test_count, variant=args.variant)
    except ValueError as exc:
        logging.getLogger("synthesize").error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
