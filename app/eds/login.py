"""Signature login (R3.1): an employee signs in with their own NCA key file and its password.

The daemon reads the key file itself — only from the folders ``[eds] key_dirs`` names (a USB stick's
mount point, the lane's key folder) — opens it, checks the certificate against the lane's trust
store at real time, proves possession by signing a fresh challenge, and finds the account the
administrator bound to the certificate's IIN. The password and the key stay in the daemon's memory;
neither is logged nor journalled (the journal keeps the certificate's serial and issuer). The IIN is
personal data: an account keeps it sealed (R7), and the journal keeps only a digest of the seal.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.auth import Accounts, Session
from app.eds import certs, ncalayer, ocsp
from app.eds.certs import TrustStore
from app.eds.cms import verify_attached
from app.eds.errors import EdsError
from app.eds.signer import Signer, open_and_check, read_container, trust_from_config
from app.storage.crypto import Keyring
from app.storage.models import User

IIN = re.compile(r"^\d{12}$")
MAX_KEY_FILES = 200


def _aad(username: str) -> str:
    return f"user-iin:{username}"


class EdsLogin:
    def __init__(self, cfg: Any, accounts: Accounts, keyring: Keyring) -> None:
        self.cfg = cfg
        self.accounts = accounts
        self.keyring = keyring
        self._trust: TrustStore | None = None
        self._stamp: tuple[tuple[int, int], ...] = ()

    # --- configuration ------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.cfg.eds["login"] in ("eds", "both")

    def _files_stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for p in (*self.cfg.eds["ca"], *self.cfg.eds["crl"]):
            try:
                st = self.cfg.path(p).stat()
                stamps.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamps.append((-1, -1))
        return tuple(stamps)

    def trust(self) -> TrustStore:
        """Loaded on first use and read again whenever a CA or CRL file changes (the site refreshes
        the CRL; a key revoked since is refused without a restart). A missing or unreadable file is
        the lane's set-up, not the user's key: ``eds_trust_bad`` naming the file, for the admin."""
        stamp = self._files_stamp()
        if stamp != self._stamp:
            self._trust, self._stamp = None, stamp
        if self._trust is None:
            if not self.cfg.eds["ca"]:
                raise EdsError("eds_trust_bad", "no NCA root is configured ([eds] ca)", file="[eds] ca")
            try:
                self._trust = trust_from_config(self.cfg)
            except EdsError as e:
                raise EdsError(
                    "eds_trust_bad",
                    f"the lane's NCA trust store cannot be read: {e.message}",
                    file=e.params.get("path", ""),
                ) from e
        return self._trust

    def key_dirs(self) -> list[Path]:
        return [self.cfg.path(p).resolve() for p in self.cfg.eds["key_dirs"]]

    def key_files(self) -> list[dict[str, str]]:
        """The key files a user may choose: ``*.p12`` in the key folders (names only)."""
        out: list[dict[str, str]] = []
        for d in self.key_dirs():
            try:
                files = sorted(p for p in d.iterdir() if p.suffix.lower() == ".p12" and p.is_file())
            except OSError:
                continue  # a stick that is not inserted is not an error
            out.extend({"path": str(p), "name": p.name, "dir": str(d)} for p in files)
        return out[:MAX_KEY_FILES]

    def _allowed(self, path: str) -> Path:
        p = Path(path).resolve()
        if not any(p.is_relative_to(d) for d in self.key_dirs()):
            raise EdsError(
                "eds_path_refused",
                "key files are read only from the lane's key folders ([eds] key_dirs)",
                path=path[:200],
            )
        return p

    # --- binding --------------------------------------------------------------------
    async def bind(self, username: str, iin: str, by: str) -> None:
        if not IIN.match(iin):
            raise EdsError("eds_iin_bad", "an IIN is 12 digits", field="iin")
        for user in await User.filter(eds_iin__not_isnull=True):
            if user.username != username and self._iin_of(user) == iin:
                raise EdsError(
                    "eds_iin_taken", f"this IIN is bound to the user {user.username}", username=user.username
                )
        name = (await self.accounts.get(username)).username
        await self.accounts.bind_eds(name, self.keyring.seal(iin.encode(), _aad(name)), by)

    def _iin_of(self, user: User) -> str | None:
        if not user.eds_iin:
            return None
        try:
            return self.keyring.open(bytes(user.eds_iin), _aad(user.username)).decode()
        except Exception:  # noqa: BLE001 - a seal that does not open binds no one (the ledger names it)
            return None

    async def user_for(self, iin: str) -> User | None:
        for user in await User.filter(eds_iin__not_isnull=True):
            if self._iin_of(user) == iin:
                return user
        return None

    # --- login ----------------------------------------------------------------------
    async def _failed(self, method: str, error: EdsError, **details: Any) -> None:
        """One journal entry per refused key login (never the password, the key or the IIN)."""
        reason = error.code.removeprefix("eds_")
        await self.accounts.journal.write("-", "login_failed", method=method, reason=reason, **details)

    async def login(self, path: str, password: str) -> tuple[Session, Signer]:
        if not self.enabled:
            raise EdsError("eds_login_off", "this lane signs in with passwords only ([eds] login)")
        key_file = self._allowed(path)
        data = read_container(key_file)
        try:
            trust = self.trust()
            # GOST arithmetic takes ~0.1 s: off the event loop, so screens and stands keep moving
            signer = await asyncio.to_thread(open_and_check, data, password, trust)
        except EdsError as e:
            await self._failed("eds", e, file=e.params.get("file") or key_file.name)
            raise
        return await self._admit(signer.verdict, signer, "eds"), signer

    async def login_ncalayer(self, storage: str) -> tuple[Session, certs.CertInfo]:
        """Sign in with a key held by NCALayer (a token, an ID card): it signs a fresh challenge."""
        url = self.cfg.eds["ncalayer_url"]
        if not self.enabled or not url:
            raise EdsError("eds_ncalayer_off", "this lane does not use NCALayer ([eds] ncalayer_url)")
        try:
            trust = self.trust()
            challenge = b"otolane-login:" + secrets.token_bytes(32)
            cafile = str(self.cfg.path(self.cfg.eds["ncalayer_ca"])) if self.cfg.eds["ncalayer_ca"] else None
            der = await ncalayer.sign_challenge(url, storage, challenge, cafile=cafile)
            cert, content = await asyncio.to_thread(verify_attached, der)
            if content != challenge:
                raise EdsError(
                    "eds_signature_invalid", "NCALayer signed something other than the lane's challenge"
                )
        except EdsError as e:
            await self._failed("ncalayer", e)
            raise
        verdict = await asyncio.to_thread(certs.check, cert, trust, datetime.now(UTC))
        token = ncalayer.TokenSigner(url, storage, cafile, cert, verdict.info)  # signs the cards (G3)
        return await self._admit(verdict, token, "ncalayer"), verdict.info

    async def _with_ocsp(self, verdict: certs.Verdict) -> certs.Verdict:
        """A valid verdict asked again of the OCSP responder, when the lane has one."""
        url = self.cfg.eds["ocsp_url"]
        if not (verdict.valid and url and len(verdict.links) > 1):
            return verdict
        try:
            state, detail = await ocsp.status(url, verdict.links[0], verdict.links[1], datetime.now(UTC))
        except EdsError as e:
            state, detail = "unreachable", e.message
        if state == "good":
            return verdict
        reason = "revoked" if state == "revoked" else "revocation_unknown"
        return dataclasses.replace(verdict, valid=False, reason=reason, detail=detail)

    async def _admit(
        self, verdict: certs.Verdict, signer: Signer | ncalayer.TokenSigner, method: str
    ) -> Session:
        """The lane's rules after the certificate check: valid, of this centre, bound to an account."""
        verdict = await self._with_ocsp(verdict)
        facts = verdict.info
        who = {"common_name": facts.common_name, "iin": facts.iin or "", "serial": facts.serial}
        user = None
        if not verdict.valid:
            reason = verdict.reason or "untrusted"
            refused = EdsError(
                f"eds_{reason}", f"the key is refused: {reason} {verdict.detail}".strip(), **who
            )
        elif self.cfg.eds["centre_bin"] and facts.bin != self.cfg.eds["centre_bin"]:
            refused = EdsError(
                "eds_not_employee", "the key is not an employee key of this centre (its BIN differs)", **who
            )
        else:
            user = await self.user_for(facts.iin or "")
            refused = EdsError(
                "eds_iin_not_registered", "no user of this lane is bound to this key's IIN", **who
            )
        if user is None:
            await self._failed(method, refused, serial=facts.serial, issuer=facts.issuer)
            raise refused
        await self.accounts.refuse_closed(user, time.time())
        return await self.accounts.open_session(
            user,
            False,
            method,
            signer=signer,
            serial=facts.serial,
            issuer=facts.issuer,
            algorithm=facts.algorithm,
        )
