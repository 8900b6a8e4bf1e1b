"""Shared helpers for the deployment-file tests: load Terraform with python-hcl2 8.x, find tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "deploy" / "terraform"


def load_hcl(path: Path) -> dict:
    """Parse one .tf file to plain dicts.

    python-hcl2 8.x keeps quotes on strings and block labels and adds __is_block__ markers unless told
    otherwise, so strip them for test-friendly output.
    """
    import hcl2

    opts = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    with path.open() as f:
        return hcl2.load(f, serialization_options=opts)


def load_module(directory: Path) -> dict[str, list]:
    """Every top-level block of the module's *.tf files (not subdirectories), merged by block type."""
    merged: dict[str, list] = {}
    for tf in sorted(directory.glob("*.tf")):
        for kind, blocks in load_hcl(tf).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def resources(module: dict[str, list], block: str = "resource") -> dict[str, dict]:
    """{"aws_s3_bucket.artifacts": {...}} for every resource (or data source with block="data")."""
    out: dict[str, dict] = {}
    for entry in module.get(block, []):
        for rtype, instances in entry.items():
            for name, body in instances.items():
                out[f"{rtype}.{name}"] = body
    return out


def of_type(module: dict[str, list], rtype: str, block: str = "resource") -> dict[str, dict]:
    return {k: v for k, v in resources(module, block).items() if k.split(".", 1)[0] == rtype}


def variables(module: dict[str, list]) -> dict[str, dict]:
    return {name: body for entry in module.get("variable", []) for name, body in entry.items()}


def outputs(module: dict[str, list]) -> dict[str, dict]:
    return {name: body for entry in module.get("output", []) for name, body in entry.items()}


def terraform_bin() -> str:
    found = shutil.which("terraform")
    if not found:
        pytest.skip("terraform is not installed (CI has it at /usr/local/bin/terraform)")
    return found


def terraform_env(tmp_path: Path) -> dict[str, str]:
    """Environment for offline terraform runs: an empty CLI config (no warning about a missing
    TF_CLI_CONFIG_FILE), no checkpoint calls, a private data dir."""
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text("")
    env = dict(os.environ)
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        TF_DATA_DIR=str(tmp_path / "tf-data"),
    )
    return env


def checkov_bin() -> str:
    configured = os.environ.get("TRACKLIGHT_TEST_CHECKOV_BIN")
    candidate = Path(configured) if configured else REPO / ".venv-checkov" / "bin" / "checkov"
    if not candidate.exists():
        pytest.skip(f"checkov not found at {candidate} (scripts/test installs it into .venv-checkov)")
    return str(candidate)


def evaluate(
    tmp_path: Path,
    module_dir: Path,
    local_file: str,
    replacements: dict[str, str],
    values: dict[str, object],
    expression: str,
) -> object:
    """`expression` as terraform itself evaluates it in a provider-free copy of the module's variables.tf and
    `local_file`, whose references to resources and data sources are replaced by literals first."""
    work = tmp_path / f"eval-{module_dir.name}"
    work.mkdir(exist_ok=True)
    (work / "variables.tf").write_text((module_dir / "variables.tf").read_text())
    source = (module_dir / local_file).read_text()
    for reference, literal in replacements.items():
        assert reference in source, f"{reference} is not in {local_file}"
        source = source.replace(reference, json.dumps(literal))
    (work / local_file).write_text(source)
    (work / "case.tfvars.json").write_text(json.dumps(values))
    env = terraform_env(work)
    run = {"cwd": work, "capture_output": True, "text": True, "env": env, "timeout": 120}
    init = subprocess.run([terraform_bin(), "init", "-backend=false", "-input=false"], **run)  # type: ignore[call-overload]
    assert init.returncode == 0, init.stdout + init.stderr
    result = subprocess.run(
        [terraform_bin(), "console", "-var-file=case.tfvars.json"],
        input=f"jsonencode({expression})\n",
        **run,  # type: ignore[call-overload]
    )
    if result.returncode != 0:
        raise TerraformRefused(result.stdout + result.stderr)
    return json.loads(json.loads(result.stdout.strip()))  # console prints the JSON text as an HCL string


class TerraformRefused(AssertionError):
    """terraform did not evaluate: a variable's validation refused its input, or the code is wrong."""
