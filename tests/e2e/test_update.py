"""R3.14, R8, R10.7, R10.8, R10.11, R3.15 (issue #24 (4), (5)): signed updates from a TUF repository
on loopback, each case of the issue as an administrator would meet it through ``otolane update``:

* a good release: verified, installed beside the current one, healthy, made current, journalled
  with both versions; ``rollback`` goes back to the release before, journalled;
* a tampered bundle (its bytes changed after signing): refused, nothing installed, journalled;
* expired metadata (a frozen repository): refused;
* metadata rolled back (the repository serves an older timestamp than the lane has seen): refused;
* a release that fails its health check: the lane stays on the release it had, journalled, and the
  version is not offered again;
* a release that protects less (R8): refused, journalled;
* a redirect from the repository: not followed.

The releases are real virtual environments laid out as the package lays them out; their code is this
checkout's (a ``.pth``), their version the release's; the updater and every release's own checks run
as processes of their own, as on a kiosk.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import config as config_mod
from app.demo_config import write_config
from app.release import baseline
from app.storage.crypto import write_secret_file
from tests.rig import create_users

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "kiosk"))
from publish import Repo  # noqa: E402

pytestmark = pytest.mark.slow


class Served:
    """The repository folder on loopback HTTP, in a thread (the updater is a process of its own)."""

    def __init__(self, root: Path, redirect: bool = False) -> None:
        handler = functools.partial(_Handler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.redirect = redirect  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if getattr(self.server, "redirect", False):
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere" + self.path)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


def release_folder(where: Path, prefix: Path, version: str, starts: bool = True) -> Path:
    """A release as the package lays it out: a virtual environment whose scripts name its place in
    ``prefix/releases/<version>``; its code this checkout's unless ``starts`` is False (a release
    whose code does not start: the health check must catch it)."""
    folder = where / version
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    sp = next((folder / "lib").glob("python3*/site-packages"))
    if starts:
        here = [p for p in site.getsitepackages() if Path(p).is_dir()]
        (sp / "otolane-checkout.pth").write_text("\n".join([str(PROJECT), *here]) + "\n")
    final = prefix / "releases" / version
    script = folder / "bin" / "otolane"
    script.write_text(f"#!{final}/bin/python\nimport sys\nfrom app.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    for act in folder.glob("bin/[aA]ctivate*"):
        act.unlink()
    return folder


class Lane:
    def __init__(self, home: Path, repo: Repo, port: int) -> None:
        self.home, self.repo, self.port = home, repo, port
        self.prefix = home / "opt"
        self.cfg = home / "config.toml"

    def otolane(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "OTOLANE_LANG": "en"}
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *args, "--config", str(self.cfg)],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            check=False,
        )
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def publish(self, version: str, **kw: Any) -> Path:
        folder = release_folder(self.home / "src", self.prefix, version, kw.pop("starts", True))
        return self.repo.release(folder, version, **kw)

    def current(self) -> str | None:
        link = self.prefix / "current"
        return link.resolve().name if link.is_symlink() else None

    async def journal(self) -> list[tuple[str, dict[str, Any]]]:
        from app.storage.models import JournalEntry
        from app.storage.store import close_store, open_store

        await open_store(config_mod.load(self.cfg), create=False)
        try:
            rows = await JournalEntry.filter(action__startswith="update_").order_by("seq")
            return [(r.action, r.details) for r in rows]
        finally:
            await close_store()


@pytest.fixture
async def lane(tmp_path: Path) -> Iterator[Lane]:
    repo = Repo(tmp_path / "repo", tmp_path / "keys")
    repo.init()
    served = Served(tmp_path / "repo")
    home = tmp_path / "lane"
    home.mkdir()
    cfg = write_config(home, 600.0, 9)
    url = f"http://127.0.0.1:{served.port}"
    shutil.copy(tmp_path / "repo" / "metadata" / "1.root.json", home / "update-root.json")
    cfg.write_text(
        cfg.read_text() + f'\n[update]\nroot = "update-root.json"\nmetadata_url = "{url}/metadata/"\n'
        f'targets_url = "{url}/targets/"\nprefix = "opt"\nstop = []\nstart = []\nhealth_timeout_s = 240\n'
    )
    write_secret_file(home / "keys" / "eis-id.key", "TEST-SPO-KEY\n")
    await create_users(config_mod.load(cfg))
    yield Lane(home, repo, served.port)
    served.close()


async def test_a_good_release_is_installed_made_current_after_its_health_check_and_rolled_back(
    lane: Lane,
) -> None:
    """R3.14, R10.8, R10.11, R3.15: 0.2.0 then 0.3.0 installed; each healthy before it is current;
    the one before kept; rollback returns to it; every step journalled with both versions."""
    lane.publish("0.2.0")
    checked = json.loads(lane.otolane("update", "check", "--json", check=True).stdout)
    assert checked["available"] == "0.2.0"
    done = lane.otolane("update", "apply", "--json", check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["result"] == "applied" and got["new"] == "0.2.0", done.stderr
    checks = {c["name"]: c["ok"] for c in got["health"]["checks"]}
    assert checks == dict.fromkeys(
        ("installation", "store", "integrity", "drivers", "daemon", "alarms"), True
    )
    assert lane.current() == "0.2.0"
    lane.publish("0.3.0")
    got = json.loads(lane.otolane("update", "apply", "--json", check=True).stdout.strip().splitlines()[-1])
    assert (got["result"], got["old"], got["new"]) == ("applied", "0.2.0", "0.3.0")
    assert lane.current() == "0.3.0"
    assert (lane.prefix / "releases" / "0.2.0" / "bin" / "otolane").exists()  # kept (R10.11)
    # nothing newer: nothing done
    assert "newest" in lane.otolane("update", "apply", check=True).stdout
    back = lane.otolane("update", "rollback", check=True)
    assert "0.3.0" in back.stdout and lane.current() == "0.2.0", back.stdout
    journal = await lane.journal()
    assert [(a, d.get("old"), d.get("new")) for a, d in journal] == [
        ("update_applied", "0.1.0", "0.2.0"),
        ("update_applied", "0.2.0", "0.3.0"),
        ("update_rolled_back", "0.3.0", "0.2.0"),
    ]
    # the installed release is held to its signed manifest by the integrity check (R10.7)
    status = json.loads(lane.otolane("update", "status", "--json", check=True).stdout)
    assert status["current"] == "0.2.0" and status["open_inspection"] is None


async def test_a_bundle_changed_after_signing_is_refused_and_nothing_is_installed(lane: Lane) -> None:
    """R3.14: the bundle's bytes are not those the targets role signed."""
    bundle = lane.publish("0.2.0")
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))
    done = lane.otolane("update", "apply")
    assert done.returncode == 2 and "does not match its signed hashes" in done.stderr, done.stderr
    assert lane.current() is None and not (lane.prefix / "releases" / "0.2.0").exists()
    assert [a for a, _ in await lane.journal()] == ["update_refused"]


async def test_a_bundle_whose_files_differ_from_its_signed_manifest_is_refused(lane: Lane) -> None:
    """R10.7, R3.14: signed as a target, but a file inside is not the one its manifest names (a
    release built from a tampered tree)."""
    folder = release_folder(lane.home / "src", lane.prefix, "0.2.0")
    from publish import make_bundle, sign_manifest

    sign_manifest(folder, "0.2.0", lane.repo.keys)
    (folder / "bin" / "otolane").write_text("#!/bin/sh\nexit 0\n")
    bundle = lane.home / "bad" / "otolane-0.2.0.tar.gz"
    bundle.parent.mkdir()
    with tarfile.open(bundle, "w:gz") as tar:
        for p in folder.iterdir():
            tar.add(p, arcname=p.name)
    targets = lane.repo.targets_dir
    targets.mkdir(exist_ok=True)
    shutil.copy(bundle, targets / bundle.name)
    from tuf.api.metadata import TargetFile

    md = lane.repo.load("targets")
    md.signed.version += 1
    md.signed.targets[bundle.name] = TargetFile.from_file(bundle.name, str(targets / bundle.name))
    lane.repo.publish(md)
    assert make_bundle  # the normal way re-signs the tree; this test must not
    done = lane.otolane("update", "apply")
    assert done.returncode == 2 and "changed: bin/otolane" in done.stderr, done.stderr
    assert lane.current() is None


async def test_expired_metadata_is_refused(lane: Lane) -> None:
    """R3.14: a repository whose signatures have expired (frozen) is not trusted."""
    lane.publish("0.2.0", expires=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    done = lane.otolane("update", "check")
    assert done.returncode == 2 and "expired" in done.stderr.lower(), done.stderr
    assert lane.current() is None


async def test_metadata_rolled_back_to_an_older_version_is_refused(lane: Lane) -> None:
    """R3.14: after the lane has seen timestamp v3, the repository serves v2 again (a replay)."""
    lane.publish("0.2.0")
    meta = lane.repo.meta
    old = {n: (meta / n).read_bytes() for n in ("timestamp.json", "snapshot.json", "targets.json")}
    lane.publish("0.3.0")
    lane.otolane("update", "check", check=True)  # the lane sees the newer versions
    for name, data in old.items():
        (meta / name).write_bytes(data)
    done = lane.otolane("update", "check")
    assert done.returncode == 2 and "not trusted" in done.stderr, done.stderr


async def test_a_release_failing_its_health_check_is_rolled_back_and_not_offered_again(lane: Lane) -> None:
    """R10.11, R3.15: 0.2.0 is current; 0.3.0 does not start; the lane stays on 0.2.0."""
    lane.publish("0.2.0")
    lane.otolane("update", "apply", check=True)
    lane.publish("0.3.0", starts=False)
    done = lane.otolane("update", "apply", "--json")
    assert done.returncode == 6, done.stdout + done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["result"] == "rolled_back" and not got["health"]["ok"]
    assert lane.current() == "0.2.0"
    journal = await lane.journal()
    assert journal[-1][0] == "update_rolled_back" and journal[-1][1]["automatic"] is True
    assert (journal[-1][1]["old"], journal[-1][1]["new"]) == ("0.3.0", "0.2.0")
    checked = json.loads(lane.otolane("update", "check", "--json", check=True).stdout)
    assert checked["available"] is None and "0.3.0" in checked["failed"]


async def test_a_release_that_protects_less_is_refused(lane: Lane) -> None:
    """R8: a release allowing 6-character passwords and opening a route to operators is refused."""
    weaker = baseline.current()
    weaker["settings"]["security.password_min_length"] = [6, 64]
    weaker["routes"]["GET /v1/users"] = sorted({*weaker["routes"]["GET /v1/users"], "operator"})
    lane.publish("0.2.0", base=weaker)
    done = lane.otolane("update", "apply")
    assert done.returncode == 2 and "R8" in done.stderr, done.stderr
    assert "password_min_length" in done.stderr and "GET /v1/users: now also for operator" in done.stderr
    assert lane.current() is None
    journal = await lane.journal()
    assert journal[-1][0] == "update_refused" and len(journal[-1][1]["weaker"]) == 2


async def test_a_redirect_from_the_repository_is_not_followed(lane: Lane, tmp_path: Path) -> None:
    """Trust nothing from the far side: a repository that redirects is unreachable, not followed."""
    lane.publish("0.2.0")
    other = Served(tmp_path / "repo", redirect=True)
    try:
        text = lane.cfg.read_text().replace(str(lane.port), str(other.port))
        lane.cfg.write_text(text)
        done = lane.otolane("update", "check")
        assert done.returncode == 2 and "HTTP 302" in done.stderr, done.stderr
    finally:
        other.close()


async def test_an_installed_file_changed_is_named_and_no_inspection_starts_until_it_is_as_shipped(
    lane: Lane,
) -> None:
    """R10.7: a file of the installed release changed after installation is named by the integrity
    check, by the health check, journalled at the daemon's start; a production lane starts no
    inspection until an administrator installs it again (``update apply --version``)."""
    from app.api.client import ApiError, LaneClient
    from tests.rig import PASSWORDS, wait_for

    lane.publish("0.2.0")
    lane.otolane("update", "apply", check=True)
    text = lane.cfg.read_text().replace("training = true", "training = false")
    lane.cfg.write_text(text.replace("clock_speed = 600.0", "clock_speed = 1.0"))
    program = lane.prefix / "current" / "bin" / "otolane"
    script = lane.prefix / "releases" / "0.2.0" / "bin" / "otolane"
    script.write_text(script.read_text() + "# an insider's line\n")
    check = subprocess.run(
        [str(program), "integrity", "check", "--config", str(lane.cfg)], capture_output=True, text=True
    )
    assert check.returncode == 1 and "changed: bin/otolane" in check.stdout, check.stdout + check.stderr
    daemon = subprocess.Popen(
        [str(program), "daemon", "--config", str(lane.cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    client = LaneClient(str(lane.home / "laned.sock"))
    try:
        await wait_for(lambda: _answers(client), "the daemon of the changed release", 60)
        await client.login("operator", PASSWORDS["operator"])
        with pytest.raises(ApiError) as refused:
            await client.call(
                "POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1", "fuel": "petrol"}
            )
        assert refused.value.code == "install_modified" and refused.value.status == 409
        state = await client.call("GET", "/v1/state")
        assert any("changed: bin/otolane" in a for a in state["alarms"])
        await client.logout()
        await client.login("admin", PASSWORDS["admin"])  # what the administrator's menu shows
        said = await client.call("GET", "/v1/release")
        assert (said["release"], said["current"], said["kept"]) == ("0.2.0", "0.2.0", ["0.2.0"])
        assert said["last"]["action"] == "applied" and said["last"]["new"] == "0.2.0"
    finally:
        await client.close()
        daemon.terminate()
        daemon.wait(30)
    entries = await _entries(lane, "install_modified")
    assert entries and any("changed: bin/otolane" in f for f in entries[-1]["files"])
    # the administrator acts: the release installed again from the repository, as signed
    lane.otolane("update", "apply", "--version", "0.2.0", check=True)
    check = subprocess.run(
        [str(program), "integrity", "check", "--config", str(lane.cfg)], capture_output=True, text=True
    )
    assert check.returncode == 0 and "every file as signed" in check.stdout, check.stdout + check.stderr


async def _answers(client: Any) -> bool:
    try:
        await client.call("GET", "/v1/version")
        return True
    except Exception:
        return False


async def _entries(lane: Lane, action: str) -> list[dict[str, Any]]:
    from app.storage.models import JournalEntry
    from app.storage.store import close_store, open_store

    await open_store(config_mod.load(lane.cfg), create=False)
    try:
        return [r.details for r in await JournalEntry.filter(action=action).order_by("seq")]
    finally:
        await close_store()


async def test_an_update_waits_while_an_inspection_is_open(lane: Lane) -> None:
    """R3.14: never in the middle of a car: deferred (exit 5, the timer's 'not a failure'), journalled,
    nothing installed; the next night it goes through."""
    from app.storage.models import Inspection
    from app.storage.store import close_store, open_store

    lane.publish("0.2.0")
    store = await open_store(config_mod.load(lane.cfg), create=False)
    try:
        await Inspection.create(
            id="i-1",
            number=1,
            sealed=store.keyring.seal_json({"plate": "123ABC02"}, "inspections:i-1"),
            category="M1",
            fuel="petrol",
            axles=2,
            operator="operator",
            started=0.0,
        )
    finally:
        await close_store()
    done = lane.otolane("update", "apply")
    assert done.returncode == 5 and "No. 1 is open" in done.stderr, done.stdout + done.stderr
    assert lane.current() is None and not (lane.prefix / "releases" / "0.2.0").exists()
    assert [a for a, _ in await lane.journal()] == ["update_deferred"]


async def test_a_production_release_runs_no_simulator_and_a_training_one_does(lane: Lane) -> None:
    """T1 (issue #25 (5)): the commands that can pose as any stand, camera, printer or EIS are
    refused by a production release (its signed manifest says so), and run from a training one."""
    lane.publish("0.2.0")  # production, as ./lane package makes it by default
    lane.otolane("update", "apply", check=True)
    program = str(lane.prefix / "current" / "bin" / "otolane")
    link = lane.home / "dev" / "fake-brake"
    sim = [program, "sim", "device", "--profile", "jx-brake", "--link", str(link), "--serial", "2231-0457"]
    for argv in (sim, [program, "demo", "--headless", "--lang", "en"], [program, "camera-sim"]):
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, env={**os.environ, "OTOLANE_LANG": "en"}
        )
        assert done.returncode == 2 and "is for training lanes and tests" in done.stderr, (argv, done.stderr)
    assert not link.exists()
    lane.publish("0.3.0", edition="training")
    lane.otolane("update", "apply", check=True)
    proc = subprocess.Popen(sim, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        from tests.rig import wait_for

        async def up() -> bool:
            return link.exists() or proc.poll() is not None

        await wait_for(up, "the training release's simulated stand", 30)
        assert proc.poll() is None and link.exists()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.skipif(not shutil.which("restic"), reason="restic is installed by ./lane")
async def test_a_release_that_migrates_the_database_is_backed_up_first_and_restored_when_it_fails(
    lane: Lane,
) -> None:
    """R3.11, R3.12, R10.11: a release whose schema is newer gets a backup before its health check;
    when it fails, that backup is restored (checked first) before the lane starts on the release it
    had; a good one is applied, and rollback then names the backup to restore first."""
    from app.release.update import schema_here

    lane.otolane("backup", "init", check=True)
    lane.publish("0.2.0")
    lane.otolane("update", "apply", check=True)
    lane.publish("0.3.0", starts=False, schema=schema_here() + 1)
    done = lane.otolane("update", "apply", "--json")
    assert done.returncode == 6, done.stdout + done.stderr
    assert "a backup before 0.2.0 → 0.3.0" in done.stderr and "the database back as backup" in done.stderr
    assert lane.current() == "0.2.0"
    entries = [(a, d) for a, d in await _all(lane) if a in ("data_restored", "update_rolled_back")]
    # the database is the backup's: its own backup_made came after the copy; the restore says which
    assert [a for a, _ in entries] == ["data_restored", "update_rolled_back"], entries
    assert entries[0][1]["snapshot"] and entries[0][1]["lost_cards"] == []
    check = lane.otolane("integrity", "check")
    assert check.returncode == 0, check.stdout[-2000:]  # the checkpoint file goes on past the restore
    lane.publish("0.4.0", schema=schema_here() + 1)
    got = json.loads(lane.otolane("update", "apply", "--json", check=True).stdout.strip().splitlines()[-1])
    assert got["result"] == "applied" and lane.current() == "0.4.0"
    back = lane.otolane("update", "rollback")
    assert back.returncode == 2 and "otolane restore" in back.stderr, back.stderr
    assert lane.current() == "0.4.0"


async def _all(lane: Lane) -> list[tuple[str, dict[str, Any]]]:
    from app.storage.models import JournalEntry
    from app.storage.store import close_store, open_store

    await open_store(config_mod.load(lane.cfg), create=False)
    try:
        return [(r.action, r.details) for r in await JournalEntry.all().order_by("seq")]
    finally:
        await close_store()
