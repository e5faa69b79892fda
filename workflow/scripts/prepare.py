"""Prepare a dataset's verified official files into the framework-neutral .npy form.

    python workflow/scripts/prepare.py --dataset mnist --format idx \
        --downloads resources/downloads/mnist --out resources/prepared/mnist \
        --image-shape 28 28 1 --classes 10 [--max-inflated-mb 2048]

Formats: idx (mnist, fashion_mnist), cifar10-binary, imagenette (variant from --variant or a
dataset name like imagenette-320). Writes train/test images (uint8 NHWC) and labels (int64)
as .npy, then meta.json; see docs/design.md, "Data contract". Files whose images or classes
differ from --image-shape/--classes (config.yaml's datasets block) are refused by name.
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.data.archive import ArchiveError  # noqa: E402
from alexbench.data.official import FORMATS  # noqa: E402
from alexbench.data.prepare import DEFAULT_MAX_INFLATED_MB, DatasetSpec, prepare  # noqa: E402
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
    parser.add_argument("--image-shape", type=int, nargs=3, required=True, metavar=("H", "W", "C"),
                        help="shape of one prepared image, as config.yaml declares it")
    parser.add_argument("--classes", type=int, required=True,
                        help="number of classes, as config.yaml declares it")
    parser.add_argument("--max-inflated-mb", type=int, default=DEFAULT_MAX_INFLATED_MB,
                        help="refuse a download that would inflate to more than this")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        spec = DatasetSpec(tuple(args.image_shape), args.classes, args.max_inflated_mb)
        prepare(args.dataset, args.fmt, args.downloads, args.out, spec, variant=args.variant)
    except (DataFormatError, ArchiveError, ValueError) as exc:
        logging.getLogger("prepare").error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
