"""Parser tests for the search grammar: no database, just filter strings and order_by clauses."""

from __future__ import annotations

import pytest

from tracklight.errors import InvalidParameter
from tracklight.store.search.experiments import EXPERIMENTS_SPEC
from tracklight.store.search.grammar import (
    Comparison,
    EntityRule,
    KeyRule,
    OrderKey,
    SearchSpec,
    ValueType,
    parse_filter,
    parse_order_by,
    parse_order_by_list,
    tokenize,
)
from tracklight.store.search.runs import RUNS_SPEC


def one(text: str) -> Comparison:
    (comparison,) = parse_filter(text, RUNS_SPEC)
    return comparison


def error(text: str, spec: SearchSpec = RUNS_SPEC) -> str:
    with pytest.raises(InvalidParameter) as info:
        parse_filter(text, spec)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    return info.value.message


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_filter_means_no_conditions(text: str | None) -> None:
    assert parse_filter(text, RUNS_SPEC) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.5", Comparison("metric", "acc", ">", 0.5)),
        ("metric.acc >= 1", Comparison("metric", "acc", ">=", 1)),
        ("metrics.acc != -2", Comparison("metric", "acc", "!=", -2)),
        ("metrics.acc < 1e10", Comparison("metric", "acc", "<", 1e10)),
        ("metrics.acc <= .5", Comparison("metric", "acc", "<=", 0.5)),
        ("metrics.acc = -1.5E-3", Comparison("metric", "acc", "=", -1.5e-3)),
        ("params.lr = '0.1'", Comparison("param", "lr", "=", "0.1")),
        ('param.lr != "0.1"', Comparison("param", "lr", "!=", "0.1")),
        ("parameter.lr LIKE '0.%'", Comparison("param", "lr", "LIKE", "0.%")),
        ("parameters.lr ilike '0.%'", Comparison("param", "lr", "ILIKE", "0.%")),
        ("params.lr IS NULL", Comparison("param", "lr", "IS NULL", None)),
        ("tags.team is not null", Comparison("tag", "team", "IS NOT NULL", None)),
        ("tag.team = 'a'", Comparison("tag", "team", "=", "a")),
        ("tags.mlflow.runName = 'x'", Comparison("tag", "mlflow.runName", "=", "x")),
        ("tags.`mlflow.runName` = 'x'", Comparison("tag", "mlflow.runName", "=", "x")),
        ('tags."mlflow.runName" = "x"', Comparison("tag", "mlflow.runName", "=", "x")),
        ("params.'my key' = 'x'", Comparison("param", "my key", "=", "x")),
        ("`metrics`.score > 1", Comparison("metric", "score", ">", 1)),
        ("`metrics`.`a b` > 1", Comparison("metric", "a b", ">", 1)),
        ("metrics.val-loss/1:2 > 1", Comparison("metric", "val-loss/1:2", ">", 1)),
        ("metrics.1st > 1", Comparison("metric", "1st", ">", 1)),
        ("status = 'FINISHED'", Comparison("attribute", "status", "=", "FINISHED")),
        ("attributes.status = 'FINISHED'", Comparison("attribute", "status", "=", "FINISHED")),
        ("attr.user_id LIKE 'a%'", Comparison("attribute", "user_id", "LIKE", "a%")),
        ("run.artifact_uri = 's3://x'", Comparison("attribute", "artifact_uri", "=", "s3://x")),
        ("\"run name\" = 'x'", Comparison("attribute", "run_name", "=", "x")),
        ("`Run Name` = 'x'", Comparison("attribute", "run_name", "=", "x")),
        ("attributes.run_name = 'x'", Comparison("attribute", "run_name", "=", "x")),
        ("created > 5", Comparison("attribute", "start_time", ">", 5)),
        ("Created > 5", Comparison("attribute", "start_time", ">", 5)),
        ("start_time > 1.5", Comparison("attribute", "start_time", ">", 1.5)),
        ("end_time <= 7", Comparison("attribute", "end_time", "<=", 7)),
        ("run_id IN ('a', \"b\")", Comparison("attribute", "run_id", "IN", ("a", "b"))),
        ("run_id in ('a',)", Comparison("attribute", "run_id", "IN", ("a",))),
        ("run_id not in ('a')", Comparison("attribute", "run_id", "NOT IN", ("a",))),
        ("datasets.name IN ('a')", Comparison("dataset", "name", "IN", ("a",))),
        ("dataset.context = 'train'", Comparison("dataset", "context", "=", "train")),
        ("datasets.digest NOT IN ('x', 'y')", Comparison("dataset", "digest", "NOT IN", ("x", "y"))),
        # A doubled quote is one literal quote (SQL convention); the rest is plain text.
        ("params.x = '1'' OR 1=1 --'", Comparison("param", "x", "=", "1' OR 1=1 --")),
        ('params.x = "say ""hi"""', Comparison("param", "x", "=", 'say "hi"')),
        ("params.`odd``key` = 'v'", Comparison("param", "odd`key", "=", "v")),
        ("params.x = 'C:\\dir\\'", Comparison("param", "x", "=", "C:\\dir\\")),
        ("params.x = 'a AND b'", Comparison("param", "x", "=", "a AND b")),
        ("params.x='a'", Comparison("param", "x", "=", "a")),
    ],
)
def test_single_comparisons(text: str, expected: Comparison) -> None:
    assert one(text) == expected


def test_integer_literals_stay_integers() -> None:
    value = one("start_time > 1234567890123").value
    assert value == 1234567890123 and isinstance(value, int)


def test_integers_beyond_int64_become_floats_or_errors() -> None:
    # Drivers cannot bind them as integers; a float compares the same way against a metric or time.
    assert one("metrics.a > 99999999999999999999") == Comparison("metric", "a", ">", 1e20)
    assert "out of range" in error("creation_time > 99999999999999999999", EXPERIMENTS_SPEC)


def test_conjunctions_and_dangling_and() -> None:
    expected = [Comparison("metric", "a", ">", 1), Comparison("param", "b", "=", "x")]
    assert parse_filter("metrics.a > 1 AND params.b = 'x'", RUNS_SPEC) == expected
    assert parse_filter("metrics.a > 1 and params.b = 'x' and", RUNS_SPEC) == expected
    assert parse_filter("AND metrics.a > 1 AND AND params.b = 'x'", RUNS_SPEC) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.a > 1 OR metrics.b < 2", "Invalid clause(s) in filter string: 'OR'"),
        ("metrics.a > 1 or metrics.b < 2", "Invalid clause(s) in filter string: 'or'"),
        ("NOT metrics.a > 1", "Invalid clause(s) in filter string: 'NOT'"),
        ("(metrics.a > 1)", "Invalid clause(s) in filter string: '('"),
        ("metrics.a > 1 metrics.b > 1", "Invalid clause(s) in filter string: 'metrics.b'"),
        ("params.a = 'x'; params.b = 'y'", "Invalid clause(s) in filter string: ';'"),
        ("metrics.a >>> 1", "Invalid comparator '>>>'"),
        ("metrics.a == 1", "Invalid comparator '=='"),
        ("metrics.a <> 1", "Invalid comparator '<>'"),
        ("metrics.a ~ 1", "Invalid character '~'"),
        ("params.a NOT LIKE 'x'", "Invalid comparator 'NOT LIKE'"),
        ("params.a IS 'x'", "Invalid comparator 'IS'"),
        ("params.a BETWEEN 'x'", "Invalid comparator 'BETWEEN'"),
        ("metrics.a LIKE 1", "Invalid comparator 'LIKE' for metric 'a'"),
        ("metrics.a IS NULL", "Invalid comparator 'IS NULL' for metric 'a'"),
        ("end_time IS NULL", "Invalid comparator 'IS NULL' for attribute 'end_time'"),
        ("status IN ('a')", "Invalid comparator 'IN' for attribute 'status'"),
        ("params.a IN ('a')", "Invalid comparator 'IN' for param 'a'"),
        ("status = FINISHED", "Parameter value is either not quoted"),
        ("params.a = `x`", "Parameter value is either not quoted"),
        ("params.lr = 0.1", "Expected a quoted string value for param 'lr'"),
        ("metrics.a > '1'", "Expected numeric value type for metric 'a'. Found '1'"),
        ('start_time > "5"', "Expected numeric value type for attribute 'start_time'"),
        ("metrics.a > 1abc", "Expected numeric value type for metric 'a'. Found 1abc"),
        ("metrics.a > 1e999", "out of range"),
        ("foo.x = 'a'", "Invalid entity type 'foo'"),
        ("Metrics.x > 1", "Invalid entity type 'Metrics'"),
        ("experiment_id = '1'", "Invalid attribute key 'experiment_id'"),
        ("lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage'"),
        ("datasets.source = 'x'", "Invalid dataset key 'source'"),
        ("params.`` = 'x'", "Empty key"),
        ("tags.a.`b` = 'x'", "Invalid identifier"),
        ("run_id IN ()", "expected a non-empty list"),
        ("run_id IN ('a', 1)", "expected quoted string values, found '1'"),
        ("run_id IN 'a'", "Expected a parenthesised list"),
        ("run_id IN ('a' 'b')", "Expected ',' or ')'"),
        ("params.a = 'x", "Unterminated string"),
        ("params.`a = 'x'", "Unterminated identifier"),
        ("params.a =", "Unexpected end of filter string"),
        ("params.a", "Expected a comparator"),
    ],
)
def test_malformed_filters(text: str, message: str) -> None:
    assert message in error(text)


def test_experiment_spec_rules() -> None:
    assert parse_filter("experiment_id IN ('1','2')", EXPERIMENTS_SPEC) == [
        Comparison("attribute", "experiment_id", "IN", ("1", "2"))
    ]
    assert parse_filter("tags.x IS NULL AND attribute.name ILIKE 'a%'", EXPERIMENTS_SPEC) == [
        Comparison("tag", "x", "IS NULL", None),
        Comparison("attribute", "name", "ILIKE", "a%"),
    ]
    assert "Invalid entity type 'params'" in error("params.x = 'a'", EXPERIMENTS_SPEC)
    assert "Invalid entity type 'attributes'" in error("attributes.name = 'a'", EXPERIMENTS_SPEC)
    assert "not an integer" in error("creation_time > 1.5", EXPERIMENTS_SPEC)
    assert "Invalid comparator 'IN' for attribute 'name'" in error("name IN ('a')", EXPERIMENTS_SPEC)
    assert "Invalid comparator '>' for attribute 'experiment_id'" in error(
        "experiment_id > '1'", EXPERIMENTS_SPEC
    )


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("metrics.x", OrderKey("metric", "x", True)),
        ("metrics.x desc", OrderKey("metric", "x", False)),
        ("metrics.x ASC", OrderKey("metric", "x", True)),
        ("`metrics`.`a b` DESC", OrderKey("metric", "a b", False)),
        ('tags."a.b" DESC', OrderKey("tag", "a.b", False)),
        ("params.lr", OrderKey("param", "lr", True)),
        ("start_time", OrderKey("attribute", "start_time", True)),
        ("attributes.created DESC", OrderKey("attribute", "start_time", False)),
        ("run_name", OrderKey("attribute", "run_name", True)),
        ("run_id DESC", OrderKey("attribute", "run_id", False)),
    ],
)
def test_order_by(clause: str, expected: OrderKey) -> None:
    assert parse_order_by(clause, RUNS_SPEC) == expected


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        ("metrics.x DESCENDING", "Invalid ordering key in order_by clause 'metrics.x DESCENDING'"),
        ("params.x asc desc", "Could not be parsed"),
        ("", "Could not be parsed"),
        ("'params.x'", "Could not be parsed"),
        ("params.x, params.y", "Could not be parsed"),
        ("dataset.name", "not orderable"),
        ("foo", "Invalid attribute key 'foo'"),
        ("bar.x", "Invalid entity type 'bar'"),
    ],
)
def test_malformed_order_by(clause: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        parse_order_by(clause, RUNS_SPEC)
    assert message in info.value.message


def test_duplicate_order_by_keys_are_a_400() -> None:
    with pytest.raises(InvalidParameter, match="duplicate fields"):
        parse_order_by_list(["metrics.a", "metrics.a DESC"], RUNS_SPEC)
    # Aliases name the same column.
    with pytest.raises(InvalidParameter, match="duplicate fields"):
        parse_order_by_list(["created", "start_time DESC"], RUNS_SPEC)
    assert parse_order_by_list(["metrics.a", "params.a"], RUNS_SPEC) == [
        OrderKey("metric", "a", True),
        OrderKey("param", "a", True),
    ]
    assert parse_order_by_list(None, RUNS_SPEC) == []


def test_experiment_tags_are_not_orderable() -> None:
    with pytest.raises(InvalidParameter, match="not orderable"):
        parse_order_by("tags.x", EXPERIMENTS_SPEC)
    assert parse_order_by("experiment_id DESC", EXPERIMENTS_SPEC) == OrderKey(
        "attribute", "experiment_id", False
    )


def test_a_new_search_kind_is_only_a_table() -> None:
    name = KeyRule(ValueType.STRING, frozenset({"=", "IN"}))
    spec = SearchSpec(
        entities={"attribute": EntityRule("attribute", keys={"name": name})},
        default=EntityRule("attribute", keys={"name": name}),
    )
    assert parse_filter("name IN ('a') AND attribute.name = 'b'", spec) == [
        Comparison("attribute", "name", "IN", ("a",)),
        Comparison("attribute", "name", "=", "b"),
    ]
    assert "Invalid comparator 'LIKE'" in error("name LIKE 'a'", spec)


def test_tokenizer_splits_dotted_quoted_identifiers() -> None:
    kinds = [t.kind for t in tokenize("tags.`a`.b")]
    assert kinds == ["word", ".", "bquote", ".", "word"]
