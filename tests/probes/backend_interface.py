"""Probe for tests/test_backends.py: how a framework's backend differs from the declared interface
(alexbench/common/backend.py). Prints one JSON line: the framework and its list of problems."""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.common import backend, registry  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", required=True, choices=registry.framework_names())
    args = parser.parse_args()
    import importlib
    module = importlib.import_module(registry.framework(args.framework).loop_module)
    print(json.dumps({"framework": module.FRAMEWORK, "problems": backend.interface_problems(module)}))


if __name__ == "__main__":
    main()
