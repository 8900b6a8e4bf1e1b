"""Read a live MLflow server (2.x or 3.x, self-hosted or managed) as records, over its REST API only.

For managed MLflow (SageMaker, Databricks) there is no database to read: everything comes through the
calls the stock client makes, page by page. What REST cannot show is left out, and said so: deleted
model versions (so a model's next version number is one past the highest visible), deleted logged
models, traces. With `artifact_root` given, the records name where Tracklight will hold the artifacts
(what our server would give a new run in that experiment), and `artifact_trees` lists what to copy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlparse

from tracklight.artifacts.locations import SERVED_SCHEME, child_uri
from tracklight.move.mlflow_rest import MlflowRest, MlflowServerError
from tracklight.move.records import (
    DatasetInputRecord,
    ExperimentRecord,
    LoggedModelRecord,
    ModelLinkRecord,
    ModelMetricRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunPoint,
    RunRecord,
    Tags,
)

MAX_DOUBLE = 1.7976931348623157e308
_API = "api/2.0/mlflow"
_ARTIFACTS_API = "api/2.0/mlflow-artifacts/artifacts"
# Points fetched by metric_counts and kept for the metric_points call that follows; past this, they are
# fetched again instead (a page of runs with huge histories must not fill memory).
_KEPT_POINTS = 500_000
_HISTORY_PAGE = 25_000  # as the stock client asks
_PARALLEL = 4  # concurrent calls for per-run and per-key fetches
_RUNS_AT_ONCE = 16  # runs whose histories are fetched together (bounds what one round holds)


def _value(raw: Any) -> float:
    """A metric value as proto JSON spells it ("NaN", "Infinity" are strings), infinities clamped."""
    value = float(raw) if raw is not None else 0.0
    if math.isinf(value):
        return MAX_DOUBLE if value > 0 else -MAX_DOUBLE
    return value


def _int(raw: Any, default: int = 0) -> int:
    return int(raw) if raw not in (None, "") else default


def _tags(items: list[dict[str, Any]] | None) -> Tags:
    return sorted((t["key"], t.get("value") or "") for t in items or [])


@dataclass(frozen=True, slots=True)
class ArtifactTree:
    """One run's or logged model's artifacts: where they are on the source, and where they go."""

    kind: str  # "run" or "model"
    owner_id: str  # the run or model id
    source_uri: str
    target_uri: str


class MlflowServerSource:
    """A live MLflow tracking server and its model registry, read over REST."""

    def __init__(self, url: str, *, artifact_root: str | None = None, page: int = 500) -> None:
        self.rest = MlflowRest(url)
        self.url = url
        self.artifact_root = artifact_root  # None: URIs are kept as the source has them
        self.page = page
        self._pool = ThreadPoolExecutor(_PARALLEL)
        self._run_keys: dict[str, tuple[int, list[str]]] = {}  # the last page's runs: experiment, keys
        self._kept: dict[str, list[RunPoint]] = {}
        self._logged_models: bool | None = None
        self._run_uris: dict[str, tuple[int, str] | None] = {}
        self._model_uris: dict[str, tuple[int, str] | None] = {}
        self._now = int(time.time() * 1000)

    def close(self) -> None:
        self._pool.shutdown()
        self.rest.close()

    def describe(self) -> str:
        try:
            version = self.rest.text("version").strip()
        except MlflowServerError:
            version = "unknown"
        return f"MLflow server {self.url} (version {version})"

    # -- where artifacts land --------------------------------------------------------------------------

    def _experiment_location(self, experiment_id: int, source: str) -> str:
        return source if self.artifact_root is None else child_uri(self.artifact_root, str(experiment_id))

    def target_run_uri(self, experiment_id: int, run_id: str, source: str) -> str:
        if self.artifact_root is None:
            return source
        return child_uri(self._experiment_location(experiment_id, ""), run_id, "artifacts")

    def target_model_uri(self, experiment_id: int, model_id: str, source: str) -> str:
        if self.artifact_root is None:
            return source
        return child_uri(self._experiment_location(experiment_id, ""), "models", model_id, "artifacts")

    # -- what is there --------------------------------------------------------------------------------

    def counts(self) -> dict[str, int | None]:
        """Everything is counted by listing it, except metric points (that would read every history)."""
        experiments = self.experiments()
        found: dict[str, int | None] = {
            "experiments": len(experiments),
            "experiment tags": sum(len(e.tags) for e in experiments),
            "runs": 0,
            "params": 0,
            "run tags": 0,
            "metric points": None,
            "dataset inputs": 0,
            "logged-model links": None,
        }
        for page in self._raw_run_pages():
            found["runs"] = (found["runs"] or 0) + len(page)
            for run in page:
                data = run.get("data") or {}
                found["params"] = (found["params"] or 0) + len(data.get("params") or [])
                found["run tags"] = (found["run tags"] or 0) + len(data.get("tags") or [])
                inputs = (run.get("inputs") or {}).get("dataset_inputs") or []
                found["dataset inputs"] = (found["dataset inputs"] or 0) + len(inputs)
        models = [m for page in self.logged_model_pages() for m in page]
        found["logged models"] = len(models)
        found["logged-model metrics"] = sum(len(page) for page in self.model_metric_pages())
        registered = [m for page in self.registered_model_pages() for m in page]
        found["registered models"] = len(registered)
        found["model versions"] = sum(len(m.versions) for m in registered)
        found["model aliases"] = sum(len(m.aliases) for m in registered)
        return found

    def skipped(self) -> dict[str, int]:
        return {}  # traces, evaluation data and the like are not listed over REST here

    def workspaces(self) -> list[str]:
        return []

    # -- experiments and runs ---------------------------------------------------------------------------

    def experiments(self) -> list[ExperimentRecord]:
        found = []
        for page in self.rest.pages(
            "POST", f"{_API}/experiments/search", "experiments", view_type="ALL", max_results=1000
        ):
            for e in page:
                exp_id = int(e["experiment_id"])
                found.append(
                    ExperimentRecord(
                        experiment_id=exp_id,
                        name=e["name"],
                        artifact_location=self._experiment_location(exp_id, e.get("artifact_location") or ""),
                        lifecycle_stage=e.get("lifecycle_stage") or "active",
                        creation_time=_int(e.get("creation_time")),
                        last_update_time=_int(e.get("last_update_time") or e.get("creation_time")),
                        tags=_tags(e.get("tags")),
                    )
                )
        return sorted(found, key=lambda x: x.experiment_id)

    def _raw_run_pages(self) -> Iterator[list[dict[str, Any]]]:
        """runs/search pages, experiment by experiment, deleted runs (and deleted experiments') included."""
        for experiment in self.experiments():
            yield from self.rest.pages(
                "POST",
                f"{_API}/runs/search",
                "runs",
                experiment_ids=[str(experiment.experiment_id)],
                run_view_type="ALL",
                max_results=self.page,
            )

    def run_pages(self) -> Iterator[list[RunRecord]]:
        for page in self._raw_run_pages():
            self._run_keys.clear()
            records = []
            for run in page:
                info, data = run["info"], run.get("data") or {}
                run_id = info.get("run_id") or info["run_uuid"]
                exp_id = int(info["experiment_id"])
                self._run_keys[run_id] = (exp_id, sorted({m["key"] for m in data.get("metrics") or []}))
                tags = _tags(data.get("tags"))
                records.append(
                    RunRecord(
                        run_id=run_id,
                        experiment_id=exp_id,
                        name=info.get("run_name") or dict(tags).get("mlflow.runName", ""),
                        user_id=info.get("user_id") or "",
                        status=info.get("status") or "RUNNING",
                        start_time=_int(info.get("start_time")),
                        end_time=_int(info["end_time"]) if info.get("end_time") not in (None, "") else None,
                        lifecycle_stage=info.get("lifecycle_stage") or "active",
                        artifact_uri=self.target_run_uri(exp_id, run_id, info.get("artifact_uri") or ""),
                        # Not on the wire: a deleted run counts as deleted when it is imported, so that
                        # `gc --older-than` does not take it sooner than it would have on the source.
                        deleted_time=self._now if info.get("lifecycle_stage") == "deleted" else None,
                        params=_tags(data.get("params")),
                        tags=tags,
                    )
                )
            yield records

    # -- inputs ---------------------------------------------------------------------------------------

    def dataset_inputs(self) -> Iterator[list[DatasetInputRecord]]:
        for page in self._raw_run_pages():
            found = []
            for run in page:
                info = run["info"]
                for item in (run.get("inputs") or {}).get("dataset_inputs") or []:
                    d = item.get("dataset") or {}
                    found.append(
                        DatasetInputRecord(
                            run_id=info.get("run_id") or info["run_uuid"],
                            experiment_id=int(info["experiment_id"]),
                            name=d.get("name") or "",
                            digest=d.get("digest") or "",
                            source_type=d.get("source_type") or "",
                            source=d.get("source") or "",
                            schema=d.get("schema"),
                            profile=d.get("profile"),
                            tags=_tags(item.get("tags")),
                        )
                    )
            if found:
                yield found

    def _has_logged_models(self) -> bool:
        """Whether the server knows logged models (MLflow 3): 2.x answers 404 for the route itself (with
        ENDPOINT_NOT_FOUND, or no MLflow error at all), not a 404 about an experiment."""
        if self._logged_models is None:
            experiments = self.experiments()
            probe = [str(experiments[0].experiment_id)] if experiments else ["0"]
            try:
                self.rest.post(f"{_API}/logged-models/search", {"experiment_ids": probe, "max_results": 1})
                self._logged_models = True
            except MlflowServerError as exc:
                if exc.status not in (404, 405, 501) or exc.code not in (None, "ENDPOINT_NOT_FOUND"):
                    raise
                self._logged_models = False
        return self._logged_models

    def model_links(self) -> Iterator[list[ModelLinkRecord]]:
        """Logged-model outputs come with runs/search; inputs only with runs/get, so each run is fetched."""
        if not self._has_logged_models():
            return
        for page in self._raw_run_pages():
            ids = [r["info"].get("run_id") or r["info"]["run_uuid"] for r in page]
            found = []
            for run_id, run in zip(ids, self._pool.map(self._get_run, ids), strict=True):
                if run is None:
                    continue
                for m in (run.get("inputs") or {}).get("model_inputs") or []:
                    found.append(ModelLinkRecord(run_id, "input", m["model_id"], None))
                for m in (run.get("outputs") or {}).get("model_outputs") or []:
                    found.append(ModelLinkRecord(run_id, "output", m["model_id"], _int(m.get("step"))))
            if found:
                yield found

    def _get_run(self, run_id: str) -> dict[str, Any] | None:
        try:
            return self.rest.get(f"{_API}/runs/get", run_id=run_id)["run"]
        except MlflowServerError as exc:
            if exc.status == 404:
                return None
            raise

    # -- metrics --------------------------------------------------------------------------------------

    def _history(self, run_id: str, key: str) -> list[RunPoint]:
        points: list[RunPoint] = []
        for page in self.rest.pages(
            "GET",
            f"{_API}/metrics/get-history",
            "metrics",
            run_id=run_id,
            run_uuid=run_id,
            metric_key=key,
            max_results=_HISTORY_PAGE,
        ):
            for m in page:
                value = _value(m.get("value"))
                nan = value != value
                # As the SQL stores spell a point: NaN is is_nan with a value of 0.
                points.append(
                    (run_id, key, _int(m.get("step")), _int(m.get("timestamp")), 0.0 if nan else value, nan)
                )
        return points

    def _keys(self, run_id: str) -> list[str]:
        known = self._run_keys.get(run_id)
        if known is not None:
            return known[1]
        run = self._get_run(run_id)
        return sorted({m["key"] for m in ((run or {}).get("data") or {}).get("metrics") or []})

    def _points_of(self, run_ids: Sequence[str]) -> dict[str, list[RunPoint]]:
        """The points of a few runs, every (run, key) history fetched concurrently."""
        pairs = [(run_id, key) for run_id in run_ids for key in self._keys(run_id)]
        found: dict[str, list[RunPoint]] = {run_id: [] for run_id in run_ids}
        for (run_id, _), points in zip(
            pairs, self._pool.map(lambda p: self._history(*p), pairs), strict=True
        ):
            found[run_id].extend(points)
        return found

    def metric_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        """Points per run. REST has no count, so the histories are fetched, and kept for metric_points."""
        self._kept.clear()
        kept = 0
        counts = {}
        for start in range(0, len(run_ids), _RUNS_AT_ONCE):
            for run_id, points in self._points_of(run_ids[start : start + _RUNS_AT_ONCE]).items():
                if points:
                    counts[run_id] = len(points)
                    if kept + len(points) <= _KEPT_POINTS:
                        self._kept[run_id] = points
                        kept += len(points)
        return counts

    def metric_points(self, run_ids: Sequence[str]) -> Iterator[list[RunPoint]]:
        for run_id in run_ids:
            points = self._kept.pop(run_id, None)
            if points is None:
                points = self._points_of([run_id])[run_id]
            if points:
                yield points
        self._kept.clear()

    # -- logged models ----------------------------------------------------------------------------------

    def _raw_logged_models(self) -> Iterator[list[dict[str, Any]]]:
        if not self._has_logged_models():
            return
        ids = [str(e.experiment_id) for e in self.experiments()]
        for start in range(0, len(ids), 100):
            yield from self.rest.pages(
                "POST",
                f"{_API}/logged-models/search",
                "models",
                experiment_ids=ids[start : start + 100],
                max_results=100,
            )

    def logged_model_pages(self) -> Iterator[list[LoggedModelRecord]]:
        """The logged models search shows (deleted ones are not listed over REST)."""
        for page in self._raw_logged_models():
            records = []
            for m in page:
                info, data = m["info"], m.get("data") or {}
                exp_id = int(info["experiment_id"])
                records.append(
                    LoggedModelRecord(
                        model_id=info["model_id"],
                        experiment_id=exp_id,
                        name=info.get("name") or "",
                        model_type=info.get("model_type"),
                        source_run_id=info.get("source_run_id"),
                        status=info.get("status") or "LOGGED_MODEL_STATUS_UNSPECIFIED",
                        status_message=info.get("status_message"),
                        artifact_uri=self.target_model_uri(
                            exp_id, info["model_id"], info.get("artifact_uri") or ""
                        ),
                        lifecycle_stage="active",
                        creation_time=_int(info.get("creation_timestamp_ms")),
                        last_updated_time=_int(info.get("last_updated_timestamp_ms")),
                        params=_tags(data.get("params")),
                        tags=_tags(info.get("tags")),
                    )
                )
            yield records

    def model_metric_pages(self) -> Iterator[list[ModelMetricRecord]]:
        for page in self._raw_logged_models():
            found = [
                ModelMetricRecord(
                    model_id=m["info"]["model_id"],
                    key=x["key"],
                    step=_int(x.get("step")),
                    timestamp=_int(x.get("timestamp")),
                    value=_value(x.get("value")),
                    run_id=x.get("run_id") or "",
                    dataset_name=x.get("dataset_name"),
                    dataset_digest=x.get("dataset_digest"),
                )
                for m in page
                for x in (m.get("data") or {}).get("metrics") or []
            ]
            if found:
                yield found

    # -- model registry ---------------------------------------------------------------------------------

    def registered_model_pages(self) -> Iterator[list[RegisteredModelRecord]]:
        """Registered models with tags, aliases and versions. Deleted versions are not visible over REST,
        so last_version is the highest visible one (a number the source handed out to a version deleted
        since may be handed out again)."""
        for page in self.rest.pages(
            "GET", f"{_API}/registered-models/search", "registered_models", max_results=1000
        ):
            records = []
            for m in page:
                full = self.rest.get(f"{_API}/registered-models/get", name=m["name"])["registered_model"]
                versions = [self._version(v) for v in self._versions(m["name"])]
                records.append(
                    RegisteredModelRecord(
                        name=m["name"],
                        description=full.get("description"),
                        creation_time=_int(full.get("creation_timestamp")),
                        last_updated_time=_int(
                            full.get("last_updated_timestamp") or full.get("creation_timestamp")
                        ),
                        last_version=max((v.version for v in versions), default=0),
                        tags=_tags(full.get("tags")),
                        aliases=sorted((a["alias"], int(a["version"])) for a in full.get("aliases") or []),
                        versions=sorted(versions, key=lambda v: v.version),
                    )
                )
            yield records

    def _versions(self, name: str) -> Iterator[dict[str, Any]]:
        quote_mark = "'" if "'" not in name else '"'
        for page in self.rest.pages(
            "GET",
            f"{_API}/model-versions/search",
            "model_versions",
            filter=f"name={quote_mark}{name}{quote_mark}",
            max_results=1000,
        ):
            yield from page

    def _version(self, v: dict[str, Any]) -> ModelVersionRecord:
        source = v.get("source") or ""
        run_id = v.get("run_id") or None
        # REST does not carry a version's logged model; a models:/<model id> source names it.
        rest = source[len("models:") :].lstrip("/") if source.startswith("models:") else ""
        model_id = v.get("model_id") or (rest if rest.startswith("m-") and "/" not in rest else None)
        source, location = self._relocate_source(source, run_id, model_id)
        return ModelVersionRecord(
            name=v["name"],
            version=int(v["version"]),
            creation_time=_int(v.get("creation_timestamp")),
            last_updated_time=_int(v.get("last_updated_timestamp") or v.get("creation_timestamp")),
            description=v.get("description"),
            user_id=v.get("user_id"),
            current_stage=v.get("current_stage") or "None",
            source=source,
            storage_location=location,
            run_id=run_id,
            run_link=v.get("run_link"),
            model_id=model_id,
            status=v.get("status") or "READY",
            status_message=v.get("status_message"),
            tags=_tags(v.get("tags")),
        )

    def _relocate_source(
        self, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None]:
        """(source, download location) of a version as Tracklight holds it: a source inside a copied run's
        or model's artifacts points at the copy; runs:/ and models:/ sources stay, and their download
        location is worked out as our server does when a version is created."""
        run = self._run_location(run_id) if run_id else None
        model = self._model_location(model_id) if model_id else None
        scheme = urlparse(source).scheme
        if scheme == "runs":
            run_part = source[len("runs:") :].lstrip("/")
            source_run, _, path = run_part.partition("/")
            found = self._run_location(source_run)
            return source, child_uri(found[1], path) if found else None
        if scheme == "models":
            return source, model[1] if model else None
        for found in (run, model):
            if found is not None:
                old, new = found
                if source == old or source.startswith(old.rstrip("/") + "/"):
                    return new + source[len(old) :], None
        return source, None

    def _run_location(self, run_id: str) -> tuple[str, str] | None:
        """(source artifact URI, target artifact URI) of a run, or None if the source has no such run."""
        if run_id not in self._run_uris:
            run = self._get_run(run_id)
            self._run_uris[run_id] = (
                None
                if run is None
                else (int(run["info"]["experiment_id"]), run["info"].get("artifact_uri") or "")
            )
        found = self._run_uris[run_id]
        if found is None:
            return None
        return found[1], self.target_run_uri(found[0], run_id, found[1])

    def _model_location(self, model_id: str) -> tuple[str, str] | None:
        if model_id not in self._model_uris:
            try:
                info = self.rest.get(f"{_API}/logged-models/{quote(model_id, safe='')}")["model"]["info"]
                self._model_uris[model_id] = (int(info["experiment_id"]), info.get("artifact_uri") or "")
            except MlflowServerError as exc:
                if exc.status != 404:
                    raise
                self._model_uris[model_id] = None
        found = self._model_uris[model_id]
        if found is None:
            return None
        return found[1], self.target_model_uri(found[0], model_id, found[1])

    # -- artifacts ------------------------------------------------------------------------------------

    def artifact_trees(self) -> Iterator[ArtifactTree]:
        """Every run's and logged model's artifact folder, with where it goes in Tracklight."""
        for page in self._raw_run_pages():
            for run in page:
                info = run["info"]
                run_id = info.get("run_id") or info["run_uuid"]
                uri = info.get("artifact_uri") or ""
                yield ArtifactTree(
                    "run", run_id, uri, self.target_run_uri(int(info["experiment_id"]), run_id, uri)
                )
        for page in self._raw_logged_models():
            for m in page:
                info = m["info"]
                uri = info.get("artifact_uri") or ""
                target = self.target_model_uri(int(info["experiment_id"]), info["model_id"], uri)
                yield ArtifactTree("model", info["model_id"], uri, target)

    def artifact_files(self, tree: ArtifactTree, under: str = "") -> Iterator[tuple[str, int | None]]:
        """(path relative to the tree, size) of every file in it, depth first."""
        for path, is_dir, size in self._list(tree, under):
            if is_dir:
                yield from self.artifact_files(tree, path)
            else:
                yield path, size

    def _list(self, tree: ArtifactTree, under: str) -> list[tuple[str, bool, int | None]]:
        served = _served_path(tree.source_uri)
        if served is not None:
            directory = "/".join(p for p in (served, under) if p)
            body = self.rest.get(_ARTIFACTS_API, path=directory)
            return [
                (
                    "/".join(p for p in (under, f["path"].rsplit("/", 1)[-1]) if p),
                    bool(f.get("is_dir")),
                    _size(f),
                )
                for f in body.get("files") or []
            ]
        if tree.kind == "run":
            body = self.rest.get(
                f"{_API}/artifacts/list", run_id=tree.owner_id, run_uuid=tree.owner_id, path=under or None
            )
        else:
            body = self.rest.get(
                f"{_API}/logged-models/{quote(tree.owner_id, safe='')}/artifacts/directories",
                artifact_directory_path=under or None,
            )
        # These listings name files relative to the tree's root.
        return [(f["path"], bool(f.get("is_dir")), _size(f)) for f in body.get("files") or []]

    def artifact_bytes(self, tree: ArtifactTree, path: str) -> Iterator[bytes]:
        served = _served_path(tree.source_uri)
        if served is not None:
            return self.rest.download(f"{_ARTIFACTS_API}/{quote('/'.join(p for p in (served, path) if p))}")
        if tree.kind == "run":
            return self.rest.download("get-artifact", run_id=tree.owner_id, run_uuid=tree.owner_id, path=path)
        return self.rest.download(
            f"ajax-api/2.0/mlflow/logged-models/{quote(tree.owner_id, safe='')}/artifacts/files",
            artifact_file_path=path,
        )


def _served_path(uri: str) -> str | None:
    """The path under the server's artifact proxy of an mlflow-artifacts: URI; None for any other URI."""
    parsed = urlparse(uri)
    return parsed.path.strip("/") if parsed.scheme == SERVED_SCHEME else None


def _size(info: dict[str, Any]) -> int | None:
    return _int(info["file_size"]) if info.get("file_size") not in (None, "") else None
