"""NCA key containers of both families open in pure Python, with a clear refusal for each fault
(issue #10; R3.1). Files: tests/data/nca-test (NCA's public test material)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import RC2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.serialization import pkcs12

from app.eds import asn1, rc2
from app.eds.container import open_container, pkcs12_kdf
from app.eds.errors import EdsError

NCA = Path(__file__).parents[1] / "data" / "nca-test"
PASSWORD = "Qwerty12"
GOST_FILES = ["individual_valid.p12", "individual_revoked.p12", "legal_employee_signright_valid.p12"]
RSA_FILES = ["personal_auth_2020_expired.p12", "personal_sign_2020_expired.p12"]


@pytest.mark.parametrize(
    ("key", "bits", "plain", "cipher"),
    [  # RFC 2268 §5
        ("0000000000000000", 63, "0000000000000000", "ebb773f993278eff"),
        ("ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"),
        ("3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"),
        ("88", 64, "0000000000000000", "61a8a244adacccf0"),
        ("88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"),
        ("88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"),
        ("88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"),
    ],
)
def test_rc2_decrypts_the_rfc_2268_vectors(key: str, bits: int, plain: str, cipher: str) -> None:
    schedule = rc2.expand_key(bytes.fromhex(key), bits)
    assert rc2.decrypt_block(schedule, bytes.fromhex(cipher)).hex() == plain


def test_rc2_agrees_with_openssl_for_128_bit_keys() -> None:
    for _ in range(50):
        key, iv, plain = os.urandom(16), os.urandom(8), os.urandom(64)
        enc = Cipher(RC2(key), modes.CBC(iv)).encryptor()
        assert rc2.cbc_decrypt(key, 128, iv, enc.update(plain) + enc.finalize()) == plain


def test_pkcs12_kdf_matches_the_known_rfc_7292_derivation() -> None:
    # The derivation cryptography/OpenSSL use: an RSA container opened both ways gives one key.
    data = (NCA / RSA_FILES[1]).read_bytes()
    ours = open_container(data, PASSWORD)
    theirs = pkcs12.load_key_and_certificates(data, PASSWORD.encode())
    assert theirs[0] is not None and theirs[1] is not None
    assert ours.key.public_bytes() == theirs[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert ours.certificate.dump() == theirs[1].public_bytes(serialization.Encoding.DER)
    assert len(pkcs12_kdf("sha1", b"\x00a\x00\x00", b"salt", 1, 1, 24)) == 24


@pytest.mark.parametrize("name", GOST_FILES)
def test_a_gost_2015_container_opens_and_its_key_derives_the_certificates_public_key(name: str) -> None:
    c = open_container((NCA / name).read_bytes(), PASSWORD)
    assert c.key.algorithm == "gost2015_512"
    assert asn1.key_algorithm(c.certificate) == asn1.GOST2015_512_KEY
    assert c.key.public_bytes() == asn1.public_key_bytes(c.certificate)
    assert "IIN1234567890" in str(c.certificate.subject.native["serial_number"])


@pytest.mark.parametrize("name", RSA_FILES)
def test_an_rsa_container_opens_too(name: str) -> None:
    c = open_container((NCA / name).read_bytes(), PASSWORD)
    assert c.key.algorithm == "rsa"
    assert c.key.public_bytes() == asn1.public_key_bytes(c.certificate)


@pytest.mark.parametrize("name", GOST_FILES[:1] + RSA_FILES[:1])
def test_a_wrong_password_is_named(name: str) -> None:
    with pytest.raises(EdsError) as e:
        open_container((NCA / name).read_bytes(), "Qwerty13")
    assert e.value.code == "eds_wrong_password"


def test_a_corrupt_file_is_named_not_a_traceback() -> None:
    for data in (b"", b"not a container", (NCA / GOST_FILES[0]).read_bytes()[:300]):
        with pytest.raises(EdsError) as e:
            open_container(data, PASSWORD)
        assert e.value.code in ("eds_corrupt", "eds_wrong_password")


def test_a_changed_byte_is_refused() -> None:
    data = bytearray((NCA / GOST_FILES[0]).read_bytes())
    data[len(data) // 2] ^= 0x01
    with pytest.raises(EdsError) as e:
        open_container(bytes(data), PASSWORD)
    assert e.value.code in ("eds_corrupt", "eds_wrong_password")


def test_the_key_never_shows_in_its_repr() -> None:
    c = open_container((NCA / GOST_FILES[0]).read_bytes(), PASSWORD)
    assert "GostKey(" in repr(c.key) and len(repr(c.key)) < 60
