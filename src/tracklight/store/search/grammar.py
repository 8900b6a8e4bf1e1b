"""MLflow search-filter and order_by grammar: a tokenizer and parser driven by per-kind rule tables."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tracklight.errors import InvalidParameter

EQ, NE, LT, LE, GT, GE = "=", "!=", "<", "<=", ">", ">="
LIKE, ILIKE, IN, NOT_IN, IS_NULL, IS_NOT_NULL = "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"
RLIKE = "RLIKE"  # a regular expression, matched anywhere in the value (trace searches only, as in MLflow)

NUMERIC_OPS = frozenset({EQ, NE, LT, LE, GT, GE})
STRING_OPS = frozenset({EQ, NE, LIKE, ILIKE})
NULLABLE_STRING_OPS = STRING_OPS | {IS_NULL, IS_NOT_NULL}
LIST_STRING_OPS = STRING_OPS | {IN, NOT_IN}

Value = str | int | float | tuple[str, ...] | None


class ValueType(StrEnum):
    STRING = "string"
    NUMBER = "number"  # int or float literal
    INTEGER = "integer"  # int literal only


@dataclass(frozen=True, slots=True)
class KeyRule:
    """How one key (or every key of a free-form entity) may be compared and ordered."""

    value_type: ValueType
    operators: frozenset[str]
    canonical: str | None = None  # the key an alias stands for
    orderable: bool = True


@dataclass(frozen=True, slots=True)
class EntityRule:
    """An entity such as `metrics` or `attributes`: a fixed key table, or one rule for any key."""

    kind: str
    keys: Mapping[str, KeyRule] = field(default_factory=dict)
    any_key: KeyRule | None = None
    orderable: bool = True
    # Free-form keys under a fixed name, such as `span.attributes.<name>`: the name -> their rule.
    nested: Mapping[str, KeyRule] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """Everything that differs between search kinds; the parser itself is generic."""

    entities: Mapping[str, EntityRule]  # every accepted prefix spelling -> its rule
    default: EntityRule  # the entity of an identifier without a prefix


@dataclass(frozen=True, slots=True)
class Comparison:
    kind: str
    key: str
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class OrderKey:
    kind: str
    key: str
    ascending: bool


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # word, bquote, dquote, squote, number, op, ( ) , . ;
    text: str  # the source text, for messages
    value: str  # unquoted content for quoted tokens


_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
# Keys may hold - / : as well as word characters; dots separate the entity from the key.
_WORD = re.compile(r"[A-Za-z_][\w\-/:]*(?:\.[\w\-/:]+)*")
# Anything else word-like (a key starting with a digit, a malformed number) so messages can quote it.
_LOOSE = re.compile(r"[\w\-/:][\w\-/:.]*")
_OP = re.compile(r"[=!<>]+")
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "RLIKE"})


def _quoted(text: str, start: int, what: str) -> tuple[str, int]:
    quote, i, out = text[start], start + 1, []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            # SQL convention: a doubled quote character stands for one literal quote.
            if text.startswith(quote, i + 1):
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise InvalidParameter(f"Unterminated {what} starting at position {start}: {text[start:]!r}")


def tokenize(text: str) -> list[_Tok]:
    """Split a filter or order_by clause into tokens; quoting is resolved here, meaning in the parser."""
    toks: list[_Tok] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "'\"`":
            kind = {"'": "squote", '"': "dquote", "`": "bquote"}[ch]
            value, end = _quoted(text, i, "identifier" if ch == "`" else "string")
            toks.append(_Tok(kind, text[i:end], value))
            i = end
            continue
        prev_dot = bool(toks) and toks[-1].kind == "."
        if not prev_dot and (m := _NUMBER.match(text, i)):
            toks.append(_Tok("number", m.group(), m.group()))
        elif m := _WORD.match(text, i) or _LOOSE.match(text, i):
            toks.append(_Tok("word", m.group(), m.group()))
        elif m := _OP.match(text, i):
            toks.append(_Tok("op", m.group(), m.group()))
        elif ch in "(),.;":
            toks.append(_Tok(ch, ch, ch))
            i += 1
            continue
        else:
            raise InvalidParameter(f"Invalid character {ch!r} at position {i} in {text!r}")
        i = m.end()
    return toks


def _is_kw(tok: _Tok | None, *words: str) -> bool:
    return tok is not None and tok.kind == "word" and tok.text.upper() in words


class _Parser:
    def __init__(self, text: str, spec: SearchSpec) -> None:
        self.text = text
        self.spec = spec
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise InvalidParameter(f"Unexpected end of filter string {self.text!r}")
        self.i += 1
        return tok

    def identifier(self) -> tuple[EntityRule, str, KeyRule]:
        first = self.take()
        if first.kind not in ("word", "bquote", "dquote") or _is_kw(first, *_KEYWORDS):
            raise InvalidParameter(f"Invalid clause(s) in filter string: '{first.text}'")
        parts: list[tuple[str, bool]] = [(first.value, first.kind != "word")]
        while (dot := self.peek()) is not None and dot.kind == ".":
            self.i += 1
            seg = self.take()
            if seg.kind not in ("word", "bquote", "dquote", "squote"):
                raise InvalidParameter(f"Invalid identifier near '{seg.text}' in {self.text!r}")
            parts.append((seg.value, seg.kind != "word"))
        if len(parts) == 1 and not parts[0][1] and "." in parts[0][0]:
            entity, key = parts[0][0].split(".", 1)
            parts = [(entity, False), (key, False)]
        if len(parts) == 2 and not parts[0][1] and parts[0][0].count(".") == 1:
            entity, sub = parts[0][0].split(".")
            parts = [(entity, False), (sub, False), parts[1]]
        if len(parts) == 3 and not parts[1][1]:
            rule = self.spec.entities.get(parts[0][0])
            if rule is not None and parts[1][0] in rule.nested and parts[2][0]:
                return rule, f"{parts[1][0]}.{parts[2][0]}", rule.nested[parts[1][0]]
        if len(parts) > 2 or (len(parts) == 2 and not parts[0][1] and "." in parts[0][0]):
            shown = ".".join(p for p, _ in parts)
            raise InvalidParameter(
                f"Invalid identifier '{shown}'. Use <entity>.<key>, quoting keys that contain dots with "
                "backticks or double quotes"
            )
        return self.resolve(parts[0][0] if len(parts) == 2 else None, parts[-1][0])

    def resolve(self, entity: str | None, key: str) -> tuple[EntityRule, str, KeyRule]:
        rule = self.spec.default if entity is None else self.spec.entities.get(entity)
        if rule is None:
            valid = sorted(self.spec.entities)
            raise InvalidParameter(f"Invalid entity type '{entity}'. Valid values are {valid}")
        if not key:
            raise InvalidParameter(f"Empty key for entity '{rule.kind}' in {self.text!r}")
        key_rule = rule.keys.get(key, rule.any_key)
        sub, dot, rest = key.partition(".")
        if key_rule is None and dot and rest and sub in rule.nested:
            key_rule = rule.nested[sub]
        if key_rule is None:
            valid = sorted(rule.keys)
            raise InvalidParameter(f"Invalid {rule.kind} key '{key}' specified. Valid keys are {valid}")
        return rule, key_rule.canonical or key, key_rule

    def operator(self) -> str:
        tok = self.peek()
        if tok is None:
            raise InvalidParameter(f"Expected a comparator at the end of filter string {self.text!r}")
        self.i += 1
        if tok.kind == "op":
            if tok.text not in NUMERIC_OPS:
                raise InvalidParameter(f"Invalid comparator '{tok.text}'")
            return tok.text
        if _is_kw(tok, "LIKE", "ILIKE", "RLIKE", "IN"):
            return tok.text.upper()
        if _is_kw(tok, "IS"):
            if _is_kw(self.peek(), "NULL"):
                self.i += 1
                return IS_NULL
            if _is_kw(self.peek(), "NOT") and _is_kw(self.peek(1), "NULL"):
                self.i += 2
                return IS_NOT_NULL
            raise InvalidParameter("Invalid comparator 'IS': expected 'IS NULL' or 'IS NOT NULL'")
        if _is_kw(tok, "NOT"):
            nxt = self.peek()
            if _is_kw(nxt, "IN"):
                self.i += 1
                return NOT_IN
            raise InvalidParameter(
                f"Invalid comparator 'NOT {nxt.text}'" if nxt else "Invalid comparator 'NOT'"
            )
        raise InvalidParameter(f"Invalid comparator '{tok.text}'")

    def value(self, rule: EntityRule, key: str, key_rule: KeyRule, op: str) -> Value:
        if op in (IS_NULL, IS_NOT_NULL):
            return None
        if op in (IN, NOT_IN):
            return self.string_list()
        tok = self.take()
        if key_rule.value_type is ValueType.STRING:
            if tok.kind in ("squote", "dquote"):
                return tok.value
            if tok.kind == "number":
                raise InvalidParameter(
                    f"Expected a quoted string value for {rule.kind} '{key}' (e.g. 'my-value'). "
                    f"Got value {tok.text}"
                )
            raise InvalidParameter(
                "Parameter value is either not quoted or unidentified quote types used for string "
                f"value {tok.text}. Use either single or double quotes."
            )
        if tok.kind != "number":
            raise InvalidParameter(f"Expected numeric value type for {rule.kind} '{key}'. Found {tok.text}")
        return _number(tok.text, rule.kind, key, key_rule.value_type)

    def string_list(self) -> tuple[str, ...]:
        if (tok := self.take()).kind != "(":
            raise InvalidParameter(
                f"Expected a parenthesised list of quoted strings after IN, found '{tok.text}'"
            )
        items: list[str] = []
        while True:
            tok = self.take()
            if tok.kind == ")":  # an empty list, or a trailing comma as Python tuples allow
                break
            if tok.kind not in ("squote", "dquote"):
                raise InvalidParameter(
                    f"While parsing a list in the query, expected quoted string values, found '{tok.text}'"
                )
            items.append(tok.value)
            sep = self.take()
            if sep.kind == ")":
                break
            if sep.kind != ",":
                raise InvalidParameter(f"Expected ',' or ')' in a list, found '{sep.text}'")
        if not items:
            raise InvalidParameter(
                "While parsing a list in the query, expected a non-empty list of string values, "
                "but got empty list"
            )
        return tuple(items)


def _number(text: str, kind: str, key: str, value_type: ValueType) -> int | float:
    if re.fullmatch(r"[-+]?\d+", text):
        number = int(text)
        # Drivers cannot bind integers beyond int64 (SQLite raises OverflowError).
        if -(2**63) <= number < 2**63:
            return number
        if value_type is ValueType.INTEGER:
            raise InvalidParameter(f"Numeric value {text} for {kind} '{key}' is out of range")
    elif value_type is ValueType.INTEGER:
        raise InvalidParameter(f"Invalid value for numeric attribute '{key}': '{text}' is not an integer")
    number = float(text)
    if not math.isfinite(number):
        raise InvalidParameter(f"Numeric value {text} for {kind} '{key}' is out of range")
    return number


def parse_filter(filter_string: str | None, spec: SearchSpec) -> list[Comparison]:
    """Parse an AND-only filter; empty or None means no conditions."""
    if not filter_string or not filter_string.strip():
        return []
    p = _Parser(filter_string, spec)
    out: list[Comparison] = []
    joined = True  # the previous comparison was followed by AND (or there is none yet)
    while (tok := p.peek()) is not None:
        if _is_kw(tok, "AND"):
            # Leading, doubled and trailing ANDs are tolerated, as the reference parser does.
            p.i += 1
            joined = True
            continue
        if not joined:
            raise InvalidParameter(f"Invalid clause(s) in filter string: '{tok.text}'")
        rule, key, key_rule = p.identifier()
        op = p.operator()
        if op not in key_rule.operators:
            allowed = ", ".join(f"'{o}'" for o in sorted(key_rule.operators))
            raise InvalidParameter(f"Invalid comparator '{op}' for {rule.kind} '{key}'; allowed: {allowed}")
        out.append(Comparison(rule.kind, key, op, p.value(rule, key, key_rule, op)))
        joined = False
    return out


def parse_order_by(clause: str, spec: SearchSpec) -> OrderKey:
    """Parse one order_by entry, `<identifier> [ASC|DESC]`."""
    unparsable = InvalidParameter(f"Invalid order_by clause '{clause}'. Could not be parsed.")
    p = _Parser(clause, spec)
    if not p.toks or p.toks[0].kind not in ("word", "bquote", "dquote"):
        raise unparsable
    rule, key, key_rule = p.identifier()
    ascending = True
    if (tok := p.peek()) is not None:
        if tok.kind != "word":
            raise unparsable
        if tok.text.lower() not in ("asc", "desc"):
            raise InvalidParameter(f"Invalid ordering key in order_by clause '{clause}'.")
        ascending = tok.text.lower() == "asc"
        p.i += 1
    if p.peek() is not None:
        raise unparsable
    if not rule.orderable or not key_rule.orderable:
        raise InvalidParameter(f"Invalid order_by clause '{clause}': {rule.kind} '{key}' is not orderable")
    return OrderKey(rule.kind, key, ascending)


def parse_order_by_list(clauses: list[str] | None, spec: SearchSpec) -> list[OrderKey]:
    """Parse every order_by entry, rejecting a key that appears twice (the reference fails with a 500)."""
    keys = [parse_order_by(c, spec) for c in clauses or []]
    seen: set[tuple[str, str]] = set()
    for k in keys:
        if (k.kind, k.key) in seen:
            raise InvalidParameter(f"`order_by` contains duplicate fields: {list(clauses or [])}")
        seen.add((k.kind, k.key))
    return keys
