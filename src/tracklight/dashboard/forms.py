"""Form posts from the pages: apply the change, then go back to the page, or show it again with the refusal."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import RedirectResponse, Response

from tracklight.errors import TracklightError


def apply_form(action: Callable[[], object], done_url: str, refused: Callable[[str], Response]) -> Response:
    """Run `action`; a refused change (a domain error) re-renders the page with its message instead."""
    try:
        action()
    except TracklightError as exc:
        return refused(exc.message)
    return RedirectResponse(done_url, status_code=303)
