"""Moving a store between MLflow and Tracklight: importers, exporters and the records they exchange."""
