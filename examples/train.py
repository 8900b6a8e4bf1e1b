"""Train an iris classifier, track it in Tracklight, register it and point an alias at the new version.

MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python examples/train.py
python examples/train.py --tracking-uri http://127.0.0.1:5000 --C 0.5 --alias champion
"""

from __future__ import annotations

import argparse

import mlflow
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracking-uri", help="Tracklight URL (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--experiment", default="iris-demo", help="experiment name (created if missing)")
    parser.add_argument("--model-name", default="iris-classifier", help="registered model name")
    parser.add_argument("--alias", default="champion", help="alias to set on the new version")
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--max-iter", type=int, default=200)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment(args.experiment)

    X, y = load_iris(return_X_y=True, as_frame=True)  # bundled with scikit-learn: no download
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42, stratify=y)

    params = {"C": args.C, "max_iter": args.max_iter, "random_state": 42}
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        model = LogisticRegression(**params).fit(X_train, y_train)

        predictions = model.predict(X_test)
        mlflow.log_metrics(
            {
                "accuracy": accuracy_score(y_test, predictions),
                "f1_macro": f1_score(y_test, predictions, average="macro"),
            }
        )

        # Logging with registered_model_name= also creates the next version of that registered model.
        model_info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X_train, model.predict(X_train)),
            input_example=X_train.head(3),
            registered_model_name=args.model_name,
        )

    version = model_info.registered_model_version
    mlflow.MlflowClient().set_registered_model_alias(args.model_name, args.alias, str(version))

    print(f"run_id: {run.info.run_id}")
    print(f"registered: {args.model_name} version {version}, alias {args.alias!r}")
    print(f"model_uri: models:/{args.model_name}@{args.alias}")


if __name__ == "__main__":
    main()
