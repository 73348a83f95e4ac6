"""Issue #24 (1): ``./lane package`` builds ``otolane_<version>_<arch>.deb`` — its fields, its
contents (every data file the code reads is in it; nothing under /etc/otolane or /var/lib/otolane),
its maintainer scripts run against a scratch root (``DPKG_ROOT``: a real install needs a kiosk of
its own, so the folders, modes, the ``current`` link and an existing configuration left untouched
are checked there), the installed program runs, and lintian has nothing to say."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.release.manifest import compare, read_root, read_signed

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pkg")
    got = subprocess.run(
        [sys.executable, str(PROJECT / "kiosk" / "package.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert got.returncode == 0, got.stderr[-2000:]
    return Path(got.stdout.strip().splitlines()[-1])


def _field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_package_is_named_and_depends_as_a_lane_needs(deb: Path) -> None:
    version = re.search(r'(?m)^version = "([^"]+)"', (PROJECT / "pyproject.toml").read_text()).group(1)  # type: ignore[union-attr]
    assert deb.name == f"otolane_{version}_{_field(deb, 'Architecture')}.deb"
    assert _field(deb, "Package") == "otolane" and _field(deb, "Version") == version
    depends = _field(deb, "Depends")
    for need in ("python3 (>= 3.11)", "restic", "cups-client", "nftables", "fonts-dejavu-core"):
        assert need in depends, depends


def test_it_holds_the_release_the_units_and_every_data_file_but_nothing_of_the_lanes(deb: Path) -> None:
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    paths = {line.split()[5].removeprefix(".") for line in listing.splitlines()}
    version = _field(deb, "Version")
    release = f"/opt/otolane/releases/{version}"
    site = f"{release}/lib/python3.11/site-packages"
    for must in (
        f"{release}/bin/otolane",
        "/usr/bin/otolane",
        "/lib/systemd/system/laned.service",
        "/lib/systemd/system/otolane-backup.timer",
        "/usr/share/otolane/lane.toml.example",
        "/usr/share/doc/otolane/copyright",
    ):
        assert must in paths, must
    tracked = subprocess.run(
        ["git", "ls-files", "app", "drivers", "tui"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.split()
    data = [p for p in tracked if not p.endswith(".py")]
    assert data and [p for p in data if f"{site}/{p}" not in paths] == []  # a card needs its catalogs
    assert not [p for p in paths if p.startswith(("/etc/otolane", "/var/lib/otolane"))]
    # compiled here, checked against their sources when loaded, and covered by the manifest (R10.7)
    assert f"{site}/app/__pycache__/cli.cpython-311.pyc" in paths


def test_the_maintainer_scripts_make_the_folders_and_the_link_and_keep_the_configuration(
    deb: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(control)], check=True)
    for script in ("postinst", "prerm", "postrm"):
        subprocess.run(["sh", "-n", str(control / script)], check=True)
    (root / "etc" / "otolane").mkdir(parents=True)
    (root / "etc" / "otolane").chmod(0o750)
    kept = b'[lane]\nname = "Lane 7"\n'
    (root / "etc" / "otolane" / "lane.toml").write_bytes(kept)
    env = os.environ | {"DPKG_ROOT": str(root)}
    got = subprocess.run(
        ["sh", str(control / "postinst"), "configure"], env=env, capture_output=True, text=True
    )
    assert got.returncode == 0, got.stderr
    assert (root / "etc" / "otolane" / "lane.toml").read_bytes() == kept  # never written into
    assert stat.S_IMODE((root / "var" / "lib" / "otolane").stat().st_mode) == 0o700
    version = _field(deb, "Version")
    assert os.readlink(root / "opt" / "otolane" / "current") == f"releases/{version}"
    program = root / "opt" / "otolane" / "current" / "bin" / "python"
    example = root / "usr" / "share" / "otolane" / "lane.toml.example"
    alone = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of this checkout
    check = [str(program), "-m", "app.cli", "config", "check", str(example)]
    ran = subprocess.run(check, capture_output=True, text=True, cwd=tmp_path, env=alone)
    assert ran.returncode == 0 and "ok — lane 'Lane 1'" in ran.stdout, ran.stdout + ran.stderr
    release = root / "opt" / "otolane" / "releases" / version
    site = release / "lib" / "python3.11" / "site-packages"
    where = [str(program), "-c", "import app; print(app.__file__)"]
    found = subprocess.run(where, capture_output=True, text=True, check=True, cwd=tmp_path, env=alone).stdout
    assert Path(found.strip()).resolve().is_relative_to(site.resolve())  # its own, not this checkout's
    # R10.7: the release as installed and run is the release as signed (Python wrote nothing into it)
    trusted = read_root(root / "usr" / "share" / "otolane" / "update-root.json")
    assert compare(release, read_signed(release, trusted)["files"]) == []
    (site / "app" / "cli.py").write_text("raise SystemExit(0)\n")
    assert compare(release, read_signed(release, trusted)["files"]) == [
        "changed: lib/python3.11/site-packages/app/cli.py"
    ]
    for script, arg in (("prerm", "remove"), ("postrm", "purge")):
        got = subprocess.run(["sh", str(control / script), arg], env=env, capture_output=True, text=True)
        assert got.returncode == 0, got.stderr
    assert (root / "var" / "lib" / "otolane").is_dir() and "kept" in got.stdout  # evidence never purged


def test_the_release_is_published_signed_in_the_update_repository_beside_the_package(deb: Path) -> None:
    """R3.14: the bundle an updater installs is a target of the repository whose root the package pins."""
    version = _field(deb, "Version")
    repo = deb.parent / "repo"
    targets = json.loads((repo / "metadata" / "targets.json").read_text())["signed"]["targets"]
    bundle = repo / "targets" / f"otolane-{version}.tar.gz"
    assert bundle.exists() and targets[bundle.name]["length"] == bundle.stat().st_size


def test_lintian_has_nothing_to_say(deb: Path) -> None:
    got = subprocess.run(
        ["lintian", "--tag-display-limit", "0", str(deb)], capture_output=True, text=True, timeout=900
    )
    said = [line for line in (got.stdout + got.stderr).splitlines() if re.match(r"[EW]: ", line)]
    assert said == [], "\n".join(said[:40])
