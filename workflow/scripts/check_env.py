"""Prove that a job environment works: import its framework and run one forward pass.

Run by build_venv.py inside the freshly built venv (and by tests). Prints one line of JSON:
the framework's version and the output shape of a tiny convolutional network, from the
backend's `check_environment` (alexbench/common/registry.py names the backend of each env).
"""
import argparse
import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.common import registry  # noqa: E402


def check_report():
    import numpy as np
    import pandas
    import PIL
    import seaborn
    return f"pandas {pandas.__version__}, seaborn {seaborn.__version__}, pillow {PIL.__version__}", \
        np.zeros((2, 3)).shape


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", required=True, choices=registry.job_envs(),
                        help="env name such as keras-cpu or report")
    args = parser.parse_args(argv)
    framework = registry.framework_of_env(args.env)
    if framework is None:
        version, shape = check_report()
    else:  # the backend's own check: a new framework brings its check with it
        version, shape = importlib.import_module(framework.loop_module).check_environment()
    print(json.dumps({"env": args.env, "version": version, "output_shape": list(shape)}))


if __name__ == "__main__":
    main()
