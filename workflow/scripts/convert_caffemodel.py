"""Convert a downloaded .caffemodel (BVLC AlexNet) into the framework-neutral .npz, once.

    convert_caffemodel.py --caffemodel resources/downloads/weights/bvlc_alexnet.caffemodel \
        --out resources/prepared/weights/bvlc_alexnet.npz

The file is read with alexbench's own protobuf wire-format reader (nothing executed, nothing
unpickled) and refused, naming the layer, unless its layer names, blob counts and shapes match
the expected table. Exit status 1 with that message; no output is left behind then. numpy only.
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.pretrained.caffemodel import CaffeModelError  # noqa: E402
from alexbench.pretrained.convert import convert  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caffemodel", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        convert(args.caffemodel, args.out)
    except (CaffeModelError, OSError) as exc:
        logging.getLogger("convert").error("%s", exc)
        return 1
    logging.getLogger("convert").info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
