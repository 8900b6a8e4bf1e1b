"""Tracklight: an experiment tracking server that the stock mlflow client talks to unchanged."""

__version__ = "0.1.0"
