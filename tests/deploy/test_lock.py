"""The image's dependency lock: the Dockerfile installs from it alone, and it covers what pyproject.toml needs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from deploy.test_container import instructions, stages

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "image.lock"
PYPROJECT = ROOT / "pyproject.toml"
IMAGE_EXTRA = "cloud"


def locked() -> dict[str, tuple[Version, list[str], str]]:
    """{name: (version, hashes, marker)} for every requirement of the lock."""
    entries: dict[str, tuple[Version, list[str], str]] = {}
    text = re.sub(r"\\\n\s*", " ", LOCK.read_text())  # join continuation lines
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        spec = re.sub(r"--hash=\S+", "", line).strip()
        requirement = Requirement(spec)
        (pin,) = requirement.specifier
        assert pin.operator == "==", f"not pinned exactly: {spec}"
        entries[canonicalize_name(requirement.name)] = (Version(pin.version), hashes, str(requirement.marker))
    return entries


def image_requirements() -> list[Requirement]:
    """pyproject's base dependencies and the image's extra, with extras of tracklight itself expanded."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extras = project["optional-dependencies"]
    out: list[Requirement] = []
    pending = [Requirement(r) for r in project["dependencies"]] + [Requirement(f"tracklight[{IMAGE_EXTRA}]")]
    while pending:
        requirement = pending.pop()
        if canonicalize_name(requirement.name) == "tracklight":
            for extra in requirement.extras:
                pending += [Requirement(r) for r in extras[extra]]
            continue
        out.append(requirement)
    return out


def test_every_locked_package_is_pinned_with_hashes() -> None:
    entries = locked()
    assert len(entries) > 20, "the lock looks empty"
    for name, (_, hashes, _) in entries.items():
        assert hashes, f"{name} has no --hash in the lock"
    assert "uv pip compile pyproject.toml --extra cloud --generate-hashes" in LOCK.read_text()


def test_lock_covers_pyproject_dependencies() -> None:
    """Each dependency (and extra's dependency) of the image set is locked at a version it allows."""
    entries = locked()
    for requirement in image_requirements():
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{requirement} is not in {LOCK.relative_to(ROOT)}: refresh the lock"
        version = entries[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{LOCK.name} pins {name}=={version}, outside pyproject's {requirement}: refresh the lock"
        )
    # What the extras pull in is locked too: PyMySQL's rsa extra (caching_sha2_password) needs cryptography.
    assert "cryptography" in entries


def test_dockerfile_installs_from_the_lock_only() -> None:
    builder = stages()[0]
    copies = [rest for keyword, rest in builder if keyword == "COPY"]
    assert any(rest.split()[0] == "requirements/image.lock" for rest in copies), copies
    runs = [rest for keyword, rest in builder if keyword == "RUN"]
    installs = [
        part.strip() for run in runs for part in run.split("&&") if re.search(r"\bpip install\b", part)
    ]
    assert installs, runs
    lock_installs = [i for i in installs if "-r requirements/image.lock" in i]
    assert len(lock_installs) == 1 and "--require-hashes" in lock_installs[0], installs
    for other in installs:
        if other not in lock_installs:
            # Anything else (the project's own wheel) must not resolve dependencies of its own.
            assert "--no-deps" in other, f"an install that may resolve unpinned dependencies: {other}"
    # The lock is installed before the wheel.
    flat = " && ".join(runs)
    assert flat.index("requirements/image.lock") < flat.index("/build/dist/tracklight-")
    assert [k for k, _ in instructions()].count("FROM") >= 2


def test_mysql_login_needs_are_base_dependencies() -> None:
    """MySQL 8 / RDS default to caching_sha2_password: PyMySQL completes it only with cryptography."""
    base = [Requirement(r) for r in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]]
    by_name = {canonicalize_name(r.name): r for r in base}
    assert "rsa" in by_name["pymysql"].extras or "cryptography" in by_name, by_name["pymysql"]


def test_pymysql_can_rsa_encrypt_a_password() -> None:
    """The path PyMySQL takes for caching_sha2_password over a plain connection, with a real key pair."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from pymysql import _auth

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    salt = b"0123456789abcdefghij"
    sealed = _auth.sha2_rsa_encrypt(b"s3cret", salt, pem)
    plain = key.decrypt(
        sealed, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    )
    # PyMySQL XORs the NUL-terminated password with the salt before sealing it.
    assert bytes(a ^ b for a, b in zip(plain, salt * 2, strict=False)) == b"s3cret\0"
