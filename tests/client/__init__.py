"""Stock-client suite: the unmodified mlflow client (3.x and 2.22) against a real tracklight server."""
