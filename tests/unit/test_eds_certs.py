"""Certificate checks with NCA's conventions (issue #10; R3.1, G3): chain, dates, CRL, usage, IIN.

The check time is taken from the test CRL itself (a day after its issue), never a fixed date, so the
test means the same thing on any day; expiry is checked against the real clock."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509

from app.eds import certs
from app.eds.container import open_container

NCA = Path(__file__).parents[1] / "data" / "nca-test"
GOST_CA = [NCA / "root_test_gost_2022.cer", NCA / "nca_gost2022_test.cer"]
GOST_CRL = [NCA / "nca_gost2022_test_2026-08-11.crl"]
RSA_CA = [NCA / "root_rsa_test.pem", NCA / "nca_rsa_test.pem"]


@pytest.fixture(scope="module")
def gost_trust() -> certs.TrustStore:
    return certs.TrustStore.from_files(GOST_CA, GOST_CRL)


@pytest.fixture(scope="module")
def at(gost_trust: certs.TrustStore) -> datetime:
    this_update: datetime = gost_trust.crls[0]["tbs_cert_list"]["this_update"].native
    return this_update + timedelta(days=1)


def _cert(name: str) -> x509.Certificate:
    return open_container((NCA / name).read_bytes(), "Qwerty12").certificate


def test_a_valid_gost_individual_key_is_admitted_with_its_iin(
    gost_trust: certs.TrustStore, at: datetime
) -> None:
    v = certs.check(_cert("individual_valid.p12"), gost_trust, at)
    assert (v.valid, v.reason) == (True, None)
    assert v.info.iin == "123456789011" and v.info.bin is None
    assert v.info.algorithm == "gost2015_512" and v.info.roles == ("individual",)
    assert len(v.chain) == 3


def test_an_employee_key_carries_iin_bin_and_signing_right(
    gost_trust: certs.TrustStore, at: datetime
) -> None:
    v = certs.check(_cert("legal_employee_signright_valid.p12"), gost_trust, at)
    assert v.valid
    assert (v.info.iin, v.info.bin) == ("123456789012", "123456789021")
    assert "sign_right" in v.info.roles and "organisation" in v.info.roles


def test_a_key_on_hold_is_refused_as_revoked(gost_trust: certs.TrustStore, at: datetime) -> None:
    v = certs.check(_cert("individual_revoked.p12"), gost_trust, at)
    assert (v.valid, v.reason) == (False, "revoked")
    assert "certificate_hold" in v.detail


def test_without_a_current_crl_a_key_is_refused_unless_the_site_allows_it(at: datetime) -> None:
    no_crl = certs.TrustStore.from_files(GOST_CA, [])
    assert certs.check(_cert("individual_valid.p12"), no_crl, at).reason == "revocation_unknown"
    lenient = certs.TrustStore.from_files(GOST_CA, [], require_crl=False)
    assert certs.check(_cert("individual_valid.p12"), lenient, at).valid
    stale = certs.TrustStore.from_files(GOST_CA, GOST_CRL)
    next_update: datetime = stale.crls[0]["tbs_cert_list"]["next_update"].native
    late = certs.check(_cert("individual_valid.p12"), stale, next_update + timedelta(seconds=1))
    assert late.reason in ("revocation_unknown", "expired")


def test_the_expired_rsa_keys_are_refused_as_expired() -> None:
    trust = certs.TrustStore.from_files(RSA_CA, [NCA / "nca_rsa_test_2022-03-29.crl"])
    for name in ("personal_auth_2020_expired.p12", "personal_sign_2020_expired.p12"):
        v = certs.check(_cert(name), trust, datetime.now(UTC))
        assert (v.valid, v.reason) == (False, "expired")


def test_a_key_of_another_ca_is_untrusted(gost_trust: certs.TrustStore) -> None:
    v = certs.check(_cert("personal_sign_2020_expired.p12"), gost_trust, datetime.now(UTC))
    assert v.reason == "untrusted"
    rsa_only = certs.TrustStore.from_files(RSA_CA, [])
    assert certs.check(_cert("individual_valid.p12"), rsa_only, datetime.now(UTC)).reason == "untrusted"


def test_a_changed_certificate_fails_its_signature(gost_trust: certs.TrustStore, at: datetime) -> None:
    der = bytearray(_cert("individual_valid.p12").dump())
    i = der.find("ТЕСТОВ".encode())
    der[i + 1] ^= 0x01  # one letter of the surname
    v = certs.check(x509.Certificate.load(bytes(der)), gost_trust, at)
    assert (v.valid, v.reason) == (False, "bad_signature")


def test_a_crl_not_signed_by_the_issuer_is_no_evidence(at: datetime) -> None:
    trust = certs.TrustStore.from_files(GOST_CA, GOST_CRL)
    raw = bytearray(trust.crls[0].dump())
    raw[-3] ^= 0x01  # the CRL's signature
    from asn1crypto import crl

    trust.crls = [crl.CertificateList.load(bytes(raw))]
    assert certs.check(_cert("individual_revoked.p12"), trust, at).reason == "revocation_unknown"


def _cli(*args: str) -> tuple[int, dict]:
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "eds", "check", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return r.returncode, json.loads(r.stdout)


def test_the_cli_prints_one_json_object_with_the_stable_reason(tmp_path: Path, at: datetime) -> None:
    pw = tmp_path / "pw"
    pw.write_text("Qwerty12\n")
    trust = [a for p in GOST_CA for a in ("--ca", str(p))] + ["--crl", str(GOST_CRL[0])]
    rc, out = _cli(
        str(NCA / "legal_employee_signright_valid.p12"),
        "--password-file",
        str(pw),
        *trust,
        "--at",
        at.isoformat(),
    )
    assert rc == 0
    assert {k: out[k] for k in ("valid", "reason", "algorithm", "iin", "bin")} == {
        "valid": True,
        "reason": None,
        "algorithm": "gost2015_512",
        "iin": "123456789012",
        "bin": "123456789021",
    }
    assert out["subject"] and out["not_after"]
    rc, out = _cli(
        str(NCA / "individual_revoked.p12"), "--password-file", str(pw), *trust, "--at", at.isoformat()
    )
    assert (rc, out["valid"], out["reason"]) == (1, False, "revoked")
    pw.write_text("wrong\n")
    rc, out = _cli(str(NCA / "individual_valid.p12"), "--password-file", str(pw), *trust)
    assert (rc, out["reason"]) == (1, "wrong_password")
    assert "Qwerty12" not in json.dumps(out)


def test_a_refused_key_still_says_whose_it_is_which_chain_and_why_in_full(
    gost_trust: certs.TrustStore, at: datetime
) -> None:
    """The refusal the login screen shows names the key's owner and IIN and the chain it was held
    against, with the reason's detail (mutants of the refusing verdict survived without this)."""
    v = certs.check(_cert("individual_revoked.p12"), gost_trust, at)
    assert not v.valid and v.reason == "revoked" and v.detail
    assert v.info is not None and v.info.iin and v.info.common_name
    assert len(v.chain) >= 2 and all(isinstance(n, str) and n for n in v.chain)
    said = v.as_dict()
    assert said["valid"] is False and said["iin"] == v.info.iin and said["chain"] == list(v.chain)
    assert said["detail"] == v.detail and said["common_name"] == v.info.common_name
    good = certs.check(_cert("individual_valid.p12"), gost_trust, at).as_dict()
    assert good["valid"] is True and good["reason"] is None and good["not_after"] > good["not_before"]
