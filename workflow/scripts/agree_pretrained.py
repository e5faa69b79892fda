"""Compare the frameworks' logits on the same published weights and inputs (top-1 identical,
relative logit difference) and write the agreement as JSON.

    agree_pretrained.py --logits results/pretrained/{pytorch,keras,gluon}/imagenette-320/alexnet-2012/cpu/logits.npy \
        --out results/pretrained/agreement/imagenette-320/alexnet-2012/cpu.json

The framework of each file is read from its path. Runs in the report env (numpy only).
"""
import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.common import atomic_files  # noqa: E402
from alexbench.pretrained.agreement import compare_files  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logits", nargs="+", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        result = compare_files(args.logits)
    except (OSError, ValueError) as exc:
        logging.getLogger("agreement").error("%s", exc)
        return 1
    atomic_files.write_text(args.out, json.dumps(result, indent=2) + "\n")
    logging.getLogger("agreement").info(
        "identical top-1 %.4f, max relative logit difference %.2e: %s", result["identical_top1_min"],
        result["max_relative_difference"], "agree" if result["agree"] else "DISAGREE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
