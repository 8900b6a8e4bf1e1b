"""Compiled search queries run against real SQLite, PostgreSQL and MariaDB databases."""

from __future__ import annotations

import base64
import functools
import itertools
import json
import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from harness.databases import create_database, drop_database, selected_backends

from tracklight.errors import InvalidParameter
from tracklight.store import schema as t
from tracklight.store.engine import Database, open_database
from tracklight.store.migrate import upgrade
from tracklight.store.records import SearchArgs
from tracklight.store.search import search_experiment_ids, search_run_ids
from tracklight.store.search.runs import search_run_page

NAN = float("nan")
_ids = itertools.count(100)


def uid(letter: str) -> str:
    return letter * 32


@pytest.fixture(scope="module", params=selected_backends())
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A uniquely named database per backend for this module, with the shared fixture rows."""
    uri = create_database(request.param, tmp_path_factory.mktemp(f"search-{request.param}"))
    database = open_database(str(uri))
    try:
        upgrade(database)
        with database.engine.begin() as conn:
            _fixture_rows(conn)
        yield database
    finally:
        database.engine.dispose()
        drop_database(uri)


def add_experiment(
    conn: sa.Connection,
    exp_id: int,
    name: str,
    *,
    stage: str = "active",
    created: int = 0,
    updated: int = 0,
    tags: dict[str, str] | None = None,
) -> None:
    conn.execute(
        sa.insert(t.experiments).values(
            id=exp_id,
            name=name,
            artifact_location=f"/tmp/{exp_id}",
            lifecycle_stage=stage,
            creation_time=created,
            last_update_time=updated,
        )
    )
    for key, value in (tags or {}).items():
        conn.execute(sa.insert(t.experiment_tags).values(experiment_id=exp_id, key=key, value=value))


def add_run(
    conn: sa.Connection,
    exp_id: int,
    run_uuid: str,
    *,
    name: str = "run",
    user: str = "u",
    status: str = "FINISHED",
    start: int = 0,
    end: int | None = None,
    stage: str = "active",
    artifact_uri: str = "s3://bucket/x",
    metrics: dict[str, float] | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> int:
    run_id = conn.execute(
        sa.insert(t.runs).values(
            run_uuid=run_uuid,
            experiment_id=exp_id,
            name=name,
            user_id=user,
            status=status,
            start_time=start,
            end_time=end,
            lifecycle_stage=stage,
            artifact_uri=artifact_uri,
        )
    ).inserted_primary_key[0]
    for key, value in (metrics or {}).items():
        nan = math.isnan(value)
        conn.execute(
            sa.insert(t.metric_series).values(
                run_id=run_id, key=key, step=0, timestamp=0, value=0.0 if nan else value, is_nan=nan
            )
        )
    for key, value in (params or {}).items():
        conn.execute(sa.insert(t.params).values(run_id=run_id, key=key, value=value))
    for key, value in (tags or {}).items():
        conn.execute(sa.insert(t.run_tags).values(run_id=run_id, key=key, value=value))
    return int(run_id)


def _fixture_rows(conn: sa.Connection) -> None:
    add_experiment(conn, 1, "exp-main")
    add_experiment(conn, 2, "exp-other")
    ids = {
        "a": add_run(
            conn,
            1,
            uid("a"),
            name="alpha",
            user="alice",
            start=1000,
            end=2000,
            artifact_uri="s3://bucket/a",
            metrics={"score": 4.0, "loss": 0.5},
            params={"lr": "0.1", "opt": "Adam", "tier": "gold"},
            tags={"team": "Vision", "zone": "north"},
        ),
        "b": add_run(
            conn,
            1,
            uid("b"),
            name="beta",
            user="bob",
            status="RUNNING",
            start=2000,
            metrics={"score": NAN},
            params={"lr": "0.01", "opt": "adam", "tier": "bronze"},
            tags={"team": "vision", "zone": "south"},
        ),
        "c": add_run(
            conn,
            1,
            uid("c"),
            name="gamma",
            user="alice",
            status="FAILED",
            start=3000,
            end=3500,
            artifact_uri="file:///tmp/c",
            metrics={"score": 0.0},
            params={"lr": "1", "opt": "sgd", "tier": "silver"},
            tags={"team": "nlp"},
        ),
        "d": add_run(
            conn,
            1,
            uid("d"),
            name="delta",
            user="carol",
            start=4000,
            end=4100,
            metrics={"score": 1.0},
            tags={"zone": "east"},
        ),
        "e": add_run(
            conn, 1, uid("e"), name="epsilon", user="carol", start=4000, end=5000, metrics={"score": 3.0}
        ),
        "h": add_run(conn, 1, uid("h"), name="eta", user="dave", status="KILLED", start=500),
        "s": add_run(
            conn,
            1,
            uid("s"),
            name="special",
            user="eve",
            start=100,
            params={"odd`key": 'q"uote', "pat": "a*b?[c]\\d", "bang": "wow!zz"},
            tags={"my.key with space": "x'y", "pad": "pad "},
        ),
    }
    add_run(conn, 1, uid("f"), name="zeta", start=6000, stage="deleted", metrics={"score": 10.0})
    add_run(conn, 2, uid("g"), name="other", start=7000, metrics={"score": 100.0})
    conn.execute(
        sa.insert(t.datasets),
        [
            {
                "id": 1,
                "experiment_id": 1,
                "name": "train_set",
                "digest": "abc123",
                "source_type": "local",
                "source": "{}",
            },
            {
                "id": 2,
                "experiment_id": 1,
                "name": "eval_set",
                "digest": "def456",
                "source_type": "local",
                "source": "{}",
            },
        ],
    )
    conn.execute(
        sa.insert(t.run_inputs),
        [
            {"run_id": ids["a"], "dataset_id": 1, "tags": "[]", "context": "training"},
            {"run_id": ids["a"], "dataset_id": 2, "tags": "[]", "context": "eval"},
            {"run_id": ids["b"], "dataset_id": 1, "tags": "[]", "context": None},
            {"run_id": ids["c"], "dataset_id": 2, "tags": "[]", "context": "Training"},
        ],
    )
    add_experiment(conn, 10, "search-alpha", created=100, updated=500, tags={"owner": "Ann", "env": "prod"})
    add_experiment(conn, 11, "search-Beta", created=200, updated=400, tags={"owner": "bob"})
    add_experiment(conn, 12, "search-gamma", stage="deleted", created=200, updated=300, tags={"env": "dev"})
    add_experiment(conn, 13, "search-delta", created=300, updated=300)


def search(
    db: Database,
    filter_string: str | None = None,
    order_by: Sequence[str] = (),
    *,
    view: str = "ACTIVE_ONLY",
    experiment_ids: Sequence[int] = (1,),
    max_results: int = 1000,
    page_token: str | None = None,
) -> tuple[list[str], str | None]:
    """Run uuids of one page, plus the next page token.

    Through search_run_page, as runs/search does, checked against search_run_ids.
    """
    args = SearchArgs(filter_string, list(order_by), max_results, page_token)
    with db.read() as conn:
        page = search_run_page(conn, args, experiment_ids=list(experiment_ids), run_view_type=view)
        ids = search_run_ids(conn, args, experiment_ids=list(experiment_ids), run_view_type=view)
    assert [run.internal_id for run in page.runs] == ids.run_ids
    assert page.next_page_token == ids.next_page_token
    return [run.run_id for run in page.runs], page.next_page_token


def letters(db: Database, filter_string: str | None = None, order_by: Sequence[str] = (), **kw: Any) -> str:
    uuids, token = search(db, filter_string, order_by, **kw)
    assert token is None
    return "".join(u[0] for u in uuids)


FILTERS = [
    # attributes
    (f"run_id = '{uid('a')}'", "a"),
    (f"attributes.run_id != '{uid('a')}'", "bcdehs"),
    (f"run_id IN ('{uid('a')}', '{uid('c')}', 'nope')", "ac"),
    (f"run_id NOT IN ('{uid('a')}', '{uid('c')}')", "bdehs"),
    ("run_id LIKE 'a%'", "a"),
    ("run_id LIKE 'A%'", ""),
    ("run_id ILIKE 'A%'", "a"),
    ("run_name = 'alpha'", "a"),
    ("run_name = 'Alpha'", ""),
    ("\"run name\" = 'beta'", "b"),
    ("run_name != 'alpha'", "bcdehs"),
    ("run_name LIKE '%ta'", "bdh"),
    ("attr.run_name ILIKE 'ALPHA'", "a"),
    ("status = 'FINISHED'", "ades"),
    ("status = 'finished'", ""),
    ("status ILIKE 'finished'", "ades"),
    ("status != 'FINISHED'", "bch"),
    ("status LIKE 'F%'", "acdes"),
    ("user_id = 'alice'", "ac"),
    ("run.user_id LIKE 'ca%'", "de"),
    ("artifact_uri LIKE 's3://%'", "abdehs"),
    ("artifact_uri = 'file:///tmp/c'", "c"),
    ("start_time = 4000", "de"),
    ("start_time != 4000", "abchs"),
    ("start_time > 2000", "cde"),
    ("start_time >= 2000", "bcde"),
    ("start_time < 1000", "hs"),
    ("start_time <= 1000", "ahs"),
    ("created > 3000", "de"),
    ("attributes.start_time > 1.5", "abcdehs"),
    ("start_time < 99999999999999999999", "abcdehs"),
    ("end_time > 3000", "cde"),
    ("end_time != 2000", "cde"),
    ("end_time < 2500", "a"),
    ("end_time = 4100", "d"),
    ("end_time >= 4100", "de"),
    ("end_time <= 2000", "a"),
    # metrics: NaN satisfies only !=, a missing metric nothing
    ("metrics.score > 0", "ade"),
    ("metrics.score >= 0", "acde"),
    ("metrics.score = 0", "c"),
    ("metrics.score != 1", "abce"),
    ("metrics.score < 1", "c"),
    ("metrics.score <= 1", "cd"),
    ("metrics.score > -1", "acde"),
    ("metric.loss = 0.5", "a"),
    ("metrics.score != 1e9", "abcde"),
    # params
    ("params.lr = '0.1'", "a"),
    ("params.lr != '0.1'", "bc"),
    ("params.lr LIKE '0.%'", "ab"),
    ("params.lr LIKE '0._'", "a"),
    ("param.lr ILIKE '0.%'", "ab"),
    ("params.lr IS NULL", "dehs"),
    ("params.lr IS NOT NULL", "abc"),
    ("params.opt = 'adam'", "b"),
    ("params.opt LIKE 'A%'", "a"),
    ("params.opt ILIKE 'ADAM'", "ab"),
    ("params.opt != 'adam'", "ac"),
    # wildcards of other dialects (GLOB's * ? [, LIKE's \ and our ESCAPE !) are plain characters
    ("params.pat LIKE 'a*b?[c]\\d'", "s"),
    ("params.pat LIKE 'a_b_[c]%'", "s"),
    ("params.pat = 'a*b?[c]\\d'", "s"),
    ("params.pat LIKE 'a*b?[c]\\\\d'", ""),
    ("params.pat LIKE 'a%b'", ""),
    ("params.bang LIKE 'wow!%'", "s"),
    ("params.bang LIKE 'wow!'", ""),
    ("params.bang = 'wow!zz'", "s"),
    ("params.`odd``key` = 'q\"uote'", "s"),
    ('params."odd`key" = "q""uote"', "s"),
    # tags
    ("tags.team = 'vision'", "b"),
    ("tags.team LIKE 'V%'", "a"),
    ("tag.team ILIKE 'v%'", "ab"),
    ("tags.team != 'nlp'", "ab"),
    ("tags.team IS NULL", "dehs"),
    ("tags.team IS NOT NULL", "abc"),
    ('tags.`my.key with space` = "x\'y"', "s"),
    ("tags.\"my.key with space\" = 'x''y'", "s"),
    # trailing spaces count, even under MariaDB's PAD SPACE collations
    ("tags.pad = 'pad'", ""),
    ("tags.pad = 'pad '", "s"),
    ("tags.pad LIKE 'pad'", ""),
    ("tags.pad != 'pad'", "s"),
    # datasets: a run matches when any of its inputs does
    ("datasets.name = 'train_set'", "ab"),
    ("dataset.name != 'train_set'", "ac"),
    ("datasets.name LIKE 'eval%'", "ac"),
    ("datasets.name ILIKE 'TRAIN%'", "ab"),
    ("datasets.name IN ('eval_set')", "ac"),
    ("datasets.name NOT IN ('train_set', 'eval_set')", ""),
    ("datasets.name NOT IN ('train_set')", "ac"),
    ("datasets.digest = 'abc123'", "ab"),
    ("datasets.digest IN ('def456')", "ac"),
    ("datasets.digest LIKE 'ABC%'", ""),
    ("datasets.digest ILIKE 'ABC%'", "ab"),
    ("datasets.context = 'training'", "a"),
    ("datasets.context ILIKE 'training'", "ac"),
    ("datasets.context LIKE 'T%'", "c"),
    ("datasets.context != 'eval'", "ac"),
    ("datasets.context IN ('eval', 'Training')", "ac"),
    ("datasets.context NOT IN ('training', 'Training')", "a"),
    # conjunctions
    ("metrics.score > 0 AND params.lr IS NULL", "de"),
    ("status = 'FINISHED' and tags.zone = 'north' and", "a"),
    ("", "abcdehs"),
]


@pytest.mark.parametrize(("filter_string", "expected"), FILTERS)
def test_filters(db: Database, filter_string: str, expected: str) -> None:
    assert set(letters(db, filter_string)) == set(expected)


ORDERS = [
    ([], "decbahs"),
    (["metrics.score"], "cdeabhs"),
    (["metrics.score DESC"], "aedcbhs"),
    (["params.tier"], "bacdehs"),
    (["params.tier DESC"], "cabdehs"),
    (["tags.zone DESC"], "badechs"),
    (["end_time"], "acdebhs"),
    (["end_time DESC"], "edcabhs"),
    (["start_time ASC"], "shabcde"),
    (["created DESC"], "decbahs"),
    (["run_id DESC"], "shedcba"),
    (["tags.zone", "metrics.score DESC"], "dabechs"),
    (["run_name"], "abdehcs"),
    (["status"], "cdeashb"),
    (["attributes.user_id desc"], "shdebca"),
    (["metrics.loss DESC"], "adecbhs"),
    (["metrics.`loss`"], "adecbhs"),
]


@pytest.mark.parametrize(("order_by", "expected"), ORDERS)
def test_order_by(db: Database, order_by: list[str], expected: str) -> None:
    assert letters(db, None, order_by) == expected


def test_view_types_and_experiments(db: Database) -> None:
    assert letters(db, view="DELETED_ONLY") == "f"
    assert letters(db, None, ["metrics.score DESC"], view="ALL") == "faedcbhs"
    assert letters(db, "metrics.score > 5", view="ALL", experiment_ids=[1, 2]) == "gf"
    assert letters(db, experiment_ids=[]) == ""
    with pytest.raises(InvalidParameter, match="run_view_type"):
        letters(db, view="EVERYTHING")


def test_fixture_pages(db: Database) -> None:
    pages, token = [], None
    while True:
        uuids, token = search(db, None, ["metrics.score DESC"], max_results=3, page_token=token)
        pages.append("".join(u[0] for u in uuids))
        if token is None:
            break
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert pages == ["aed", "cbh", "s"]
    # A page that ends exactly at the last row has no token.
    assert search(db, None, [], max_results=7)[1] is None


def test_errors(db: Database) -> None:
    with pytest.raises(InvalidParameter, match="duplicate fields"):
        search(db, None, ["metrics.score", "metrics.score DESC"])
    with pytest.raises(InvalidParameter, match="Invalid clause"):
        search(db, "metrics.score > 1 OR metrics.score < 0")
    with pytest.raises(InvalidParameter, match="not orderable"):
        search(db, None, ["datasets.name"])


def _forge(token: str, mutate: Any) -> str:
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    mutate(data)
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def test_bad_page_tokens(db: Database) -> None:
    _, token = search(db, None, ["metrics.score DESC"], max_results=2)
    assert token

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode()

    bad = [
        "not a token!!",
        b64(b"not json"),
        b64(b"[1, 2]"),
        b64(json.dumps({"offset": 2}).encode()),
        _forge(token, lambda d: d["k"].__setitem__(1, NAN)),
        _forge(token, lambda d: d["k"].pop()),
        _forge(token, lambda d: d["k"].__setitem__(0, "zero")),
        _forge(token, lambda d: d["k"].__setitem__(1, "NaN")),
        _forge(token, lambda d: d["k"].__setitem__(2, True)),
        _forge(token, lambda d: d["k"].__setitem__(2, 2**70)),
        _forge(token, lambda d: d["k"].__setitem__(3, 5)),
    ]
    for page_token in bad:
        with pytest.raises(InvalidParameter, match="Invalid page token"):
            search(db, None, ["metrics.score DESC"], max_results=2, page_token=page_token)
    # A token only continues the ordering it came from.
    for other in (["metrics.score ASC"], [], ["metrics.loss DESC"]):
        with pytest.raises(InvalidParameter, match="different order_by"):
            search(db, None, other, max_results=2, page_token=token)
    with db.read() as conn, pytest.raises(InvalidParameter, match="different order_by"):
        search_experiment_ids(conn, SearchArgs(None, [], 2, token), view_type="ALL")


def _row_counts(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in t.metadata.tables.items()
        }


INJECTIONS = [
    "params.lr = '0.1'' OR 1=1 --'",
    "params.lr = '0.1''; DROP TABLE runs; --'",
    'params.lr = "0.1"" OR ""1""=""1"',
    "run_id IN ('x'') OR 1=1 --')",
    "run_name LIKE '%'' OR ''1''=''1'",
    "tags.`team' OR '1'='1` = 'x'",
    "params.`lr`` = 1 --` = 'x'",
    "datasets.name = 'x'' OR 1=1; DELETE FROM runs; --'",
    "metrics.`score' OR 1=1 --` > 0",
]


@pytest.mark.parametrize("filter_string", INJECTIONS)
def test_injection_finds_nothing_and_changes_nothing(db: Database, filter_string: str) -> None:
    before = _row_counts(db)
    assert letters(db, filter_string) == ""
    assert _row_counts(db) == before


def test_injection_in_order_by_and_token(db: Database) -> None:
    before = _row_counts(db)
    order = ["params.`p'); DROP TABLE params; --` DESC", 'tags."t"" OR 1=1" ASC']
    assert letters(db, None, order) == "decbahs"
    _, token = search(db, None, ["params.tier"], max_results=2)
    assert token
    forged = _forge(token, lambda d: d["k"].__setitem__(1, "x' OR '1'='1"))
    uuids, _ = search(db, None, ["params.tier"], max_results=10, page_token=forged)
    assert "".join(u[0] for u in uuids) == "dehs"  # the null-ranked rows that follow ("x'..." > every tier)
    assert _row_counts(db) == before


def test_values_never_reach_the_sql_text(db: Database) -> None:
    sentinel = "zz_sentinel_7"
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        search(
            db,
            f"params.`{sentinel}k` = '{sentinel}' AND run_id IN ('{sentinel}') AND tags.t LIKE '{sentinel}%'",
            [f"metrics.`{sentinel}m` DESC"],
        )
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    searches = [(s, p) for s, p in statements if "runs" in s.lower()]
    assert searches
    for statement, _ in searches:
        assert sentinel not in statement
    assert any(sentinel in repr(p) for _, p in searches)


# -- keyset pagination over random data -----------------------------------------------------------------


def _random_runs(conn: sa.Connection, exp_id: int, rng: random.Random, n: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        start = 1000 + rng.randint(0, 3)
        row = {
            "uuid": f"{rng.getrandbits(128):032x}",
            "start_time": start,
            "end_time": rng.choice([None, start + rng.randint(0, 2)]),
            "run_name": rng.choice(["n1", "n2", "n3"]),
            "m": rng.choice([None, NAN, 1.0, 2.0, 2.0, -3.5, 0.0]),
            "p": rng.choice([None, "x", "y", "xy"]),
            "t": rng.choice([None, "a", "b"]),
        }
        add_run(
            conn,
            exp_id,
            row["uuid"],
            name=row["run_name"],
            start=start,
            end=row["end_time"],
            metrics={} if row["m"] is None else {"m": row["m"]},
            params={} if row["p"] is None else {"p": row["p"]},
            tags={} if row["t"] is None else {"t": row["t"]},
        )
        rows.append(row)
    return rows


def _sort_values(row: dict[str, Any], order_by: list[str]) -> list[tuple[Any, bool]]:
    """The MLflow sort semantics, written independently of the SQL compiler."""
    cols: list[tuple[Any, bool]] = []
    start_ordered = False
    for clause in order_by:
        name, _, direction = clause.partition(" ")
        asc = direction.upper() != "DESC"
        if name == "metrics.m":
            v = row["m"]
            rank = 2 if v is None else 1 if math.isnan(v) else 0
            cols += [(rank, True), (v if rank == 0 else 0.0, asc)]
        elif name in ("params.p", "tags.t"):
            v = row[name[-1]]
            cols += [(v is None, True), (v or "", asc)]
        elif name == "end_time":
            cols += [(row["end_time"] is None, True), (row["end_time"] or 0, asc)]
        else:
            key = {"run_id": "uuid"}.get(name, name)
            start_ordered |= key == "start_time"
            cols.append((row[key], asc))
    if not start_ordered:
        cols.append((row["start_time"], False))
    cols.append((row["uuid"], True))
    return cols


def _expected(rows: list[dict[str, Any]], order_by: list[str]) -> list[str]:
    def cmp(x: dict[str, Any], y: dict[str, Any]) -> int:
        for (a, asc), (b, _) in zip(_sort_values(x, order_by), _sort_values(y, order_by), strict=True):
            if a != b:
                return (-1 if a < b else 1) * (1 if asc else -1)
        return 0

    return [r["uuid"] for r in sorted(rows, key=functools.cmp_to_key(cmp))]


PAGED_ORDERS = [
    [],
    ["metrics.m DESC"],
    ["metrics.m"],
    ["params.p DESC", "metrics.m"],
    ["tags.t", "start_time ASC"],
    ["end_time DESC"],
    ["run_name", "run_id DESC"],
    ["start_time DESC", "params.p"],
]


@pytest.mark.parametrize("order_by", PAGED_ORDERS, ids=lambda o: ",".join(o) or "default")
def test_keyset_pages_have_no_duplicates_or_gaps(db: Database, order_by: list[str]) -> None:
    exp_id = next(_ids)
    rng = random.Random(exp_id)
    with db.engine.begin() as conn:
        add_experiment(conn, exp_id, f"paged-{exp_id}")
        rows = _random_runs(conn, exp_id, rng, 25)
    expected = _expected(rows, order_by)
    assert search(db, None, order_by, experiment_ids=[exp_id])[0] == expected

    got, token, sizes = [], None, []
    while True:
        page, token = search(db, None, order_by, experiment_ids=[exp_id], max_results=7, page_token=token)
        got += page
        sizes.append(len(page))
        if token is None:
            break
    assert sizes == [7, 7, 7, 4]
    assert got == expected


@pytest.mark.parametrize("order_by", PAGED_ORDERS, ids=lambda o: ",".join(o) or "default")
def test_keyset_pages_survive_writes_between_pages(db: Database, order_by: list[str]) -> None:
    exp_id = next(_ids)
    rng = random.Random(exp_id)
    with db.engine.begin() as conn:
        add_experiment(conn, exp_id, f"written-{exp_id}")
        rows = _random_runs(conn, exp_id, rng, 25)
    first, token = search(db, None, order_by, experiment_ids=[exp_id], max_results=7)
    assert first == _expected(rows, order_by)[:7] and token

    # New runs land both before and after the cursor; one not-yet-returned run is deleted.
    with db.engine.begin() as conn:
        rows += _random_runs(conn, exp_id, rng, 10)
        remaining = [u for u in _expected(rows, order_by) if u not in first]
        gone = remaining[len(remaining) // 2]
        conn.execute(sa.update(t.runs).where(t.runs.c.run_uuid == gone).values(lifecycle_stage="deleted"))
    rows = [r for r in rows if r["uuid"] != gone]

    got = list(first)
    while token:
        page, token = search(db, None, order_by, experiment_ids=[exp_id], max_results=7, page_token=token)
        got += page
    full = _expected(rows, order_by)
    assert len(got) == len(set(got))
    assert got == first + full[full.index(first[-1]) + 1 :]


def _finite(v: float | None) -> bool:
    return v is not None and not math.isnan(v)


# Filters on params, tags and metrics (joined, or tested with EXISTS for IS NULL), alone and with a
# condition on the runs' own columns: filtered pages follow the same order, ties and NULL placement.
FILTERED = [
    ("params.p LIKE 'x%'", lambda r: r["p"] is not None and r["p"].startswith("x")),
    ("tags.t IS NULL and metrics.m > 0", lambda r: r["t"] is None and _finite(r["m"]) and r["m"] > 0),
    ("metrics.m != 2 and params.p IS NOT NULL", lambda r: r["m"] is not None and r["m"] != 2 and r["p"]),
    (
        "tags.t = 'a' and params.p != 'x' and run_name != 'n3'",
        lambda r: r["t"] == "a" and r["p"] not in (None, "x") and r["run_name"] != "n3",
    ),
]


@pytest.mark.parametrize("order_by", PAGED_ORDERS[:5], ids=lambda o: ",".join(o) or "default")
@pytest.mark.parametrize(("filter_string", "keep"), FILTERED, ids=[f for f, _ in FILTERED])
def test_filtered_keyset_pages(
    db: Database, order_by: list[str], filter_string: str, keep: Callable[[dict[str, Any]], bool]
) -> None:
    exp_id = next(_ids)
    rng = random.Random(exp_id)
    with db.engine.begin() as conn:
        add_experiment(conn, exp_id, f"filtered-{exp_id}")
        rows = _random_runs(conn, exp_id, rng, 80)
    expected = _expected([r for r in rows if keep(r)], order_by)
    assert len(expected) >= 4  # enough for several pages
    first, token = search(db, filter_string, order_by, experiment_ids=[exp_id])
    assert (first, token) == (expected, None)

    got, token, sizes = [], None, []
    while len(sizes) <= len(expected):  # a token that never ends the pages fails below
        page, token = search(
            db, filter_string, order_by, experiment_ids=[exp_id], max_results=3, page_token=token
        )
        got += page
        sizes.append(len(page))
        if token is None:
            break
    assert got == expected
    assert sizes == [3] * (len(expected) // 3) + ([len(expected) % 3] if len(expected) % 3 else [])


# -- experiments ---------------------------------------------------------------------------------------


def exps_page(
    db: Database,
    filter_string: str | None = None,
    order_by: Sequence[str] = (),
    *,
    scope: str = "name LIKE 'search-%'",
    view: str = "ACTIVE_ONLY",
    max_results: int = 1000,
    page_token: str | None = None,
) -> tuple[list[int], str | None]:
    """One page of experiment ids, limited to `scope` so other tests' experiments stay out."""
    with db.read() as conn:
        scoped = scope + (f" AND {filter_string}" if filter_string else "")
        args = SearchArgs(scoped, list(order_by), max_results, page_token)
        page = search_experiment_ids(conn, args, view_type=view)
    return page.experiment_ids, page.next_page_token


def exps(
    db: Database, filter_string: str | None = None, order_by: Sequence[str] = (), **kw: Any
) -> list[int]:
    ids, token = exps_page(db, filter_string, order_by, **kw)
    assert token is None
    return ids


EXPERIMENT_FILTERS = [
    ("name = 'search-Beta'", [11]),
    ("name != 'search-Beta'", [13, 10]),
    ("name LIKE 'search-b%'", []),
    ("name ILIKE 'search-b%'", [11]),
    ("attribute.name LIKE '%a'", [13, 11, 10]),
    ("attribute.name LIKE '%ta'", [13, 11]),
    ("experiment_id = '10'", [10]),
    ("experiment_id != '10'", [13, 11]),
    ("experiment_id IN ('10', '12', '13')", [13, 10]),
    ("experiment_id NOT IN ('10')", [13, 11]),
    ("creation_time > 150", [13, 11]),
    ("creation_time >= 300", [13]),
    ("creation_time = 100", [10]),
    ("creation_time != 100", [13, 11]),
    ("creation_time < 200", [10]),
    ("last_update_time <= 400", [13, 11]),
    ("tags.owner = 'bob'", [11]),
    ("tags.owner != 'bob'", [10]),
    ("tag.owner LIKE 'A%'", [10]),
    ("tags.owner LIKE 'a%'", []),
    ("tags.owner ILIKE 'a%'", [10]),
    ("tags.env IS NULL", [13, 11]),
    ("tags.env IS NOT NULL", [10]),
    ("tags.owner = 'bob'' OR 1=1 --'", []),
]


@pytest.mark.parametrize(("filter_string", "expected"), EXPERIMENT_FILTERS)
def test_experiment_filters(db: Database, filter_string: str, expected: list[int]) -> None:
    assert exps(db, filter_string) == expected


def test_experiment_order_and_view_types(db: Database) -> None:
    # Default: creation_time DESC, experiment_id ASC.
    assert exps(db, view="ALL") == [13, 11, 12, 10]
    assert exps(db, view="DELETED_ONLY") == [12]
    # The reference breaks ties with experiment_id DESC unless it was ordered explicitly.
    assert exps(db, None, ["last_update_time"], view="ALL") == [13, 12, 11, 10]
    assert exps(db, None, ["last_update_time", "experiment_id"], view="ALL") == [12, 13, 11, 10]
    # Leaves out search-Beta: where upper case sorts depends on the PostgreSQL locale.
    assert exps(db, "experiment_id != '11'", ["name DESC"], view="ALL") == [12, 13, 10]
    assert exps(db, None, ["experiment_id DESC"]) == [13, 11, 10]
    with pytest.raises(InvalidParameter, match="Invalid experiment ID 'x'"):
        exps(db, "experiment_id = 'x'")
    with pytest.raises(InvalidParameter, match="not orderable"):
        exps(db, None, ["tags.owner"])
    with pytest.raises(InvalidParameter, match="duplicate"):
        exps(db, None, ["name", "name DESC"])
    with pytest.raises(InvalidParameter, match="view_type"):
        exps(db, view="BOTH")


def test_experiment_pages_survive_inserts(db: Database) -> None:
    base = next(_ids) * 100
    scope = f"name LIKE 'pages-{base}-%'"
    with db.engine.begin() as conn:
        for i in range(11):
            add_experiment(conn, base + i, f"pages-{base}-{i:02}", created=i % 3)
    full = exps(db, scope=scope, view="ALL")
    assert len(full) == 11
    got, token = exps_page(db, scope=scope, view="ALL", max_results=4)
    first = list(got)
    assert first == full[:4] and token
    with db.engine.begin() as conn:
        for i in range(11, 15):
            add_experiment(conn, base + i, f"pages-{base}-{i:02}", created=i % 3)
    while token:
        page, token = exps_page(db, scope=scope, view="ALL", max_results=4, page_token=token)
        got += page
    now = exps(db, scope=scope, view="ALL")
    assert len(now) == 15 and len(got) == len(set(got))
    assert got == first + now[now.index(first[-1]) + 1 :]
