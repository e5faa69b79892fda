"""Prove that a job environment works: import its framework and run one forward pass.

Run by build_venv.py inside the freshly built venv (and by tests). Prints one line of JSON:
the framework's version and the output shape of a tiny convolutional network.
"""
import argparse
import json


def check_keras():
    import numpy as np
    import keras
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    out = model(np.zeros((2, 8, 8, 1), "float32"))
    return keras.__version__, tuple(out.shape)


def check_pytorch():
    import torch
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(72, 3))
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 8, 8))
    return torch.__version__, tuple(out.shape)


def check_gluon():
    import mxnet as mx
    from mxnet.gluon import nn
    model = nn.HybridSequential()
    model.add(nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(3))
    model.initialize()
    out = model(mx.nd.zeros((2, 1, 8, 8)))
    return mx.__version__, tuple(out.shape)


def check_report():
    import numpy as np
    import pandas
    import PIL
    import seaborn
    return f"pandas {pandas.__version__}, seaborn {seaborn.__version__}, pillow {PIL.__version__}", \
        np.zeros((2, 3)).shape


def check_export():
    import mlflow
    import sqlalchemy
    from mlflow.tracking import MlflowClient  # noqa: F401  (the client the export drives)
    return f"mlflow {mlflow.__version__}, sqlalchemy {sqlalchemy.__version__}", ()


CHECKS = {"keras": check_keras, "pytorch": check_pytorch, "gluon": check_gluon, "report": check_report,
          "export": check_export}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", required=True,
                        help="env name such as keras-cpu or report; the part before '-' picks the check")
    args = parser.parse_args(argv)
    version, shape = CHECKS[args.env.split("-")[0]]()
    print(json.dumps({"env": args.env, "version": version, "output_shape": list(shape)}))


if __name__ == "__main__":
    main()
