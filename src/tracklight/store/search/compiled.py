"""Statements compiled once to driver SQL and run straight on the driver's cursor.

The hot reads (runs/search, traces/search, loading runs) have a fixed shape per request kind, so
building the SQLAlchemy construct, computing its cache key, wrapping every row in a Row object, and
even exec_driver_sql's result set-up (~85 µs a statement), on each request is pure overhead. A
CompiledQuery keeps the driver's SQL text and parameter order; each call binds the per-request
values by name and gets plain tuples back.

Only plain ints, floats and strings are bound (no type needs a bind processor), and the values of
expanding parameters are rendered into the SQL as individual placeholders at compile time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from tracklight.store import driver


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    sql: str
    names: tuple[str, ...] | None  # parameter order for positional paramstyles; None for named ones
    defaults: dict[str, Any]  # values fixed at compile time (filter values, literals)

    @classmethod
    def of(cls, stmt: sa.Executable, dialect: Dialect) -> CompiledQuery:
        """Compile `stmt`; bind parameters left for each call must be given a placeholder value."""
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        names = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        return cls(compiled.string, names, dict(compiled.params))

    def fetch(self, conn: sa.Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """All rows, as the driver's tuples, with `values` bound over the compiled-in defaults."""
        params = {**self.defaults, **values}
        args: Any = params if self.names is None else tuple([params[n] for n in self.names])
        return driver.native_rows(conn, self.sql, args)
