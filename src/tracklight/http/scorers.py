"""MLflow 3 registered scorers on the wire (/api/3.0/mlflow/scorers/...), online configurations included."""

from __future__ import annotations

from typing import Any

from tracklight.errors import InvalidParameter
from tracklight.http.request import Fields
from tracklight.services.scorers import Scorers
from tracklight.store.scorers import OnlineScoringConfig, ScorerVersion

Json = dict[str, Any]


def _required(f: Fields, name: str) -> str:
    """A required string field; empty counts as missing, as proto JSON cannot tell them apart."""
    value = f.str(name)
    if not value:
        raise InvalidParameter(
            f"Missing value for required parameter '{name}'. See the API docs for more information."
        )
    return value


def encode_scorer(v: ScorerVersion) -> Json:
    """A version as the Scorer message of service.proto, whose experiment_id is a number."""
    return {
        "experiment_id": v.experiment_id,
        "scorer_name": v.name,
        "scorer_version": v.version,
        "serialized_scorer": v.serialized_scorer,
        "creation_time": v.creation_time,
        "scorer_id": v.scorer_id,
    }


def encode_config(c: OnlineScoringConfig) -> Json:
    out: Json = {
        "online_scoring_config_id": c.config_id,
        "scorer_id": c.scorer_id,
        "sample_rate": c.sample_rate,
        "experiment_id": str(c.experiment_id),
    }
    if c.filter_string is not None:
        out["filter_string"] = c.filter_string
    return out


def _scorers(found: list[ScorerVersion]) -> Json:
    return {"scorers": [encode_scorer(v) for v in found]} if found else {}


def register_scorer(f: Fields, scorers: Scorers) -> Json:
    v = scorers.register(
        _required(f, "experiment_id"), _required(f, "name"), _required(f, "serialized_scorer")
    )
    # RegisterScorer.Response names its fields unlike the Scorer message, and its experiment_id is text.
    return {
        "version": v.version,
        "scorer_id": v.scorer_id,
        "experiment_id": str(v.experiment_id),
        "name": v.name,
        "serialized_scorer": v.serialized_scorer,
        "creation_time": v.creation_time,
    }


def list_scorers(f: Fields, scorers: Scorers) -> Json:
    return _scorers(scorers.list_latest(_required(f, "experiment_id")))


def list_scorer_versions(f: Fields, scorers: Scorers) -> Json:
    return _scorers(scorers.list_versions(_required(f, "experiment_id"), _required(f, "name")))


def get_scorer(f: Fields, scorers: Scorers) -> Json:
    found = scorers.get(_required(f, "experiment_id"), _required(f, "name"), f.int("version"))
    return {"scorer": encode_scorer(found)}


def delete_scorer(f: Fields, scorers: Scorers) -> Json:
    scorers.delete(_required(f, "experiment_id"), _required(f, "name"), f.int("version"))
    return {}


def upsert_online_config(f: Fields, scorers: Scorers) -> Json:
    rate = f.float("sample_rate", required=True)
    assert rate is not None
    config = scorers.configure_online(
        _required(f, "experiment_id"), _required(f, "name"), rate, f.str("filter_string")
    )
    return {"config": encode_config(config)}


def get_online_configs(f: Fields, scorers: Scorers) -> Json:
    if f.raw("scorer_ids") is None:
        raise InvalidParameter(
            "Missing value for required parameter 'scorer_ids'. See the API docs for more information."
        )
    return {"configs": [encode_config(c) for c in scorers.online_configs(f.strings("scorer_ids"))]}


_S = "scorers"
# (methods, path under /mlflow/, handler, service name), served under /api/3.0 and /ajax-api/3.0 only.
SCORER_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "scorers/register", register_scorer, _S),
    (("GET",), "scorers/list", list_scorers, _S),
    (("GET",), "scorers/versions", list_scorer_versions, _S),
    (("GET",), "scorers/get", get_scorer, _S),
    (("DELETE",), "scorers/delete", delete_scorer, _S),
    (("PUT",), "scorers/online-config", upsert_online_config, _S),
    (("GET",), "scorers/online-configs", get_online_configs, _S),
]
