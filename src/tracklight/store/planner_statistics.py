"""PostgreSQL: analyze the tables runs/search is planned over when they have no statistics, or have changed much since their last."""

from __future__ import annotations

import logging
import threading
import time
import weakref

from sqlalchemy.engine import Engine

log = logging.getLogger("tracklight.store")

# What runs/search reads (the runs, their keyed data, their inputs). Not `metrics`, the points: the
# search never reads it, and it is by far the largest table.
TABLES = ("experiments", "runs", "params", "run_tags", "metric_series", "run_inputs", "datasets")
# A search looks again at most this often (per process and database): autovacuum's default naptime,
# so under heavy writes (every logged metric updates its series' row) tables are analyzed no more
# often than autovacuum would. The look is one catalog query, in a thread of its own.
CHECK_EVERY_S = 60.0
# Autovacuum's default rule (autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x rows),
# so a database whose autovacuum keeps up sees nothing more from us than a few catalog queries.
_THRESHOLD_ROWS, _SCALE = 50, 0.1
# Held while analyzing, so the workers of one server (or several servers) do not all do it at once.
_ADVISORY_KEY = 0x54_4C_53_54_41_54  # "TLSTAT"

# Why: on tables that have never been analyzed PostgreSQL takes an experiment for one run and plans
# runs/search as a loop with an index probe per run into each filter and sort key's table (3,000
# probes for a 2,000-run experiment); with statistics it hashes those tables' rows for the key, which
# is several times cheaper there. No form of the statement is cheap under both beliefs (see
# bench/README.md, "Filtered search alone"), so the statistics are made to exist. Autovacuum does
# this a minute or so after a bulk load when it is on; a restored or copied database, a server with
# autovacuum off, or a store searched right after a large import have none until then.
_DUE = f"""
SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.relid IN ({", ".join(f"to_regclass('{t}')" for t in TABLES)})
  AND ((s.last_analyze IS NULL AND s.last_autoanalyze IS NULL AND pg_relation_size(s.relid) > 0)
       OR s.n_mod_since_analyze > {_THRESHOLD_ROWS} + {_SCALE} * greatest(c.reltuples, 0))
"""  # noqa: S608 - only our own constants are interpolated


class _Watch:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_check = 0.0  # monotonic
        self.running = False


_watches: weakref.WeakKeyDictionary[Engine, _Watch] = weakref.WeakKeyDictionary()
_watches_lock = threading.Lock()


def keep_fresh(engine: Engine) -> None:
    """Note a search on `engine`: on PostgreSQL, at most every CHECK_EVERY_S, look in a background
    thread for search tables without statistics (or with many changes since) and analyze those.

    Returns at once; the search that calls it is planned on whatever statistics exist now.
    """
    if engine.dialect.name != "postgresql":
        return
    watch = _watches.get(engine)
    if watch is None:
        with _watches_lock:
            watch = _watches.setdefault(engine, _Watch())
    now = time.monotonic()
    if now < watch.next_check:
        return
    with watch.lock:
        if now < watch.next_check or watch.running:
            return
        watch.next_check = now + CHECK_EVERY_S
        watch.running = True
    threading.Thread(target=_refresh, args=(engine, watch), name="tracklight-analyze", daemon=True).start()


def due_tables(engine: Engine) -> list[str]:
    """The search tables that have no statistics (and hold rows) or have changed much since."""
    with engine.connect() as conn:
        return sorted(str(r[0]) for r in conn.exec_driver_sql(_DUE))


def _refresh(engine: Engine, watch: _Watch) -> None:
    try:
        due = due_tables(engine)
        if not due:
            return
        with engine.begin() as conn:
            if not conn.exec_driver_sql("SELECT pg_try_advisory_xact_lock(%s)", (_ADVISORY_KEY,)).scalar():
                return  # another worker is at it
            quote = engine.dialect.identifier_preparer.quote
            started = time.monotonic()
            conn.exec_driver_sql(f"ANALYZE {', '.join(quote(t) for t in due)}")
        log.info("analyzed %s in %.0f ms", ", ".join(due), (time.monotonic() - started) * 1000)
    except Exception as exc:  # noqa: BLE001 - an optimisation: the search works without it
        log.warning("could not analyze the search tables: %s", exc)
    finally:
        with watch.lock:
            watch.running = False
