"""SM OID registration with asn1crypto and the algorithm-identifier helpers of trustsvc.keys.algorithms."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core, keys

import trustsvc.keys  # noqa: F401  (registers the SM OIDs)
from trustsvc import errors
from trustsvc.keys.algorithms import (
    KeyAlgorithm,
    SignatureAlgorithm,
    digest_algorithm,
    register_sm_oids,
    signature_algorithm_of,
    signed_digest_algorithm,
)

REAL_OFD = Path("/work/shared/testdata/ofd-real")

# GB/T 32918.5 Annex A public key, used only as bytes here.
ANNEX_A_POINT = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
ANNEX_A_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
SM2_PKCS8_PREFIX = bytes.fromhex("308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420")

# DER of each OID, from spec/standards.md §2.1 where it gives one.
OID_TABLE = [
    (keys.NamedCurve, "sm2p256v1", "1.2.156.10197.1.301", "06082A811CCF5501822D"),
    (algos.SignedDigestAlgorithmId, "sm2_sign", "1.2.156.10197.1.301.1", "06092A811CCF5501822D01"),
    (cms.KeyEncryptionAlgorithmId, "sm2_encrypt", "1.2.156.10197.1.301.3", "06092A811CCF5501822D03"),
    (algos.DigestAlgorithmId, "sm3", "1.2.156.10197.1.401", "06082A811CCF55018311"),
    (algos.HmacAlgorithmId, "sm3", "1.2.156.10197.1.401.2", None),
    (algos.SignedDigestAlgorithmId, "sm2_sm3", "1.2.156.10197.1.501", "06082A811CCF55018375"),
    (algos.EncryptionAlgorithmId, "sm4", "1.2.156.10197.1.104", None),
    (algos.EncryptionAlgorithmId, "sm4_ecb", "1.2.156.10197.1.104.1", None),
    (algos.EncryptionAlgorithmId, "sm4_cbc", "1.2.156.10197.1.104.2", "06082A811CCF55016802"),
    (algos.EncryptionAlgorithmId, "sm4_gcm", "1.2.156.10197.1.104.8", None),
    (algos.EncryptionAlgorithmId, "sm4_xts", "1.2.156.10197.1.104.10", None),
    (cms.ContentType, "gm_data", "1.2.156.10197.6.1.4.2.1", "060A2A811CCF550601040201"),
    (cms.ContentType, "gm_signed_data", "1.2.156.10197.6.1.4.2.2", "060A2A811CCF550601040202"),
    (cms.ContentType, "gm_enveloped_data", "1.2.156.10197.6.1.4.2.3", None),
    (cms.ContentType, "gm_signed_and_enveloped_data", "1.2.156.10197.6.1.4.2.4", None),
    (cms.ContentType, "gm_encrypted_data", "1.2.156.10197.6.1.4.2.5", None),
    (cms.ContentType, "gm_key_agreement_info", "1.2.156.10197.6.1.4.2.6", None),
]

OUR_DER = {
    SignatureAlgorithm.SM2_SM3: "300a06082a811ccf55018375",
    SignatureAlgorithm.ECDSA_SHA256: "300a06082a8648ce3d040302",
    SignatureAlgorithm.RSA_PKCS1_SHA256: "300d06092a864886f70d01010b0500",
    # RFC 4055 RSASSA-PSS-params: SHA-256 (NULL params), MGF1-SHA-256, salt 32, trailer default.
    SignatureAlgorithm.RSA_PSS_SHA256: (
        "304106092a864886f70d01010a3034"
        "a00f300d06096086480165030402010500"
        "a11c301a06092a864886f70d010108300d06096086480165030402010500"
        "a203020120"
    ),
}


def _alg_id(hex_der: str) -> algos.SignedDigestAlgorithm:
    return algos.SignedDigestAlgorithm.load(bytes.fromhex(hex_der))


@pytest.mark.parametrize(
    ("cls", "name", "dotted", "der_hex"), OID_TABLE, ids=[row[1] + "@" + row[2] for row in OID_TABLE]
)
def test_sm_oid_maps_to_its_name_both_ways_and_dumps_to_standard_der(cls, name, dotted, der_hex):
    parsed = cls.load(cls(dotted).dump())
    assert parsed.native == name
    assert parsed.dotted == dotted
    assert cls(name).dotted == dotted
    if der_hex:
        assert cls(name).dump() == bytes.fromhex(der_hex)


def test_register_sm_oids_is_idempotent():
    before_names = {row[2]: row[0].map(row[2]) for row in OID_TABLE}
    signature_algo = algos.SignedDigestAlgorithm.signature_algo
    register_sm_oids()
    register_sm_oids()
    assert {row[2]: row[0].map(row[2]) for row in OID_TABLE} == before_names
    assert algos.SignedDigestAlgorithm.signature_algo is signature_algo  # not wrapped twice
    assert _alg_id(OUR_DER[SignatureAlgorithm.SM2_SM3]).signature_algo == "sm2"


def test_sm2_spki_in_fixed_template_form_has_named_curve_and_bit_size():
    info = keys.PublicKeyInfo.load(SM2_SPKI_PREFIX + ANNEX_A_POINT)
    assert info.algorithm == "ec"
    assert info.curve == ("named", "sm2p256v1")
    assert info.bit_size == 256
    assert info["public_key"].native == ANNEX_A_POINT
    assert info.dump(force=True) == SM2_SPKI_PREFIX + ANNEX_A_POINT


def test_sm2_pkcs8_in_fixed_template_form_has_named_curve_and_bit_size():
    der = SM2_PKCS8_PREFIX + ANNEX_A_D + bytes.fromhex("a144034200") + ANNEX_A_POINT
    info = keys.PrivateKeyInfo.load(der)
    assert info.curve == ("named", "sm2p256v1")
    assert info.bit_size == 256
    assert info["private_key"].parsed["private_key"].native == int.from_bytes(ANNEX_A_D, "big")
    assert info.dump(force=True) == der


def test_sm2_private_scalar_is_padded_to_32_bytes_like_other_256_bit_curves():
    params = keys.ECDomainParameters(name="named", value="sm2p256v1")
    assert params.key_size == 32
    ec_key = keys.ECPrivateKey({"version": "ecPrivkeyVer1", "private_key": 1, "parameters": params})
    assert ec_key["private_key"].contents == bytes(31) + b"\x01"


@pytest.mark.parametrize("hex_der", ["300a06082a811ccf55018375", "300c06082a811ccf550183750500"])
def test_sm2_with_sm3_reports_sm2_signature_and_sm3_hash_with_or_without_null(hex_der):
    ident = _alg_id(hex_der)
    assert ident["algorithm"].native == "sm2_sm3"
    assert ident.signature_algo == "sm2"
    assert ident.hash_algo == "sm3"
    assert ident.dump() == bytes.fromhex(hex_der)


def test_sm2_sign_reports_sm2_and_leaves_the_digest_to_the_structure_like_ecdsa():
    ident = algos.SignedDigestAlgorithm({"algorithm": "sm2_sign"})
    assert ident.signature_algo == "sm2"
    with pytest.raises(ValueError, match="Hash algorithm not known"):
        ident.hash_algo  # noqa: B018


def test_asn1crypto_still_answers_for_its_own_algorithms_after_patching():
    assert algos.SignedDigestAlgorithm({"algorithm": "sha384_ecdsa"}).signature_algo == "ecdsa"
    assert algos.SignedDigestAlgorithm({"algorithm": "sha384_ecdsa"}).hash_algo == "sha384"
    assert _alg_id(OUR_DER[SignatureAlgorithm.RSA_PSS_SHA256]).hash_algo == "sha256"
    with pytest.raises(ValueError, match="Signature algorithm not known"):
        algos.SignedDigestAlgorithm({"algorithm": "1.2.3.4"}).signature_algo  # noqa: B018


@pytest.mark.parametrize("alg", list(SignatureAlgorithm))
def test_signed_digest_algorithm_writes_the_standard_encoding(alg):
    assert signed_digest_algorithm(alg).dump() == bytes.fromhex(OUR_DER[alg])


@pytest.mark.parametrize("alg", list(SignatureAlgorithm))
def test_signature_algorithm_of_reads_back_what_we_write(alg):
    assert signature_algorithm_of(_alg_id(OUR_DER[alg])) is alg


@pytest.mark.parametrize(
    "hex_der",
    [
        "300c06082a811ccf550183750500",  # 501 + NULL (CFCA and most vendor CAs)
        "300b06092a811ccf5501822d01",  # 301.1 SM2-1, no parameters
        "300d06092a811ccf5501822d010500",  # 301.1 + NULL (GB/T 35275 SignerInfo on a rail e-ticket)
    ],
)
def test_signature_algorithm_of_accepts_the_sm2_forms_seen_in_the_field(hex_der):
    assert signature_algorithm_of(_alg_id(hex_der)) is SignatureAlgorithm.SM2_SM3


def test_signature_algorithm_of_accepts_ecdsa_and_rsa_pkcs1_with_absent_or_null_parameters():
    assert signature_algorithm_of(_alg_id("300c06082a8648ce3d0403020500")) is SignatureAlgorithm.ECDSA_SHA256
    assert (
        signature_algorithm_of(_alg_id("300b06092a864886f70d01010b")) is SignatureAlgorithm.RSA_PKCS1_SHA256
    )


def _pss(hash_name: str, mgf_hash: str, salt: int) -> algos.SignedDigestAlgorithm:
    return algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": hash_name},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": mgf_hash}},
                "salt_length": salt,
            },
        }
    )


@pytest.mark.parametrize(
    "ident",
    [
        algos.SignedDigestAlgorithm({"algorithm": "sha384_ecdsa"}),
        algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa"}),
        algos.SignedDigestAlgorithm({"algorithm": "ed25519"}),
        algos.SignedDigestAlgorithm({"algorithm": "1.2.156.10197.1.502"}),
        algos.SignedDigestAlgorithm({"algorithm": "sm2_sm3", "parameters": core.ObjectIdentifier("1.2.3")}),
        _pss("sha256", "sha256", 20),
        _pss("sha384", "sha384", 32),
        _pss("sha256", "sha1", 32),
        algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss"}),  # PSS without parameters
    ],
    ids=[
        "sha384-ecdsa",
        "sha1-rsa",
        "ed25519",
        "sm-502",
        "sm2-odd-params",
        "pss-salt20",
        "pss-sha384",
        "pss-mgf-sha1",
        "pss-noparams",
    ],
)
def test_signature_algorithm_of_rejects_everything_else_as_unsupported(ident):
    with pytest.raises(errors.UnsupportedAlgorithm):
        signature_algorithm_of(algos.SignedDigestAlgorithm.load(ident.dump()))


def test_digest_algorithm_is_sm3_for_sm2_and_sha256_otherwise():
    assert digest_algorithm(SignatureAlgorithm.SM2_SM3) == "sm3"
    for alg in (
        SignatureAlgorithm.ECDSA_SHA256,
        SignatureAlgorithm.RSA_PKCS1_SHA256,
        SignatureAlgorithm.RSA_PSS_SHA256,
    ):
        assert digest_algorithm(alg) == "sha256"


def test_enum_values_are_the_contract_strings():
    assert [a.value for a in KeyAlgorithm] == ["sm2", "ecdsa-p256", "rsa-3072"]
    assert [a.value for a in SignatureAlgorithm] == [
        "sm2-sm3",
        "ecdsa-sha256",
        "rsa-pkcs1-sha256",
        "rsa-pss-sha256",
    ]
    assert SignatureAlgorithm("sm2-sm3") is SignatureAlgorithm.SM2_SM3


def test_sm4_cbc_parameters_parse_as_the_iv():
    iv = bytes(range(16))
    ident = algos.EncryptionAlgorithm.load(
        algos.EncryptionAlgorithm({"algorithm": "sm4_cbc", "parameters": iv}).dump()
    )
    assert ident["parameters"].native == iv
    assert ident.dump() == bytes.fromhex("301c06082a811ccf550168020410") + iv


def test_hmac_sm3_identifier_dumps_oid_401_2():
    assert algos.HmacAlgorithm({"algorithm": "sm3"})["algorithm"].dotted == "1.2.156.10197.1.401.2"


def test_gm_data_content_info_parses_content_as_octet_string():
    der = cms.ContentInfo({"content_type": "gm_data", "content": core.OctetString(b"hello")}).dump()
    assert der.startswith(bytes.fromhex("3015060a2a811ccf550601040201a007"))
    parsed = cms.ContentInfo.load(der)
    assert isinstance(parsed["content"], core.OctetString)
    assert parsed["content"].native == b"hello"


def _railway_signed_value() -> bytes:
    with zipfile.ZipFile(REAL_OFD / "railway_eticket_sign.ofd") as ofd:
        return ofd.read("Doc_0/Signs/Sign_0/SignedValue.dat")


def test_real_gbt35275_signed_data_from_a_rail_e_ticket_parses_with_names():
    der = _railway_signed_value()
    info = cms.ContentInfo.load(der)
    assert info["content_type"].native == "gm_signed_data"
    signed_data = info["content"]
    assert isinstance(signed_data, cms.SignedData)
    assert signed_data["version"].native == "v1"
    assert signed_data["digest_algorithms"][0]["algorithm"].native == "sm3"
    assert signed_data["encap_content_info"]["content_type"].native == "gm_data"
    signer = signed_data["signer_infos"][0]
    assert signer["digest_algorithm"]["algorithm"].native == "sm3"
    assert signer["signature_algorithm"]["algorithm"].native == "sm2_sign"
    assert signature_algorithm_of(signer["signature_algorithm"]) is SignatureAlgorithm.SM2_SM3
    attrs = {attr["type"].native: attr["values"].native for attr in signer["signed_attrs"]}
    assert attrs["content_type"] == ["gm_data"]
    cert = signed_data["certificates"][0].chosen
    assert cert.public_key.curve == ("named", "sm2p256v1")
    assert cert.signature_algo == "sm2"
    assert cert.hash_algo == "sm3"
    assert info.dump() == der


def test_pyhanko_reads_sm3_as_the_cms_digest_of_sm2_with_sm3():
    pytest.importorskip("pyhanko")
    from cryptography.hazmat.primitives import hashes
    from pyhanko.sign.general import get_cms_hash_algo_for_mechanism
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    mechanism = signed_digest_algorithm(SignatureAlgorithm.SM2_SM3)
    assert get_cms_hash_algo_for_mechanism(mechanism) == "sm3"
    assert isinstance(get_pyca_cryptography_hash(mechanism.hash_algo), hashes.SM3)
    # pyhanko-certvalidator patches asn1crypto maps of its own on import; ours must survive that.
    assert algos.SignedDigestAlgorithmId("sm2_sm3").dotted == "1.2.156.10197.1.501"


def test_unknown_algorithm_names_are_unsupported():
    with pytest.raises(errors.UnsupportedAlgorithm):
        signed_digest_algorithm("ecdsa-sha1")  # type: ignore[arg-type]
    with pytest.raises(errors.UnsupportedAlgorithm):
        digest_algorithm("sm2")  # type: ignore[arg-type]
