"""The MLflow wire protocol: routes, request parsing, JSON encoding and error mapping."""
