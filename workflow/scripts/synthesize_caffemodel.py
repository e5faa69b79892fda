"""Write a synthetic BVLC AlexNet .caffemodel (seeded random weights, the real wire format and
layer table) and its SHA1SUMS, for the offline demo and the tests.

    synthesize_caffemodel.py --out resources/synthetic/weights --file bvlc_alexnet.caffemodel --seed 0

The file is a V1-format NetParameter (`layers`, legacy 4-D blob shapes), as the published 2014
model is. SHA1SUMS (sha1sum format; sha1 is the digest kind the model zoo publishes) is written
last. numpy only.
"""
import argparse
import hashlib
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.common import atomic_files  # noqa: E402
from alexbench.pretrained.caffemodel import synthetic_layers, write_caffemodel  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the file and SHA1SUMS")
    parser.add_argument("--file", default="bvlc_alexnet.caffemodel")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    path = write_caffemodel(args.out / args.file, synthetic_layers(args.seed))
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    atomic_files.write_text(args.out / "SHA1SUMS", f"{digest.hexdigest()}  {args.file}\n")
    logging.getLogger("synthesize").info("wrote %s (sha1 %s)", path, digest.hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
