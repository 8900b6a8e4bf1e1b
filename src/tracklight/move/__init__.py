"""Moving a store between Tracklight and MLflow."""
