"""Queries on MLflow 3 registered scorers: the scorer rows, their numbered versions and online configurations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from tracklight.store import schema as s
from tracklight.store.dialect import insert_ignore

_CHUNK = 500  # keeps IN lists well inside every database's parameter limit

_sc = s.scorers.c
_ver = s.scorer_versions.c
_cfg = s.online_scoring_configs.c


@dataclass(slots=True)
class ScorerVersion:
    """One registered version of a scorer, with its scorer's identity."""

    scorer_id: str
    experiment_id: int
    name: str
    version: int
    serialized_scorer: str
    creation_time: int


@dataclass(slots=True)
class OnlineScoringConfig:
    config_id: str
    scorer_id: str
    experiment_id: int
    sample_rate: float
    filter_string: str | None


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


_VERSION_COLUMNS = (
    _ver.scorer_id,
    _sc.experiment_id,
    _sc.name,
    _ver.version,
    _ver.serialized_scorer,
    _ver.creation_time,
)
_JOINED = s.scorer_versions.join(s.scorers, _sc.id == _ver.scorer_id)


def _version(row: Any) -> ScorerVersion:
    return ScorerVersion(row[0], int(row[1]), row[2], int(row[3]), row[4], int(row[5]))


# -- scorers -------------------------------------------------------------------------------------------


def scorer_id(conn: Connection, experiment_id: int, name: str, *, lock: bool = False) -> str | None:
    """The id of the experiment's scorer of this name, or None; `lock` holds its row to the transaction's
    end, which every change to the scorer's versions or configuration takes first."""
    stmt = select(_sc.id).where(_sc.experiment_id == experiment_id, _sc.name == name)
    if lock:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).scalar()


def ensure_scorer(conn: Connection, experiment_id: int, name: str, new_id: str) -> str:
    """The id of the experiment's scorer of this name, created with `new_id` if there is none; its row is
    locked. Concurrent creators meet on the unique (experiment, name) key: one row, one id."""
    insert_ignore(
        conn,
        s.scorers,
        [{"id": new_id, "experiment_id": experiment_id, "name": name}],
        ["experiment_id", "name"],
    )
    found = scorer_id(conn, experiment_id, name, lock=True)
    assert found is not None  # inserted above, or already there
    return found


def delete_scorer(conn: Connection, scorer_id: str) -> None:
    """Delete a scorer with its versions and online configuration."""
    for table in (s.online_scoring_configs, s.scorer_versions):
        conn.execute(delete(table).where(table.c.scorer_id == scorer_id))
    conn.execute(delete(s.scorers).where(_sc.id == scorer_id))


# -- versions ------------------------------------------------------------------------------------------


def highest_version(conn: Connection, scorer_id: str) -> int | None:
    """The scorer's highest version, read with a lock (a locking read sees the latest committed rows on
    every database, where MySQL's plain read would see the transaction's snapshot)."""
    return conn.execute(
        select(_ver.version)
        .where(_ver.scorer_id == scorer_id)
        .order_by(_ver.version.desc())
        .limit(1)
        .with_for_update()
    ).scalar()


def insert_version(conn: Connection, v: ScorerVersion) -> None:
    conn.execute(
        insert(s.scorer_versions).values(
            scorer_id=v.scorer_id,
            version=v.version,
            serialized_scorer=v.serialized_scorer,
            creation_time=v.creation_time,
        )
    )


def latest_versions(conn: Connection, experiment_id: int) -> list[ScorerVersion]:
    """The highest version of each of the experiment's scorers, by scorer name."""
    latest = (
        select(_ver.scorer_id.label("scorer_id"), func.max(_ver.version).label("version"))
        .select_from(_JOINED)
        .where(_sc.experiment_id == experiment_id)
        .group_by(_ver.scorer_id)
        .subquery()
    )
    rows = conn.execute(
        select(*_VERSION_COLUMNS)
        .select_from(
            _JOINED.join(latest, (latest.c.scorer_id == _ver.scorer_id) & (latest.c.version == _ver.version))
        )
        .order_by(_sc.name)
    )
    return [_version(row) for row in rows]


def versions(conn: Connection, scorer_id: str) -> list[ScorerVersion]:
    """Every version of the scorer, oldest first."""
    rows = conn.execute(
        select(*_VERSION_COLUMNS)
        .select_from(_JOINED)
        .where(_ver.scorer_id == scorer_id)
        .order_by(_ver.version)
    )
    return [_version(row) for row in rows]


def version(conn: Connection, scorer_id: str, number: int | None) -> ScorerVersion | None:
    """One version of the scorer, its highest when `number` is None; None if there is no such version."""
    stmt = select(*_VERSION_COLUMNS).select_from(_JOINED).where(_ver.scorer_id == scorer_id)
    if number is None:
        stmt = stmt.order_by(_ver.version.desc()).limit(1)
    else:
        stmt = stmt.where(_ver.version == number)
    row = conn.execute(stmt).first()
    return _version(row) if row is not None else None


def delete_versions(conn: Connection, scorer_id: str, number: int | None) -> int:
    """Delete one version of the scorer, or all of them when `number` is None; how many went."""
    stmt = delete(s.scorer_versions).where(_ver.scorer_id == scorer_id)
    if number is not None:
        stmt = stmt.where(_ver.version == number)
    return conn.execute(stmt).rowcount


# -- online scoring configurations ---------------------------------------------------------------------


def replace_config(conn: Connection, config: OnlineScoringConfig) -> None:
    """Make `config` the scorer's only online configuration."""
    conn.execute(delete(s.online_scoring_configs).where(_cfg.scorer_id == config.scorer_id))
    conn.execute(
        insert(s.online_scoring_configs).values(
            id=config.config_id,
            scorer_id=config.scorer_id,
            experiment_id=config.experiment_id,
            sample_rate=config.sample_rate,
            filter_string=config.filter_string,
        )
    )


def configs(conn: Connection, scorer_ids: Sequence[str]) -> list[OnlineScoringConfig]:
    """The online configurations of these scorers (scorers without one are left out), by scorer id."""
    out: list[OnlineScoringConfig] = []
    for chunk in _chunks(sorted(set(scorer_ids))):
        rows = conn.execute(
            select(_cfg.id, _cfg.scorer_id, _cfg.experiment_id, _cfg.sample_rate, _cfg.filter_string)
            .where(_cfg.scorer_id.in_(chunk))
            .order_by(_cfg.scorer_id)
        )
        out += [OnlineScoringConfig(r[0], r[1], int(r[2]), float(r[3]), r[4]) for r in rows]
    return out
