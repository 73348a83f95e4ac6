from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.demo_config import free_port
from tests.rig import Rig, pg_database, start_rig

ROOT = Path(__file__).resolve().parents[1]
# the command line speaks the locale's language (issue #23 (7)); the tests read its English words,
# whatever locale the machine running them has (a test of another language sets its own)
os.environ.setdefault("OTOLANE_LANG", "en")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``./lane mutate`` (mutmut sets MUTANT_UNDER_TEST), a mutant's tests run quickest first:
    with -x the first failure ends the run, so a mutant a unit test kills is not first put through
    the slower end-to-end tests that also reach it. Elsewhere the order is left as collected."""
    if not os.environ.get("MUTANT_UNDER_TEST"):
        return
    stats = Path("mutmut-stats.json")  # mutmut runs the tests from its mutants/ folder
    if not stats.exists():
        return
    import json

    durations = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))


@pytest.fixture(autouse=True)
def _screens_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in a screen fails its test: the guard that keeps a kiosk's screen alive (issue #23)
    would otherwise turn a bug into a line on the screen. The guard's own tests turn it back on."""
    from tui.app import OtolaneApp

    monkeypatch.setattr(OtolaneApp, "strict", True)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await start_rig(tmp_path / "lane")
    try:
        yield r
    finally:
        await r.close()


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server in a temporary directory, for the length of the session."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL is not installed: ./lane installs it (apt-get install postgresql)")
    # Not under pytest's 0700 temp root: the postgres user must reach its directory.
    base = Path(tempfile.mkdtemp(prefix="otolane-pg-"))
    data = base / "data"
    port = free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(base, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    r = subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "otolane", "--auth=trust", "-E", "UTF8"],
        capture_output=True,
        text=True,
    )
    if r.returncode:
        pytest.fail(f"initdb failed: {r.stderr}")
    subprocess.run(
        [
            *run_as,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(base / "pg.log"),
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        deadline = time.monotonic() + 60  # pg_ctl -w has waited already; a loaded machine is slow
        while True:
            r = subprocess.run(
                [*run_as, "psql", "-h", "127.0.0.1", "-p", str(port), "-U", "otolane", "-d",
                 "postgres", "-c", "select 1"],
                capture_output=True,
            )  # fmt: skip
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL does not answer: {(base / 'pg.log').read_text()[-2000:]}")
            time.sleep(0.2)  # poll interval
        yield f"postgres://otolane@127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An open database, once on SQLite and once on the session's PostgreSQL server."""
    from app.storage.db import close_db, open_db

    dsn = f"sqlite://{tmp_path / 't.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_dsn")
    await open_db(dsn)
    try:
        yield request.param
    finally:
        await close_db()


@pytest.fixture
def pg_dsn(postgres: str) -> str:
    """A fresh database on the session's server for each test."""
    return pg_database(postgres)
