"""Queries on the AI gateway's configuration: secrets, model definitions, endpoints and what hangs off them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tracklight.errors import AlreadyExists, NotFound
from tracklight.store import schema as s
from tracklight.store import tags
from tracklight.store.tags import upsert_tags

_sec, _md, _ep = s.gateway_secrets, s.gateway_model_definitions, s.gateway_endpoints
_map, _bind, _tag = s.gateway_endpoint_models, s.gateway_endpoint_bindings, s.gateway_endpoint_tags


@dataclass(slots=True)
class SecretRow:
    secret_id: str
    name: str
    sealed_value: str  # the Fernet token; never leaves the services layer
    masked_value: str  # JSON object
    provider: str | None
    auth_config: str | None  # JSON object
    created_by: str | None
    last_updated_by: str | None
    created_at: int
    last_updated_at: int


@dataclass(slots=True)
class ModelDefinitionRow:
    model_definition_id: str
    name: str
    secret_id: str | None
    secret_name: str | None  # joined; None when the secret is gone
    provider: str
    model_name: str
    created_by: str | None
    last_updated_by: str | None
    created_at: int
    last_updated_at: int


@dataclass(slots=True)
class MappingRow:
    mapping_id: str
    endpoint_id: str
    model_definition_id: str
    linkage_type: str
    position: int
    weight: float
    fallback_order: int | None
    created_by: str | None
    created_at: int
    model_definition: ModelDefinitionRow | None = None


@dataclass(slots=True)
class EndpointRow:
    endpoint_id: str
    name: str
    routing_strategy: str | None
    fallback_config: str | None  # JSON object
    experiment_id: int | None
    usage_tracking: bool
    created_by: str | None
    last_updated_by: str | None
    created_at: int
    last_updated_at: int
    mappings: list[MappingRow] = field(default_factory=list)
    tags: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass(slots=True)
class BindingRow:
    endpoint_id: str
    resource_type: str
    resource_id: str
    display_name: str | None
    created_by: str | None
    last_updated_by: str | None
    created_at: int
    last_updated_at: int


def _unique(conn: Connection, stmt: object, clash: Exception) -> None:
    """Run an insert or update in a savepoint: a unique key taken (by anyone, even concurrently) is `clash`."""
    try:
        with conn.begin_nested():
            conn.execute(stmt)  # type: ignore[arg-type]
    except IntegrityError:
        raise clash from None


# -- secrets -------------------------------------------------------------------------------------


def insert_secret(conn: Connection, row: SecretRow) -> None:
    clash = AlreadyExists(f"Secret with name '{row.name}' already exists")
    if conn.execute(select(_sec.c.secret_id).where(_sec.c.name == row.name)).first():
        raise clash
    values = {name: getattr(row, name) for name in SecretRow.__slots__}
    _unique(conn, insert(_sec).values(**values), clash)


def get_secret(
    conn: Connection, *, secret_id: str | None = None, name: str | None = None, for_update: bool = False
) -> SecretRow:
    stmt = select(_sec).where(_sec.c.secret_id == secret_id if secret_id is not None else _sec.c.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        shown = f"secret_id='{secret_id}'" if secret_id is not None else f"secret_name='{name}'"
        raise NotFound(f"GatewaySecret not found ({shown})")
    return SecretRow(**{name: getattr(row, name) for name in SecretRow.__slots__})


def list_secrets(conn: Connection, provider: str | None) -> list[SecretRow]:
    stmt = select(_sec).order_by(_sec.c.created_at, _sec.c.secret_id)
    if provider is not None:
        stmt = stmt.where(_sec.c.provider == provider)
    return [SecretRow(**{name: getattr(r, name) for name in SecretRow.__slots__}) for r in conn.execute(stmt)]


def update_secret(conn: Connection, secret_id: str, **values: object) -> None:
    conn.execute(update(_sec).where(_sec.c.secret_id == secret_id).values(**values))


def delete_secret(conn: Connection, secret_id: str) -> None:
    """The secret; the model definitions that used it stay, orphaned (secret_id NULL), as in MLflow."""
    conn.execute(update(_md).where(_md.c.secret_id == secret_id).values(secret_id=None))
    conn.execute(delete(_sec).where(_sec.c.secret_id == secret_id))


# -- model definitions ---------------------------------------------------------------------------


def _definitions_query():  # noqa: ANN202 - a SQL statement
    return select(_md, _sec.c.name.label("secret_name")).select_from(
        _md.outerjoin(_sec, _sec.c.secret_id == _md.c.secret_id)
    )


def _definition(r: object) -> ModelDefinitionRow:
    return ModelDefinitionRow(**{name: getattr(r, name) for name in ModelDefinitionRow.__slots__})


def insert_model_definition(conn: Connection, row: ModelDefinitionRow) -> None:
    clash = AlreadyExists(f"Model definition with name '{row.name}' already exists")
    if conn.execute(select(_md.c.model_definition_id).where(_md.c.name == row.name)).first():
        raise clash
    values = {name: getattr(row, name) for name in ModelDefinitionRow.__slots__ if name != "secret_name"}
    _unique(conn, insert(_md).values(**values), clash)


def get_model_definition(
    conn: Connection, model_definition_id: str, *, for_update: bool = False
) -> ModelDefinitionRow:
    if for_update:
        conn.execute(
            select(_md.c.model_definition_id)
            .where(_md.c.model_definition_id == model_definition_id)
            .with_for_update()
        )
    row = conn.execute(_definitions_query().where(_md.c.model_definition_id == model_definition_id)).first()
    if row is None:
        raise NotFound(f"GatewayModelDefinition not found (model_definition_id='{model_definition_id}')")
    return _definition(row)


def existing_model_definitions(conn: Connection, ids: list[str]) -> set[str]:
    found = conn.execute(select(_md.c.model_definition_id).where(_md.c.model_definition_id.in_(ids)))
    return {str(r[0]) for r in found}


def list_model_definitions(
    conn: Connection, provider: str | None, secret_id: str | None
) -> list[ModelDefinitionRow]:
    stmt = _definitions_query().order_by(_md.c.created_at, _md.c.model_definition_id)
    if provider is not None:
        stmt = stmt.where(_md.c.provider == provider)
    if secret_id is not None:
        stmt = stmt.where(_md.c.secret_id == secret_id)
    return [_definition(r) for r in conn.execute(stmt)]


def update_model_definition(conn: Connection, model_definition_id: str, **values: object) -> None:
    name = values.get("name")
    if name is not None:
        clash = AlreadyExists(f"Model definition with name '{name}' already exists")
        taken = select(_md.c.model_definition_id).where(
            _md.c.name == name, _md.c.model_definition_id != model_definition_id
        )
        if conn.execute(taken).first():
            raise clash
        stmt = update(_md).where(_md.c.model_definition_id == model_definition_id).values(**values)
        _unique(conn, stmt, clash)
        return
    conn.execute(update(_md).where(_md.c.model_definition_id == model_definition_id).values(**values))


def model_definition_in_use(conn: Connection, model_definition_id: str) -> bool:
    stmt = select(_map.c.mapping_id).where(_map.c.model_definition_id == model_definition_id).limit(1)
    return conn.execute(stmt).first() is not None


def delete_model_definition(conn: Connection, model_definition_id: str) -> None:
    conn.execute(delete(_md).where(_md.c.model_definition_id == model_definition_id))


# -- endpoints -----------------------------------------------------------------------------------

_ENDPOINT_COLUMNS = tuple(n for n in EndpointRow.__slots__ if n not in ("mappings", "tags"))


def insert_endpoint(conn: Connection, row: EndpointRow) -> None:
    clash = AlreadyExists(f"Endpoint with name '{row.name}' already exists")
    if conn.execute(select(_ep.c.endpoint_id).where(_ep.c.name == row.name)).first():
        raise clash
    _unique(conn, insert(_ep).values(**{n: getattr(row, n) for n in _ENDPOINT_COLUMNS}), clash)


def endpoint_name_taken(conn: Connection, name: str, endpoint_id: str) -> bool:
    stmt = select(_ep.c.endpoint_id).where(_ep.c.name == name, _ep.c.endpoint_id != endpoint_id)
    return conn.execute(stmt).first() is not None


def update_endpoint(conn: Connection, endpoint_id: str, **values: object) -> None:
    stmt = update(_ep).where(_ep.c.endpoint_id == endpoint_id).values(**values)
    if "name" in values:
        _unique(conn, stmt, AlreadyExists(f"Endpoint with name '{values['name']}' already exists"))
        return
    conn.execute(stmt)


def get_endpoint(
    conn: Connection, *, endpoint_id: str | None = None, name: str | None = None, for_update: bool = False
) -> EndpointRow:
    stmt = select(_ep).where(
        _ep.c.endpoint_id == endpoint_id if endpoint_id is not None else _ep.c.name == name
    )
    if for_update:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        shown = f"endpoint_id='{endpoint_id}'" if endpoint_id is not None else f"name='{name}'"
        raise NotFound(f"GatewayEndpoint not found ({shown})")
    return _with_details(conn, [row])[0]


def list_endpoints(conn: Connection, provider: str | None, secret_id: str | None) -> list[EndpointRow]:
    """Endpoints with at least one model (of `provider`, using `secret_id`, when given), oldest first."""
    uses = select(_map.c.endpoint_id).select_from(
        _map.join(_md, _md.c.model_definition_id == _map.c.model_definition_id)
    )
    if provider is not None:
        uses = uses.where(_md.c.provider == provider)
    if secret_id is not None:
        uses = uses.where(_md.c.secret_id == secret_id)
    stmt = select(_ep).where(_ep.c.endpoint_id.in_(uses)).order_by(_ep.c.created_at, _ep.c.endpoint_id)
    return _with_details(conn, conn.execute(stmt).all())


def _with_details(conn: Connection, rows: list) -> list[EndpointRow]:
    found = {r.endpoint_id: EndpointRow(**{n: getattr(r, n) for n in _ENDPOINT_COLUMNS}) for r in rows}
    for endpoint in found.values():
        endpoint.usage_tracking = bool(endpoint.usage_tracking)
    if not found:
        return []
    ids = list(found)
    for mapping in mappings(conn, ids):
        found[mapping.endpoint_id].mappings.append(mapping)
    tags = select(_tag).where(_tag.c.endpoint_id.in_(ids)).order_by(_tag.c.endpoint_id, _tag.c.key)
    for t in conn.execute(tags):
        found[t.endpoint_id].tags.append((t.key, t.value))
    return list(found.values())


def delete_endpoint(conn: Connection, endpoint_id: str) -> None:
    """The endpoint with its model mappings, bindings and tags (children first, for the foreign keys)."""
    for table in (_map, _bind, _tag):
        conn.execute(delete(table).where(table.c.endpoint_id == endpoint_id))
    conn.execute(delete(_ep).where(_ep.c.endpoint_id == endpoint_id))


# -- endpoint models -----------------------------------------------------------------------------


def mappings(conn: Connection, endpoint_ids: list[str]) -> list[MappingRow]:
    """The model mappings of these endpoints, each with its model definition, in the order made."""
    definitions = _definitions_query().subquery()
    stmt = (
        select(_map, definitions)
        .select_from(_map.join(definitions, definitions.c.model_definition_id == _map.c.model_definition_id))
        .where(_map.c.endpoint_id.in_(endpoint_ids))
        .order_by(_map.c.endpoint_id, _map.c.position)
    )
    out = []
    for r in conn.execute(stmt):
        m = r._mapping
        definition = ModelDefinitionRow(
            **{n: m[definitions.c[n]] for n in ModelDefinitionRow.__slots__}  # type: ignore[arg-type]
        )
        out.append(
            MappingRow(
                m[_map.c.mapping_id],
                m[_map.c.endpoint_id],
                m[_map.c.model_definition_id],
                m[_map.c.linkage_type],
                m[_map.c.position],
                float(m[_map.c.weight]),
                m[_map.c.fallback_order],
                m[_map.c.created_by],
                m[_map.c.created_at],
                definition,
            )
        )
    return out


def insert_mapping(conn: Connection, row: MappingRow) -> None:
    values = {n: getattr(row, n) for n in MappingRow.__slots__ if n != "model_definition"}
    clash = AlreadyExists(
        f"Model definition '{row.model_definition_id}' is already attached to endpoint '{row.endpoint_id}'"
    )
    _unique(conn, insert(_map).values(**values), clash)


def next_position(conn: Connection, endpoint_id: str) -> int:
    last = conn.execute(select(func.max(_map.c.position)).where(_map.c.endpoint_id == endpoint_id)).scalar()
    return 0 if last is None else int(last) + 1


def delete_mappings(conn: Connection, endpoint_id: str, model_definition_id: str | None = None) -> int:
    stmt = delete(_map).where(_map.c.endpoint_id == endpoint_id)
    if model_definition_id is not None:
        stmt = stmt.where(_map.c.model_definition_id == model_definition_id)
    return int(conn.execute(stmt).rowcount or 0)


# -- bindings and tags ---------------------------------------------------------------------------


def insert_binding(conn: Connection, row: BindingRow) -> None:
    clash = AlreadyExists(
        f"Binding of endpoint '{row.endpoint_id}' to {row.resource_type} '{row.resource_id}' already exists"
    )
    _unique(conn, insert(_bind).values(**{n: getattr(row, n) for n in BindingRow.__slots__}), clash)


def delete_binding(conn: Connection, endpoint_id: str, resource_type: str, resource_id: str) -> bool:
    stmt = delete(_bind).where(
        _bind.c.endpoint_id == endpoint_id,
        _bind.c.resource_type == resource_type,
        _bind.c.resource_id == resource_id,
    )
    return bool(conn.execute(stmt).rowcount)


def delete_resource_bindings(conn: Connection, resource_type: str, resource_id: str) -> None:
    conn.execute(
        delete(_bind).where(_bind.c.resource_type == resource_type, _bind.c.resource_id == resource_id)
    )


def list_bindings(
    conn: Connection, endpoint_id: str | None, resource_type: str | None, resource_id: str | None
) -> list[BindingRow]:
    stmt = select(_bind).order_by(_bind.c.created_at, _bind.c.endpoint_id, _bind.c.resource_id)
    if endpoint_id is not None:
        stmt = stmt.where(_bind.c.endpoint_id == endpoint_id)
    if resource_type is not None:
        stmt = stmt.where(_bind.c.resource_type == resource_type)
    if resource_id is not None:
        stmt = stmt.where(_bind.c.resource_id == resource_id)
    return [BindingRow(**{n: getattr(r, n) for n in BindingRow.__slots__}) for r in conn.execute(stmt)]


def set_tag(conn: Connection, endpoint_id: str, key: str, value: str) -> None:
    upsert_tags(conn, _tag, {"endpoint_id": endpoint_id}, [(key, value)])


def delete_tag(conn: Connection, endpoint_id: str, key: str) -> None:
    tags.delete_tag(conn, _tag, {"endpoint_id": endpoint_id}, key)
