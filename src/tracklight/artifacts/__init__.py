"""Artifact storage: one interface over local disk, S3, GCS and Azure Blob, streaming in bounded memory."""
