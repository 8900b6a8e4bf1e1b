"""The links of a sorted, keyset-paged dashboard table: next and previous pages, a header's sort."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class SortedPagesView:
    """Shared by the runs and traces tables; a view keeps the earlier pages' tokens in `back`."""

    __slots__ = ()
    default_sort: ClassVar[str]
    sort: str
    descending: bool
    page_token: str
    back: list[str]

    def query(self, back: Sequence[str] = (), **changes: object) -> list[tuple[str, object]]:
        raise NotImplementedError

    def next_query(self, token: str) -> list[tuple[str, object]]:
        """The next page: this page's token joins the stack the previous link pops."""
        return self.query(page=token, back=[*self.back, self.page_token] if self.page_token else [])

    def previous_query(self) -> list[tuple[str, object]]:
        if not self.back:
            return self.query()
        return self.query(page=self.back[-1], back=self.back[:-1])

    def sort_query(self, column: str) -> list[tuple[str, object]]:
        """Clicking a header: sort by it, or flip the direction when it already sorts."""
        if column == self.sort:
            return self.query(dir="" if not self.descending else "asc")
        return self.query(sort=column if column != self.default_sort else "", dir="")

    def aria_sort(self, column: str) -> str:
        if column != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"
