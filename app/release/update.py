"""``otolane update check|apply|rollback`` (R3.14, R8, R10.8, R10.11, R3.15): a release from the
trusted repository installed beside the one in use, held to its signed manifest and to the
protection of the one before, proved healthy on the lane's own data and configuration, and only
then made current; otherwise the lane goes on with the release it had.

``apply``: the repository's metadata verified (``trust.py``) → the newest release after the current
one that has not failed here → its bundle, by its signed hashes → unpacked beside the releases and
held to its manifest, signed by the repository's release keys (``manifest.py``) → refused if it
protects less than the current one (R8, ``baseline.py``) → deferred while an inspection is open →
the daemon stopped → a backup first when the new release migrates the database → the new release's
own health check (``otolane health``: its files, the store with the lane's keys, migrated; the
integrity of what is new; its drivers' self-test; its daemon started and ready with no alarm) →
``current`` switched and the daemon started; a failed health check → the backup restored if the
database moved, the daemon started on the release it had, the version remembered as failed.
Every outcome is journalled with the old and new version by the release whose schema the database
then has (``otolane update note``).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app import __version__
from app.config import Config
from app.errors import OtolaneError
from app.release import baseline, manifest
from app.release.layout import Layout
from app.release.trust import Offer, Repository, version_key

#: a health check's report is a page of JSON, never more
MAX_REPORT = 256 * 1024


def schema_here() -> int:
    from app.storage.migrations import MIGRATIONS

    return max(v for v, _, _ in MIGRATIONS)


class Updater:
    def __init__(self, cfg: Config, say: Callable[[str], None] = print, by: str = "updater") -> None:
        upd = cfg.update
        if not upd["root"]:
            raise OtolaneError("update_not_configured", "no update repository: set update.root and its URLs")
        self.cfg, self.say, self.by = cfg, say, by
        self.layout = Layout(cfg)
        self.repo = Repository(
            cfg.path(upd["root"]), self.layout.state_dir / "metadata", upd["metadata_url"], upd["targets_url"]
        )

    # --- what is installed ---------------------------------------------------------------------
    def running(self) -> tuple[Path | None, str]:
        cur = self.layout.current()
        return cur, cur.name if cur else __version__

    def signed_of(self, folder: Path | None) -> dict[str, Any] | None:
        """A release folder's verified manifest; None for a development checkout (no folder)."""
        if folder is None:
            return None
        return manifest.read_signed(folder, manifest.read_root(self.repo.trusted_root))

    def baseline_of(self, folder: Path | None) -> tuple[dict[str, Any], int]:
        signed = self.signed_of(folder)
        if signed is None:
            return baseline.current(), schema_here()
        return signed["baseline"], int(signed["schema"])

    # --- the pieces ------------------------------------------------------------------------------
    def _as_lane(self) -> dict[str, Any]:
        """Run as the owner of the lane's data when the updater runs as root (a file the daemon cannot
        open later must not be made by its health check)."""
        if os.geteuid() != 0:
            return {}
        st = self.cfg.path(self.cfg.storage["anchor_file"]).parent.stat()
        if st.st_uid == 0:
            return {}
        try:  # its groups too (dialout: the stands' lines, for the new release's daemon)
            groups = os.getgrouplist(pwd.getpwuid(st.st_uid).pw_name, st.st_gid)
        except KeyError:
            groups = [st.st_gid]
        return {"user": st.st_uid, "group": st.st_gid, "extra_groups": groups}

    def _otolane(self, folder: Path | None) -> list[str]:
        if folder is None:
            return [sys.executable, "-m", "app.cli"]
        return [str(folder / "bin" / "otolane")]

    def child(
        self, folder: Path | None, *args: str, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``otolane ARGS --config …`` of ``folder``'s release, as the lane's user."""
        argv = [*self._otolane(folder), *args, "--config", str(self.cfg.file)]
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, **self._as_lane()
        )

    def note(self, folder: Path | None, action: str, **details: Any) -> None:
        """Journal ``action`` by ``folder``'s release (the one whose schema the database has now); a
        journal that cannot be written is said, never a reason to leave the lane half updated."""
        text = json.dumps({"by": self.by, **details}, ensure_ascii=False)
        done = self.child(folder, "update", "note", "--action", action, "--details", text, timeout=120)
        if done.returncode != 0:
            self.say(f"journal: {action} could not be recorded: {done.stderr.strip()[-300:]}")

    def service(self, which: str) -> None:
        argv = list(self.cfg.update[which])
        if not argv:
            return
        self.say(f"daemon: {' '.join(argv)}")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
        if done.returncode != 0:
            raise OtolaneError(
                "update_service", f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-300:]}"
            )

    def busy(self, folder: Path | None) -> int | None:
        """The number of the inspection open on the lane, if one is (asked of ``folder``'s release)."""
        done = self.child(folder, "update", "status", "--json", timeout=120)
        try:
            return json.loads(done.stdout.strip().splitlines()[-1])["open_inspection"]
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            raise OtolaneError(
                "update_status", f"the lane's state cannot be read: {done.stderr.strip()[-300:]}"
            ) from exc

    def health(self, folder: Path) -> dict[str, Any]:
        """``folder``'s own health check on the lane's data; its report (``ok`` False when it did not
        answer in time or could not run)."""
        argv = [*self._otolane(folder), "health", "--config", str(self.cfg.file), "--json"]
        timeout = float(self.cfg.update["health_timeout_s"])
        self.say(f"health check of {folder.name} (up to {timeout:.0f} s)")
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False, **self._as_lane()
            )
        except subprocess.TimeoutExpired:
            return {"ok": False, "problems": [f"no answer in {timeout:.0f} s"]}
        except OSError as exc:
            return {"ok": False, "problems": [f"cannot be run: {exc.strerror}"]}
        out = done.stdout[-MAX_REPORT:].strip().splitlines()
        try:
            report = json.loads(out[-1]) if out else {}
        except ValueError:
            report = {}
        if not isinstance(report, dict) or "ok" not in report:
            tail = (done.stderr or done.stdout).strip()[-400:]
            return {"ok": False, "problems": [f"it did not run (exit {done.returncode}): {tail}"]}
        report["ok"] = bool(report["ok"]) and done.returncode == 0
        return report

    # --- the commands --------------------------------------------------------------------------------
    def check(self) -> dict[str, Any]:
        """What the repository offers after the release in use (verified; nothing installed)."""
        _, old = self.running()
        failed = self.layout.state()["failed"]
        offers = self.repo.offers()
        newer = [o for o in offers if version_key(o.version) > version_key(old) and o.version not in failed]
        return {
            "current": old,
            "available": newer[0].version if newer else None,
            "offers": [o.version for o in offers],
            "failed": failed,
        }

    def _pick(self, old: str, wanted: str | None) -> Offer | None:
        failed = self.layout.state()["failed"]
        for o in self.repo.offers():
            if wanted is not None:
                if o.version == wanted:
                    return o
            elif version_key(o.version) > version_key(old) and o.version not in failed:
                return o
        if wanted is not None:
            raise OtolaneError("update_unknown", f"the repository offers no release {wanted}")
        return None

    def _refuse(
        self, cur: Path | None, old: str, new: str, why: str, weaker: list[str] | None = None
    ) -> None:
        state = self.layout.state()
        state["failed"][new] = why
        self.layout.record(state, action="refused", old=old, new=new, reason=why)
        self.note(cur, "update_refused", old=old, new=new, reason=why, weaker=weaker or [])

    def _candidate(self, cur: Path | None, old: str, offer: Offer) -> tuple[Path, dict[str, Any]]:
        """The bundle downloaded, unpacked, held to its manifest and to R8: the hidden folder."""
        try:
            bundle = self.repo.download(offer)
        except OtolaneError as exc:
            self._refuse(cur, old, offer.version, exc.message)
            raise
        self.say(f"{offer.target}: {offer.length} bytes, signed hashes hold")
        tmp = self.layout.unpack(bundle, offer.version)
        weaker: list[str] = []
        try:
            signed = manifest.read_signed(tmp, manifest.read_root(self.repo.trusted_root))
            if signed["version"] != offer.version:
                raise OtolaneError(
                    "update_bundle", f"{offer.target} holds release {signed['version']}, not {offer.version}"
                )
            changed = manifest.compare(tmp, signed["files"])
            if changed:
                raise OtolaneError(
                    "update_bundle",
                    f"{offer.target} differs from its manifest: {changed[0]}",
                    detail=changed[0],
                )
            old_base, _ = self.baseline_of(cur)
            weaker = baseline.weaker(old_base, signed["baseline"])
            if weaker:
                what = "; ".join(weaker)
                raise OtolaneError(
                    "update_weaker",
                    f"release {offer.version} would protect the lane less than {old} (R8): {what}",
                    detail=what,
                )
        except OtolaneError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            self._refuse(cur, old, offer.version, exc.message, weaker)
            raise
        return tmp, signed

    def _defer_if_busy(self, cur: Path | None, old: str, new: str, tmp: Path, running: bool) -> None:
        """No update while an inspection is open (``running``: the daemon was stopped for it)."""
        number = self.busy(cur)
        if number is None:
            return
        shutil.rmtree(tmp, ignore_errors=True)
        if running:
            self.service("start")
        self.note(cur, "update_deferred", old=old, new=new, inspection=number)
        raise OtolaneError(
            "update_busy", f"inspection No. {number} is open: the update waits until it ends", number=number
        )

    def apply(self, wanted: str | None = None) -> dict[str, Any]:
        cur, old = self.running()
        offer = self._pick(old, wanted)
        if offer is None:
            return {"result": "current", "current": old}
        self.say(f"release {offer.version} offered (now {old})")
        tmp, signed = self._candidate(cur, old, offer)
        new = offer.version
        self._defer_if_busy(cur, old, new, tmp, running=False)
        self.service("stop")
        # an inspection may have begun since it was asked: asked again, now that nothing can begin
        self._defer_if_busy(cur, old, new, tmp, running=True)
        folder, aside = self.layout.name(tmp, new)
        _, old_schema = self.baseline_of(cur)
        self.layout.keep_config(self.cfg.file, old)
        backup = None
        if int(signed["schema"]) != old_schema:
            backup = self._backup_first(cur, old, new)
        report = self.health(folder)
        state = self.layout.state()
        if report["ok"]:
            self.layout.switch(folder)
            self.service("start")
            self.layout.record(state, action="applied", old=old, new=new, backup=backup)
            self.note(folder, "update_applied", old=old, new=new, backup=backup)
            keep = [folder, *([cur] if cur else [])]
            gone = self.layout.prune(keep)
            return {"result": "applied", "old": old, "new": new, "health": report, "pruned": gone}
        why = "; ".join(str(p) for p in report.get("problems", []))[:1000] or "the health check failed"
        self.layout.put_back(folder, aside)
        if backup:
            self._restore(cur, backup)
        state["failed"][new] = why
        self.layout.record(state, action="failed", old=old, new=new, reason=why)
        self.service("start")
        self.note(cur, "update_rolled_back", old=new, new=old, reason=why, automatic=True)
        return {"result": "rolled_back", "old": old, "new": new, "health": report}

    def rollback(self) -> dict[str, Any]:
        """Back to the release that was current before the last update, proved healthy first."""
        cur, now = self.running()
        state = self.layout.state()
        before = next(
            (
                h["old"]
                for h in reversed(state["history"])
                if h.get("action") == "applied" and h.get("new") == now
            ),
            None,
        )
        if before is None or not self.layout.folder(before).is_dir():
            raise OtolaneError("update_no_previous", f"no release before {now} is kept to go back to")
        folder = self.layout.folder(before)
        _, prev_schema = self.baseline_of(folder)
        _, now_schema = self.baseline_of(cur)
        if prev_schema != now_schema:
            backup = next((h.get("backup") for h in reversed(state["history"]) if h.get("new") == now), None)
            raise OtolaneError(
                "update_rollback_schema",
                f"{now} migrated the database (schema {prev_schema} → {now_schema}): restore the backup made "
                f"before it (otolane restore {backup or 'ID'}), then run rollback again",
            )
        self.service("stop")
        report = self.health(folder)
        if not report["ok"]:
            self.service("start")
            what = "; ".join(report.get("problems", []))[:500]
            raise OtolaneError(
                "update_rollback_unhealthy",
                f"release {before} did not pass its health check: {what}",
                detail=what,
            )
        self.layout.switch(folder)
        self.service("start")
        self.layout.record(state, action="rolled_back", old=now, new=before, reason="asked")
        self.note(folder, "update_rolled_back", old=now, new=before, automatic=False)
        return {"result": "rolled_back", "old": now, "new": before, "health": report}

    # --- a database the new release migrates -----------------------------------------------------------
    def _backup_first(self, cur: Path | None, old: str, new: str) -> str:
        if not self.cfg.backup["repository"]:
            self.service("start")
            raise OtolaneError(
                "update_needs_backup",
                f"release {new} migrates the database: configure backups (backup.repository) first",
            )
        self.say(f"a backup before {old} → {new} migrates the database")
        done = self.child(cur, "backup", "now", "--json", timeout=3600)
        try:
            return str(json.loads(done.stdout.strip().splitlines()[-1])["snapshot"])
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            self.service("start")
            raise OtolaneError(
                "update_needs_backup", f"the backup before the update failed: {done.stderr.strip()[-300:]}"
            ) from exc

    def _restore(self, cur: Path | None, snapshot: str) -> None:
        """The database as the backup before the update had it (checked first, R3.12)."""
        self.say(f"the database back as backup {snapshot[:8]} had it")
        done = self.child(cur, "restore", snapshot, "--yes", timeout=3600)
        if done.returncode != 0:
            raise OtolaneError(
                "update_restore_failed",
                f"the backup {snapshot[:8]} made before the update was not restored: "
                f"{done.stdout.strip()[-300:]} — otolane restore it by hand (docs/operations.md)",
            )
