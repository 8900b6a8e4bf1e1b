"""What a server loads at start-up: libraries only some servers need wait for their first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Each is loaded by the first request that needs it: a dashboard page, an OTLP export, a signed proxy
# assertion, a webhook delivery, a webhook secret, a PostgreSQL statement.
DEFERRED = [
    "jinja2",
    "tracklight.dashboard.router",
    "google.protobuf",
    "jwt",
    "urllib3",
    "cryptography",
    "sqlalchemy.dialects.postgresql",
]

_PROBE = """
import json, sys
from tracklight.config import load_settings
from tracklight.startup import start
application, app = start(load_settings(backend_store_uri=sys.argv[1], artifacts_destination=sys.argv[2]))
print(json.dumps(sorted(sys.modules)))
"""


def started(tmp_path: Path) -> set[str]:
    """The modules loaded once a server on tmp_path's SQLite file has started."""
    argv = [sys.executable, "-c", _PROBE, f"sqlite:///{tmp_path / 'db.db'}", str(tmp_path / "artifacts")]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_a_sqlite_server_starts_without_the_libraries_of_features_not_used_yet(tmp_path: Path) -> None:
    started(tmp_path)  # the first start creates the schema, with Alembic, which loads all its dialects
    loaded = started(tmp_path)
    assert "tracklight.http.app" in loaded  # the probe did build the app
    assert sorted(m for m in DEFERRED if m in loaded) == []
