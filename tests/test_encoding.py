"""Key files: trustsvc.keys.encoding loads and dumps SM2, EC P-256 and RSA keys, and refuses the rest."""

from __future__ import annotations

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa, x25519

from trustsvc import errors
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.encoding import (
    dump_private_key,
    dump_public_key,
    key_algorithm_of,
    load_private_key,
    load_public_key,
)
from trustsvc.keys.sm2 import SM2PrivateKey, SM2PublicKey

KINDS = ["sm2", "p256", "rsa"]
PASSWORD = b"correct horse battery staple"

SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
SM2_PKCS8_PREFIX = bytes.fromhex("308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420")
SM2_PKCS8_MIDDLE = bytes.fromhex("a144034200")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


@pytest.fixture
def make_key(rsa_key):
    def make(kind: str):
        if kind == "sm2":
            return SM2PrivateKey.generate()
        if kind == "p256":
            return ec.generate_private_key(ec.SECP256R1())
        return rsa_key

    return make


def _spki_der(key) -> bytes:
    return dump_public_key(key.public_key(), encoding="der")


def _sm2_scalar(key: SM2PrivateKey) -> bytes:
    info = asn1_keys.PrivateKeyInfo.load(key.to_pkcs8_der())
    return info["private_key"].parsed["private_key"].contents


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_private_key_round_trips_through_plain_pkcs8(make_key, kind, encoding):
    key = make_key(kind)
    data = dump_private_key(key, encoding=encoding)
    if encoding == "pem":
        assert data.startswith(b"-----BEGIN PRIVATE KEY-----")
    else:
        assert asn1_keys.PrivateKeyInfo.load(data)["version"].native == 0
    assert _spki_der(load_private_key(data)) == _spki_der(key)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_private_key_round_trips_through_encrypted_pkcs8_with_password(make_key, kind, encoding):
    key = make_key(kind)
    data = dump_private_key(key, encoding=encoding, password=PASSWORD)
    der = pem.unarmor(data)[2] if encoding == "pem" else data
    encrypted = asn1_keys.EncryptedPrivateKeyInfo.load(der)
    assert encrypted["encryption_algorithm"]["algorithm"].native == "pbes2"
    assert _spki_der(load_private_key(data, password=PASSWORD)) == _spki_der(key)


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_password_raises_invalid_input_naming_the_password_and_no_key_material(make_key, kind):
    key = make_key(kind)
    data = dump_private_key(key, password=PASSWORD)
    with pytest.raises(errors.InvalidInput) as caught:
        load_private_key(data, password=b"Tr0ub4dor&3")
    assert type(caught.value) is errors.InvalidInput
    assert "wrong password" in caught.value.detail
    message = str(caught.value) + repr(caught.value.to_problem())
    assert PASSWORD.decode() not in message
    assert "Tr0ub4dor&3" not in message
    if kind == "sm2":
        assert _sm2_scalar(key).hex() not in message.lower()


@pytest.mark.parametrize("kind", KINDS)
def test_encrypted_key_without_password_raises_invalid_input(make_key, kind):
    data = dump_private_key(make_key(kind), password=PASSWORD)
    with pytest.raises(errors.InvalidInput, match="password is needed"):
        load_private_key(data)


@pytest.mark.parametrize("kind", KINDS)
def test_password_for_a_plain_key_raises_invalid_input(make_key, kind):
    data = dump_private_key(make_key(kind))
    with pytest.raises(errors.InvalidInput, match="not encrypted"):
        load_private_key(data, password=PASSWORD)


def test_empty_password_is_refused_when_dumping(make_key):
    with pytest.raises(errors.InvalidInput, match="empty"):
        dump_private_key(make_key("p256"), password=b"")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_public_key_round_trips_through_spki(make_key, kind, encoding):
    public_key = make_key(kind).public_key()
    data = dump_public_key(public_key, encoding=encoding)
    if encoding == "pem":
        assert data.startswith(b"-----BEGIN PUBLIC KEY-----")
    loaded = load_public_key(data)
    assert dump_public_key(loaded, encoding="der") == dump_public_key(public_key, encoding="der")


def test_sm2_keys_load_as_sm2_classes_and_spki_names_the_sm2_curve(make_key):
    key = make_key("sm2")
    assert isinstance(load_private_key(dump_private_key(key)), SM2PrivateKey)
    spki = _spki_der(key)
    assert isinstance(load_public_key(spki), SM2PublicKey)
    assert spki.startswith(SM2_SPKI_PREFIX)
    assert asn1_keys.PublicKeyInfo.load(spki).curve == ("named", "sm2p256v1")


@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_unknown_encoding_name_raises_invalid_input(make_key, encoding):
    key = make_key("p256")
    with pytest.raises(errors.InvalidInput):
        dump_private_key(key, encoding=encoding.upper())  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        dump_public_key(key.public_key(), encoding="base64")  # type: ignore[arg-type]


# --- other encodings in --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
def test_sec1_ec_p256_private_key_loads(encoding):
    key = ec.generate_private_key(ec.SECP256R1())
    data = key.private_bytes(
        encoding, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert _spki_der(load_private_key(data)) == _spki_der(key)


def _sm2_sec1_der(key: SM2PrivateKey) -> bytes:
    info = asn1_keys.PrivateKeyInfo.load(key.to_pkcs8_der())
    ec_key = asn1_keys.ECPrivateKey.load(info["private_key"].parsed.dump())
    sec1 = asn1_keys.ECPrivateKey(
        {
            "version": "ecPrivkeyVer1",
            "private_key": ec_key["private_key"],
            "parameters": asn1_keys.ECDomainParameters(name="named", value="sm2p256v1"),
            "public_key": key.public_key().encoded_point(),
        }
    )
    return sec1.dump()


@pytest.mark.parametrize("label", ["EC PRIVATE KEY", "SM2 PRIVATE KEY"])
def test_sec1_sm2_private_key_is_recognised_by_its_curve(make_key, label):
    key = make_key("sm2")
    der = _sm2_sec1_der(key)
    assert _spki_der(load_private_key(der)) == _spki_der(key)
    assert _spki_der(load_private_key(pem.armor(label, der))) == _spki_der(key)


def test_pkcs1_rsa_private_key_loads(rsa_key):
    data = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert data.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert _spki_der(load_private_key(data)) == _spki_der(rsa_key)


def test_legacy_encrypted_pem_loads_with_password_and_refuses_a_wrong_one():
    key = ec.generate_private_key(ec.SECP256R1())
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(PASSWORD),
    )
    assert b"Proc-Type: 4,ENCRYPTED" in data
    assert _spki_der(load_private_key(data, password=PASSWORD)) == _spki_der(key)
    with pytest.raises(errors.InvalidInput, match="wrong password"):
        load_private_key(data, password=b"nope")
    with pytest.raises(errors.InvalidInput, match="password is needed"):
        load_private_key(data)


def test_ec_parameters_block_before_the_key_is_skipped():
    key = ec.generate_private_key(ec.SECP256R1())
    params = pem.armor("EC PARAMETERS", bytes.fromhex("06082a8648ce3d030107"))
    data = params + key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert _spki_der(load_private_key(data)) == _spki_der(key)


# --- the fixed-DER-template SM2 forms (spec/sm2-backends.md appendix) ----------------------------


def test_sm2_pkcs8_in_the_fixed_template_form_loads_as_the_same_key(make_key):
    key = make_key("sm2")
    point = key.public_key().encoded_point()
    template = SM2_PKCS8_PREFIX + _sm2_scalar(key) + SM2_PKCS8_MIDDLE + point
    assert len(template) == 138
    loaded = load_private_key(template)
    assert isinstance(loaded, SM2PrivateKey)
    assert loaded.public_key().encoded_point() == point
    assert load_private_key(pem.armor("PRIVATE KEY", template)).public_key().encoded_point() == point


def test_sm2_spki_in_the_fixed_template_form_loads_and_dumps_identically(make_key):
    point = make_key("sm2").public_key().encoded_point()
    template = SM2_SPKI_PREFIX + point
    loaded = load_public_key(template)
    assert isinstance(loaded, SM2PublicKey)
    assert loaded.encoded_point() == point
    assert dump_public_key(loaded, encoding="der") == template


def test_our_sm2_pkcs8_and_spki_follow_the_fixed_templates(make_key):
    key = make_key("sm2")
    point = key.public_key().encoded_point()
    assert _spki_der(key) == SM2_SPKI_PREFIX + point
    der = dump_private_key(key, encoding="der")
    assert asn1_keys.PrivateKeyInfo.load(der).curve == ("named", "sm2p256v1")
    assert der.startswith(SM2_PKCS8_PREFIX[:26])  # version + id-ecPublicKey + sm2p256v1


# --- key_algorithm_of ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("sm2", KeyAlgorithm.SM2), ("p256", KeyAlgorithm.ECDSA_P256), ("rsa", KeyAlgorithm.RSA_3072)],
)
def test_key_algorithm_of_names_private_and_public_keys(make_key, kind, expected):
    key = make_key(kind)
    assert key_algorithm_of(key) is expected
    assert key_algorithm_of(key.public_key()) is expected


def test_rsa_2048_is_accepted_and_counts_as_the_rsa_family():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    loaded = load_private_key(dump_private_key(key))
    assert key_algorithm_of(loaded) is KeyAlgorithm.RSA_3072


# --- refusals ------------------------------------------------------------------------------------


def _unsupported_private_keys():
    return {
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "secp256k1": ec.generate_private_key(ec.SECP256K1()),
        "rsa1024": rsa.generate_private_key(public_exponent=65537, key_size=1024),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "x25519": x25519.X25519PrivateKey.generate(),
        "dsa": dsa.generate_private_key(key_size=2048),
    }


@pytest.mark.parametrize("name", ["p384", "secp256k1", "rsa1024", "ed25519", "x25519", "dsa"])
def test_other_key_types_are_unsupported_in_every_direction(name):
    key = _unsupported_private_keys()[name]
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD),
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(errors.UnsupportedAlgorithm):
        load_private_key(pkcs8)
    with pytest.raises(errors.UnsupportedAlgorithm):
        load_private_key(encrypted, password=PASSWORD)
    with pytest.raises(errors.UnsupportedAlgorithm):
        load_public_key(spki)
    with pytest.raises(errors.UnsupportedAlgorithm):
        key_algorithm_of(key)
    with pytest.raises(errors.UnsupportedAlgorithm):
        dump_private_key(key)


GARBAGE = {
    "empty": b"",
    "text": b"hello world",
    "random": bytes(range(7, 200, 3)),
    "integer": bytes.fromhex("020101"),
    "empty-sequence": bytes.fromhex("3000"),
    "sequence-of-nulls": bytes.fromhex("300405000500"),
    "bad-pem": b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
    "certificate-pem": pem.armor("CERTIFICATE", bytes.fromhex("3000")),
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_is_malformed_input_for_private_and_public_loads(name):
    with pytest.raises(errors.MalformedInput):
        load_private_key(GARBAGE[name])
    with pytest.raises(errors.MalformedInput):
        load_public_key(GARBAGE[name])


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_keys_are_malformed_input(make_key, kind):
    key = make_key(kind)
    with pytest.raises(errors.MalformedInput):
        load_private_key(dump_private_key(key, encoding="der")[:-5])
    with pytest.raises(errors.MalformedInput):
        load_public_key(_spki_der(key)[:-5])


@pytest.mark.parametrize("kind", KINDS)
def test_trailing_bytes_after_a_key_are_malformed_input(make_key, kind):
    key = make_key(kind)
    with pytest.raises(errors.MalformedInput):
        load_private_key(dump_private_key(key, encoding="der") + b"\x00")
    with pytest.raises(errors.MalformedInput):
        load_public_key(_spki_der(key) + b"\x00")


def test_public_and_private_key_files_are_not_confused(make_key):
    key = make_key("sm2")
    with pytest.raises(errors.MalformedInput):
        load_private_key(dump_public_key(key.public_key()))
    with pytest.raises(errors.MalformedInput):
        load_public_key(dump_private_key(key))


def test_spki_with_non_der_length_is_malformed_input(make_key):
    der = _spki_der(make_key("sm2"))
    ber = b"\x30\x81" + der[1:]  # long-form length where DER needs the short form
    with pytest.raises(errors.MalformedInput, match="not DER"):
        load_public_key(ber)


def test_sm2_point_not_on_the_curve_is_refused(make_key):
    point = bytearray(make_key("sm2").public_key().encoded_point())
    point[-1] ^= 1
    with pytest.raises(errors.InvalidInput):
        load_public_key(SM2_SPKI_PREFIX + bytes(point))


def test_spki_naming_the_sm2_curve_as_its_algorithm_is_unsupported(make_key):
    # Some older GM software writes 1.2.156.10197.1.301 where id-ecPublicKey belongs.
    point = make_key("sm2").public_key().encoded_point()
    sm2_oid = bytes.fromhex("06082a811ccf5501822d")
    legacy = b"\x30\x5a\x30\x14" + sm2_oid + sm2_oid + b"\x03\x42\x00" + point
    assert len(legacy) == 2 + 0x5A
    with pytest.raises(errors.UnsupportedAlgorithm):
        load_public_key(legacy)


def test_key_data_and_password_must_be_bytes(make_key):
    data = dump_private_key(make_key("p256"), password=PASSWORD)
    with pytest.raises(errors.InvalidInput, match="bytes"):
        load_private_key(data.decode())  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput, match="bytes"):
        load_private_key(data, password=PASSWORD.decode())  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput, match="bytes"):
        dump_private_key(make_key("p256"), password=PASSWORD.decode())  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput, match="bytes"):
        load_public_key(dump_public_key(make_key("p256").public_key()).decode())  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_encrypted_pkcs8_with_an_absurd_iteration_count_is_refused_before_any_work(make_key, kind):
    data = dump_private_key(make_key(kind), encoding="der", password=PASSWORD)
    info = asn1_keys.EncryptedPrivateKeyInfo.load(data)
    kdf_params = info["encryption_algorithm"]["parameters"]["key_derivation_func"]["parameters"]
    kdf_params["iteration_count"] = 2**31 - 1
    with pytest.raises(errors.UnsupportedAlgorithm, match="iteration count"):
        load_private_key(info.dump(force=True), password=PASSWORD)
