"""The examples/ scripts and the deploy/reproduce paths (models serve, mlflow run) against a live server."""
