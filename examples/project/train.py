"""Entry point of the MLproject: fit an ElasticNet on scikit-learn's bundled diabetes data.

`mlflow run` creates the run (with the project's source, git commit, entry point and parameters) and passes it
to this script through MLFLOW_RUN_ID, so `start_run()` below continues that run.
"""

from __future__ import annotations

import argparse

import mlflow
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--l1-ratio", type=float, default=0.1)
    args = parser.parse_args()

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42)

    with mlflow.start_run():
        model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42).fit(X_train, y_train)
        predictions = model.predict(X_test)
        rmse = mean_squared_error(y_test, predictions) ** 0.5
        mlflow.log_metrics({"rmse": rmse, "r2": r2_score(y_test, predictions)})
        mlflow.sklearn.log_model(model, name="model", input_example=X_train.head(3))
        print(f"alpha={args.alpha} l1_ratio={args.l1_ratio} rmse={rmse:.2f}")


if __name__ == "__main__":
    main()
