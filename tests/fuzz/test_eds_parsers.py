"""Fuzzing the key container, certificate, CRL and CMS readers (issue #10): any bytes — random, or an
NCA container / certificate / CRL with bytes changed, cut or inserted — give the opened key or an
``EdsError`` with its code, never another exception (a traceback on a login screen)."""

from __future__ import annotations

from pathlib import Path

from asn1crypto import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.eds import certs
from app.eds import cms as ecms
from app.eds.container import open_container
from app.eds.errors import EdsError

NCA = Path(__file__).parents[1] / "data" / "nca-test"
P12 = (NCA / "individual_valid.p12").read_bytes()
CERT = (NCA / "nca_gost2022_test.cer").read_bytes()
CRL = (NCA / "nca_gost2022_test_2026-08-11.crl").read_bytes()


def _without_mac(data: bytes) -> bytes:
    from asn1crypto import pkcs12

    pfx = pkcs12.Pfx.load(data)
    return pkcs12.Pfx({"version": "v3", "auth_safe": pfx["auth_safe"]}).dump()


#: a container with no MAC: mutations get past the MAC into the bags, their decryption and the key
NO_MAC = _without_mac(P12)


def mutated(base: bytes) -> st.SearchStrategy[bytes]:
    edits = st.lists(
        st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255), st.sampled_from("xcid")), max_size=4
    )

    def apply(ops: list[tuple[int, int, str]]) -> bytes:
        b = bytearray(base)
        for at, value, kind in ops:
            at = min(at, len(b) - 1) if b else 0
            if kind == "x" and b:
                b[at] ^= value or 1
            elif kind == "c":
                del b[at:]
            elif kind == "i":
                b.insert(at, value)
            elif kind == "d" and b:
                del b[at]
        return bytes(b)

    return edits.map(apply)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=300), mutated(P12), mutated(NO_MAC)))
def test_the_container_reader_is_total(data: bytes) -> None:
    if data == NO_MAC:
        assert open_container(data, "Qwerty12").key.algorithm == "gost2015_512"  # the base opens
    try:
        open_container(data, "Qwerty12")
    except EdsError as e:
        assert e.code.startswith("eds_")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(mutated(CERT), mutated(CRL), st.binary(max_size=200)))
def test_certificate_and_crl_files_are_read_or_refused_by_name(data: bytes, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    _read_or_refused(data, tmp_path_factory)


def test_a_certificate_whose_tag_turns_into_an_object_descriptor_is_refused_by_name(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    """Found by the fuzz test above: a byte of NCA's test CA certificate changed (here byte 291 xor
    23) makes asn1crypto meet an ObjectDescriptor without .native (AttributeError) — refused by
    name, not a traceback."""
    damaged = bytearray(CERT)
    damaged[291] ^= 23
    _read_or_refused(bytes(damaged), tmp_path_factory)


def _read_or_refused(data: bytes, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path_factory.mktemp("f") / "x.der"
    f.write_bytes(data)
    for load in (certs.load_certificates, certs.load_crl):
        try:
            load(f)
        except EdsError as e:
            assert e.code in ("eds_not_certificate", "eds_not_crl")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(CERT))
def test_a_damaged_certificate_is_checked_without_a_traceback(data: bytes) -> None:
    trust = certs.TrustStore.from_files([NCA / "root_test_gost_2022.cer"], [], require_crl=False)
    try:
        cert = x509.Certificate.load(data)
        cert.native  # noqa: B018
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        # not a certificate at all (asn1crypto meets an ObjectDescriptor without .native, as
        # app/eds/certs.py says): the file readers above name that
        return
    from datetime import UTC, datetime

    verdict = certs.check(cert, trust, datetime.now(UTC))
    assert verdict.reason is None or verdict.reason in certs.REASONS


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=400))
def test_the_cms_reader_is_total(data: bytes) -> None:
    try:
        ecms.verify_detached(data, b"x")
    except EdsError as e:
        assert e.code == "eds_signature_invalid"


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=400))
def test_the_ocsp_reader_is_total(data: bytes) -> None:
    from datetime import UTC, datetime

    from app.eds.ocsp import read_response

    cert = x509.Certificate.load(CERT)
    try:
        read_response(data, cert, cert, b"n" * 16, datetime.now(UTC))
    except EdsError as e:
        assert e.code == "eds_revocation_unknown"
