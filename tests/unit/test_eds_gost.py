"""GOST R 34.10-2012/2015 signatures with Streebog (issue #10; G3): the standard's own example, the
independent gostcrypto implementation both ways, and NCA's real certificate signatures."""

from __future__ import annotations

import secrets
from pathlib import Path

from asn1crypto import crl, x509
from gostcrypto import gostsignature

from app.eds import asn1, gost

NCA = Path(__file__).parents[1] / "data" / "nca-test"

# GOST R 34.10-2012, Appendix A.2 (the 512-bit example on its test curve)
A2 = gost.Curve(
    "A.2 test curve",
    p=int(
        "4531acd1fe0023c7550d267b6b2fee80922b14b2ffb90f04d4eb7c09b5d2d15df1d852741af4704a0458047e80e4546d35b8336fac224dd81664bbf528be6373",
        16,
    ),
    a=7,
    b=int(
        "1cff0806a31116da29d8cfa54e57eb748bc5f377e49400fdd788b649eca1ac4361834013b2ad7322480a89ca58e0cf74bc9e540c2add6897fad0a3084f302adc",
        16,
    ),
    q=int(
        "4531acd1fe0023c7550d267b6b2fee80922b14b2ffb90f04d4eb7c09b5d2d15da82f2d7ecb1dbac719905c5eecc423f1d86e25edbe23c595d644aaf187e6e6df",
        16,
    ),
    x=int(
        "24d19cc64572ee30f396bf6ebbfd7a6c5213b3b3d7057cc825f91093a68cd762fd60611262cd838dc6b60aa7eee804e28bc849977fac33b4b530f1b120248a9a",
        16,
    ),
    y=int(
        "2bb312a43bd2ce6e0d020613c857acddcfbf061e91e5f2c3f32447c259f39b2c83ab156d77f1496bf7eb3351e1ee4e43dc1a18b91b24640b6dbb92cb1add371e",
        16,
    ),
    size=64,
)
A2_D = int(
    "0ba6048aadae241ba40936d47756d7c93091a0e8514669700ee7508e508b102072e8123b2200a0563322dad2827e2714a2636b7bfd18aadfc62967821fa18dd4",
    16,
)
A2_E = int(
    "3754f3cfacc9e0615c4f4a7c4d8dab531b09b6f9c170c533a71d147035b0c5917184ee536593f4414339976c647c5d5a407adedb1d560c4fc6777d2972075b8c",
    16,
)
A2_K = int(
    "0359e7f4b1410feacc570456c6801496946312120b39d019d455986e364f365886748ed7a44b3e794434006011842286212273a6d14cf70ea3af71bb1ae679f1",
    16,
)
A2_R = int(
    "2f86fa60a081091a23dd795e1e3c689ee512a3c82ee0dcc2643c78eea8fcacd35492558486b20f1c9ec197c90699850260c93bcbcd9c5c3317e19344e173ae36",
    16,
)
A2_S = int(
    "1081b394696ffe8e6585e7a9362d26b6325f56778aadbc081c0bfbe933d52ff5823ce288e8c4f362526080df7f70ce406a6eeb1f56919cb92a9853bde73e5b4a",
    16,
)
A2_QX = int(
    "115dc5bc96760c7b48598d8ab9e740d4c4a85a65be33c1815b5c320c854621dd5a515856d13314af69bc5b924c8b4ddff75c45415c1d9dd9dd33612cd530efe1",
    16,
)
A2_QY = int(
    "37c7c90cd40b0f5621dc3ac1b751cfa0e2634fa0503b3d52639f5d7fb72afd61ea199441d943ffe7f0c70a2759a3cdb84c114e1f9339fdf27f35eca93677beec",
    16,
)


def test_the_standards_example_signs_and_verifies() -> None:
    assert gost.public_key(A2, A2_D) == (A2_QX, A2_QY)
    assert gost.sign(A2, A2_D, A2_E, A2_K) == (A2_R, A2_S)
    assert gost.verify(A2, (A2_QX, A2_QY), A2_E, A2_R, A2_S)
    assert not gost.verify(A2, (A2_QX, A2_QY), A2_E + 1, A2_R, A2_S)
    assert not gost.verify(A2, (A2_QX, A2_QY), A2_E, A2_R, (A2_S + 1) % A2.q)


def test_streebog_512_gives_the_standards_first_example() -> None:
    # GOST R 34.11-2012, example 1 (message M1 of 63 bytes, 512-bit hash)
    m1 = b"012345678901234567890123456789012345678901234567890123456789012"
    assert gost.streebog512(m1).hex() == (
        "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
        "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"
    )


def test_ours_and_gostcrypto_agree_both_ways_on_the_nca_curve() -> None:
    c = gost.PARAMSET_A_512
    ref = gostsignature.new(gostsignature.MODE_512, gostsignature.CURVES_R_1323565_1_024_2019[c.name])
    for _ in range(3):
        d = secrets.randbelow(c.q - 1) + 1
        e = secrets.randbits(512)
        qx, qy = gost.public_key(c, d)
        pub = qx.to_bytes(64, "big") + qy.to_bytes(64, "big")
        assert bytes(ref.public_key_generate(bytearray(d.to_bytes(64, "big")))) == pub
        r, s = gost.sign(c, d, e)
        assert ref.verify(
            bytearray(pub),
            bytearray(e.to_bytes(64, "big")),
            bytearray(r.to_bytes(64, "big") + s.to_bytes(64, "big")),
        )
        theirs = bytes(ref.sign(bytearray(d.to_bytes(64, "big")), bytearray(e.to_bytes(64, "big"))))
        assert gost.verify(
            c, (qx, qy), e, int.from_bytes(theirs[:64], "big"), int.from_bytes(theirs[64:], "big")
        )


def test_ncas_certificates_and_crl_verify_in_nca_byte_order() -> None:
    asn1.register()
    root = x509.Certificate.load((NCA / "root_test_gost_2022.cer").read_bytes())
    inter = x509.Certificate.load((NCA / "nca_gost2022_test.cer").read_bytes())
    lst = crl.CertificateList.load((NCA / "nca_gost2022_test_2026-08-11.crl").read_bytes())
    c = gost.PARAMSET_A_512
    root_pub, inter_pub = asn1.public_key_bytes(root), asn1.public_key_bytes(inter)
    assert gost.nca_verify(c, root_pub, root["tbs_certificate"].dump(), root["signature_value"].native)
    assert gost.nca_verify(c, root_pub, inter["tbs_certificate"].dump(), inter["signature_value"].native)
    assert gost.nca_verify(c, inter_pub, lst["tbs_cert_list"].dump(), lst["signature"].native)
    changed = bytearray(inter["tbs_certificate"].dump())
    changed[-5] ^= 1
    assert not gost.nca_verify(c, root_pub, bytes(changed), inter["signature_value"].native)
    assert not gost.nca_verify(c, inter_pub, inter["tbs_certificate"].dump(), inter["signature_value"].native)


def test_a_signature_round_trips_and_a_changed_message_fails() -> None:
    c = gost.PARAMSET_A_512
    d = secrets.token_bytes(64)
    d = (int.from_bytes(d, "little") % (c.q - 1) + 1).to_bytes(64, "little")
    pub = gost.nca_public(c, d)
    sig = gost.nca_sign(c, d, b"card 42")
    assert gost.nca_verify(c, pub, b"card 42", sig)
    assert not gost.nca_verify(c, pub, b"card 43", sig)
    assert not gost.nca_verify(c, pub, b"card 42", sig[:-1] + bytes([sig[-1] ^ 1]))
    assert not gost.nca_verify(c, pub, b"card 42", sig[:10])
