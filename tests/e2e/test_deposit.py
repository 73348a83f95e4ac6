"""T1 (issue #25 (6)): ``./lane deposit`` writes the deposit an evaluator asks for — the source at a
commit with its documentation, the runtime's libraries with versions and licences, the full list of
materials signed with the release key — and ``deposit.py verify`` holds it to the update
repository's root: a changed or added file, or another key, is named."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "kiosk"))
from publish import Repo  # noqa: E402

pytestmark = pytest.mark.slow


def _deposit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROJECT / "kiosk" / "deposit.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_deposit_holds_the_source_the_libraries_and_a_signed_list_and_a_change_is_named(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    Repo(tmp_path / "repo", keys).init()
    root = tmp_path / "repo" / "metadata" / "1.root.json"
    done = _deposit("--out", str(tmp_path), "--keys", str(keys), "--commit", "HEAD")
    assert done.returncode == 0, done.stderr
    archive = Path(done.stdout.strip().splitlines()[-1])
    ok = _deposit("verify", str(archive), "--root", str(root))
    assert ok.returncode == 0 and "deposit: OK" in ok.stdout, ok.stdout
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        deps = json.loads(
            tar.extractfile(next(n for n in names if n.endswith("DEPOSIT/dependencies.json"))).read()
        )  # type: ignore[union-attr]
    for must in (
        "app/cli.py",
        "docs/operations.md",
        "docs/security.md",
        "pyproject.toml",
        "kiosk/laned.service",
    ):
        assert any(n.endswith(f"/{must}") for n in names), must
    by_name = {d["name"].lower(): d for d in deps}
    assert by_name["tuf"]["version"] and by_name["textual"]["licence"] != "not stated in its metadata"
    assert "pytest" not in by_name  # the runtime's libraries, not the tests'
    # a file changed inside the deposit, or one slipped in, is named
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w:gz") as out:
        for m in src:
            data = src.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if m.name.endswith("/app/auth.py"):
                data = data + b"\n# changed\n"  # type: ignore[operator]
                m.size = len(data)
            out.addfile(m, io.BytesIO(data) if data is not None else None)
        extra = tarfile.TarInfo(names[0].split("/")[0] + "/backdoor.py")
        extra.size = 2
        out.addfile(extra, io.BytesIO(b"#\n"))
    bad = _deposit("verify", str(tampered), "--root", str(root))
    assert bad.returncode == 1 and "changed: " in bad.stdout and "/app/auth.py" in bad.stdout, bad.stdout
    assert "not in the list: " in bad.stdout and "backdoor.py" in bad.stdout
    # signed with another key: refused
    Repo(tmp_path / "other", tmp_path / "other-keys").init()
    other = _deposit("verify", str(archive), "--root", str(tmp_path / "other" / "metadata" / "1.root.json"))
    assert other.returncode == 1 and "not signed by a release key" in other.stdout
