"""Prepare a dataset's verified official files into the framework-neutral .npy form.

    python workflow/scripts/prepare.py --dataset mnist --format idx \
        --downloads resources/downloads/mnist --out resources/prepared/mnist

Formats: idx (mnist, fashion_mnist), cifar10-binary, imagenette (variant from --variant or a
dataset name like imagenette-320). Writes train/test images (uint8 NHWC) and labels (int64)
as .npy, then meta.json; see docs/design.md, "Data contract".
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.data.archive import ArchiveError  # noqa: E402
from alexbench.data.official import FORMATS  # noqa: E402
from alexbench.data.prepare import prepare  # noqa: E402
from alexbench.data.readers import DataFormatError  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="dataset name, e.g. mnist, imagenette-320")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    parser.add_argument("--downloads", type=Path, required=True,
                        help="folder holding the official files")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (replaced whole)")
    parser.add_argument("--variant", type=int, default=None,
                        help="imagenette shorter side, 160 or 320 (default: from --dataset)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        prepare(args.dataset, args.fmt, args.downloads, args.out, variant=args.variant)
    except (DataFormatError, ArchiveError, ValueError) as exc:
        logging.getLogger("prepare").error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
