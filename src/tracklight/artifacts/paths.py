"""Artifact paths: the one check that keeps every request inside its artifact root."""

from __future__ import annotations

from tracklight.errors import InvalidParameter


def artifact_path(raw: str | None, *, allow_root: bool = True) -> str:
    """A clean root-relative POSIX path ('' for the root), or a 400 if `raw` could leave the root.

    The ASGI server has already percent-decoded the URL path once; a '%' left in a segment that decodes
    to a separator or '..' is rejected too, so a double-encoded escape cannot reach a store that decodes
    again.
    """
    text = (raw or "").strip()
    # Every refusal reads just "Invalid path": MLflow's text, which clients and tests match exactly.
    if "\\" in text or "\x00" in text or text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise InvalidParameter("Invalid path")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    for part in parts:
        lowered = part.lower()
        if part == ".." or "%2e%2e" in lowered or "%2f" in lowered or "%5c" in lowered:
            raise InvalidParameter("Invalid path")
    if not parts and not allow_root:
        raise InvalidParameter("An artifact path is required")
    return "/".join(parts)


def join(*parts: str) -> str:
    """Join root-relative paths, skipping empty ones."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
