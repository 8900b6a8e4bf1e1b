"""The GraphQL document bounds on their own: how fragments, aliases and depth are counted."""

from __future__ import annotations

from graphql import parse

from tracklight.http.graphql_limits import MAX_ALIASES, MAX_DEPTH, MAX_ROOT_FIELDS, MAX_SELECTIONS, check


def _check(query: str) -> str | None:
    return check(parse(query))


def _nested(depth: int) -> str:
    query = "leaf"
    for _ in range(depth - 1):
        query = f"f {{ {query} }}"
    return f"{{ {query} }}"


def test_depth_is_counted_from_the_root_field() -> None:
    assert _check(_nested(MAX_DEPTH)) is None
    assert _check(_nested(MAX_DEPTH + 1)) == f"Query exceeds maximum depth of {MAX_DEPTH}"


def test_root_fields_and_aliases_at_their_bounds() -> None:
    roots = " ".join(f"a{i}: f" for i in range(MAX_ROOT_FIELDS))
    assert _check(f"{{ {roots} }}") is None
    refused = _check(f"{{ {roots} extra }}")
    assert refused is not None and f"at most {MAX_ROOT_FIELDS} root fields" in refused
    aliases = " ".join(f"a{i}: g" for i in range(MAX_ALIASES + 1))
    refused = _check(f"{{ f {{ {aliases} }} }}")
    assert refused is not None and f"at most {MAX_ALIASES} aliases" in refused


def test_aliases_spread_over_sibling_fragments_add_up() -> None:
    half = MAX_ALIASES // 2 + 1
    a = " ".join(f"a{i}: g" for i in range(half))
    b = " ".join(f"b{i}: g" for i in range(half))
    query = f"{{ f {{ ...A ... on T {{ {b} }} }} }} fragment A on T {{ {a} }}"
    refused = _check(query)
    assert refused is not None and "aliases" in refused


def test_a_fragment_counts_each_time_it_is_spread_into_a_new_place() -> None:
    size = MAX_SELECTIONS // 4
    fragment = "fragment F on T { " + " ".join(["x"] * size) + " }"
    three = " ".join(f"s{i}: f {{ ...F }}" for i in range(3))
    assert _check(f"{{ {three} }} {fragment}") is None
    five = " ".join(f"s{i}: f {{ ...F }}" for i in range(5))
    assert _check(f"{{ {five} }} {fragment}") == f"Query exceeds maximum total selections of {MAX_SELECTIONS}"
    # Spread twice into one place, a fragment's fields are there once.
    assert _check(f"{{ f {{ ...F ...F ...F }} }} {fragment}") is None


def test_fragment_cycles_end() -> None:
    same_level = "{ f { ...A } } fragment A on T { x ...B } fragment B on T { y ...A }"
    assert _check(same_level) is None  # left to validation, which names the cycle
    nested = "{ f { ...A } } fragment A on T { g { ...A } }"
    assert _check(nested) == f"Query exceeds maximum depth of {MAX_DEPTH}"


def test_unused_fields_count_too() -> None:
    # Validation reads every written field, so those of an unused fragment are bounded as well.
    fragment = "fragment Unused on T { " + " ".join(["x"] * (MAX_SELECTIONS + 1)) + " }"
    assert _check(f"{{ f }} {fragment}") == f"Query exceeds maximum total selections of {MAX_SELECTIONS}"
