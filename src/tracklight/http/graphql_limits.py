"""Bounds on a GraphQL document, checked after parsing and before validation, so a hostile query stays cheap."""

from __future__ import annotations

from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    visit,
)

# Each limit is MLflow's, and so is the wording the suite checks.
MAX_TOKENS = 10_000  # enforced by the parser; the largest legitimate UI query is a few hundred
MAX_DEPTH = 10
MAX_SELECTIONS = 1000
MAX_ROOT_FIELDS = 10
MAX_ALIASES = 10


class _FieldCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.fields = 0

    def enter_field(self, *_: object) -> None:
        self.fields += 1


class _TooMany(Exception):
    pass


def _level(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], budget: list[int]
) -> tuple[list[FieldNode], int]:
    """The fields one level selects, fragments (inline and named, each once) merged in; and its aliases.

    Every node looked at, spreads included, is taken from `budget`, so expansion work stays bounded.
    """
    fields: list[FieldNode] = []
    aliases = 0
    pending = list(selection_set.selections)
    spread: set[str] = set()
    while pending:
        node = pending.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooMany
        if isinstance(node, FieldNode):
            fields.append(node)
            aliases += node.alias is not None
        elif isinstance(node, InlineFragmentNode):
            pending.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in spread:
            spread.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                pending.extend(fragment.selection_set.selections)
    return fields, aliases


def check(document: DocumentNode) -> str | None:
    """Why the document is refused, or None if it is within every bound.

    Fragments are expanded where they are spread, so repeating one cannot multiply the work unseen;
    a fragment that spreads itself stops at the depth bound.
    """
    counter = _FieldCounter()
    visit(document, counter)
    if counter.fields > MAX_SELECTIONS:  # written out, before any expansion (validation reads them all)
        return f"Query exceeds maximum total selections of {MAX_SELECTIONS}"
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    budget = [MAX_SELECTIONS]
    root_fields = most_aliases = 0
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        stack = [(operation.selection_set, 1)]
        while stack:
            selection_set, depth = stack.pop()
            if depth > MAX_DEPTH:
                return f"Query exceeds maximum depth of {MAX_DEPTH}"
            try:
                fields, aliases = _level(selection_set, fragments, budget)
            except _TooMany:
                return f"Query exceeds maximum total selections of {MAX_SELECTIONS}"
            most_aliases = max(most_aliases, aliases)
            if depth == 1:
                root_fields += len(fields)
            stack.extend((f.selection_set, depth + 1) for f in fields if f.selection_set is not None)
    if root_fields > MAX_ROOT_FIELDS:
        return f"GraphQL queries should have at most {MAX_ROOT_FIELDS} root fields, got {root_fields}."
    if most_aliases > MAX_ALIASES:
        return (
            f"GraphQL queries should have at most {MAX_ALIASES} aliases in one selection set, "
            f"got {most_aliases}."
        )
    return None
