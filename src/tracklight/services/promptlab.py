"""PromptLab runs: one prompt tried against a model route, kept as a finished run with its evaluation table."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from tracklight.services.artifacts import Artifacts
from tracklight.store.records import Run

log = logging.getLogger("tracklight")

EVAL_TABLE = "eval_results_table.json"


@dataclass(frozen=True)
class PromptTrial:
    """What the UI's prompt engineering page sends: the prompt, the route, the input and what came out."""

    experiment_id: str
    run_name: str | None
    user_id: str
    start_time: int
    tags: list[tuple[str, str]]
    prompt_template: str
    prompt_parameters: list[tuple[str, str]]
    model_route: str
    model_parameters: list[tuple[str, str]]
    model_input: str
    model_output: str | None
    model_output_parameters: list[tuple[str, str]]


def eval_table(trial: PromptTrial) -> str:
    """The one-row table the UI shows: prompt parameters, the prompt, the output, then output parameters."""
    columns = [k for k, _ in trial.prompt_parameters] + ["prompt", "output"]
    columns += [k for k, _ in trial.model_output_parameters]
    row = [v for _, v in trial.prompt_parameters] + [trial.model_input, trial.model_output]
    row += [v for _, v in trial.model_output_parameters]
    return json.dumps({"columns": columns, "data": [row]})


def record_trial(artifacts: Artifacts, trial: PromptTrial) -> Run:
    """Create the run, log the route and template as params, write the table; the run ends FINISHED,
    or FAILED when logging fails after it was created (the reference answers 200 either way)."""
    runs = artifacts.runs
    assert runs is not None  # promptlab routes exist only on servers with a tracking store
    run = runs.create(
        experiment_id=trial.experiment_id,
        user_id=trial.user_id,
        run_name=trial.run_name,
        start_time=trial.start_time,
        tags=trial.tags,
    )
    status = "FINISHED"
    try:
        params = [*trial.model_parameters, ("model_route", trial.model_route)]
        params.append(("prompt_template", trial.prompt_template))
        tags = [
            ("mlflow.loggedArtifacts", json.dumps([{"path": EVAL_TABLE, "type": "table"}])),
            ("mlflow.runSourceType", "PROMPT_ENGINEERING"),
        ]
        runs.log_batch(run.run_id, metrics=[], params=params, tags=tags)
        store, path = artifacts.run_location(run.run_id, EVAL_TABLE)
        body = eval_table(trial).encode()
        writer = store.open_writer(path, len(body))
        try:
            writer.write(body)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    except Exception:
        log.warning("promptlab run %s could not be completed", run.run_id, exc_info=True)
        status = "FAILED"
    runs.update(run.run_id, status=status, end_time=int(time.time() * 1000), run_name=None)
    return runs.get(run.run_id)
