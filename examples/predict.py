"""Load a registered model by alias from Tracklight and predict a few iris flowers.

MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python examples/predict.py
python examples/predict.py --tracking-uri http://127.0.0.1:5000 --model-uri models:/iris-classifier@champion
"""

from __future__ import annotations

import argparse

import mlflow
import numpy as np
from sklearn.datasets import load_iris


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracking-uri", help="Tracklight URL (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--model-uri", default="models:/iris-classifier@champion")
    parser.add_argument(
        "--rows", type=int, default=6, help="how many flowers to score (spread over the classes)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)

    model = mlflow.pyfunc.load_model(args.model_uri)

    iris = load_iris(as_frame=True)
    rows = np.linspace(0, len(iris.frame) - 1, args.rows).astype(int)
    X = iris.data.iloc[rows]

    predicted = np.asarray(model.predict(X))
    result = X.assign(
        predicted=iris.target_names[predicted], actual=iris.target_names[iris.target.iloc[rows]]
    )
    print(f"model: {args.model_uri}")
    print(result.to_string())


if __name__ == "__main__":
    main()
