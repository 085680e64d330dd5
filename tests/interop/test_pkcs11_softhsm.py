"""The PKCS#11 key store on SoftHSM2: keys made in a fresh token, signatures checked by us and by openssl."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem as asn1_pem

from tests.tools import require_tool
from trustsvc.errors import ConfigurationError, InvalidSignature, KeyNotFound, UnsupportedAlgorithm
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.keystore import KeyStore, Pkcs11KeyStore, _Token
from trustsvc.keys.signer import verify

pytestmark = pytest.mark.interop

pkcs11 = pytest.importorskip("pkcs11")

DATA = b"sealed licence to be signed in the HSM" * 5

MODULE_CANDIDATES = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
]

SIGNING = [
    (KeyAlgorithm.ECDSA_P256, SignatureAlgorithm.ECDSA_SHA256),
    (KeyAlgorithm.RSA_3072, SignatureAlgorithm.RSA_PKCS1_SHA256),
    (KeyAlgorithm.RSA_3072, SignatureAlgorithm.RSA_PSS_SHA256),
]
SIGNING_IDS = [f"{k.value}/{s.value}" for k, s in SIGNING]


@dataclass(frozen=True)
class SoftHSM:
    module: str
    label: str
    pin: str
    conf: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    util = shutil.which("softhsm2-util")
    module = next((p for p in MODULE_CANDIDATES if os.path.exists(p)), None)
    if util is None or module is None:
        pytest.skip(
            "softhsm2 not installed (needs softhsm2-util and libsofthsm2.so; apt-get install softhsm2)"
        )
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    # A label no other test uses: the key store shares one login per (module, token label) per process.
    hsm = SoftHSM(module=module, label="t-" + secrets.token_hex(6), pin=secrets.token_hex(4), conf=conf)
    init = subprocess.run(
        [
            util,
            "--init-token",
            "--free",
            "--label",
            hsm.label,
            "--so-pin",
            secrets.token_hex(4),
            "--pin",
            hsm.pin,
        ],
        env=hsm.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        # SoftHSM2 reads its configuration in C_Initialize: start from a clean library state.
        pkcs11.lib(module).reinitialize()
        yield hsm
        _Token._registry.clear()
        pkcs11.lib(module).finalize()


@pytest.fixture(scope="module")
def store(softhsm: SoftHSM) -> Pkcs11KeyStore:
    return Pkcs11KeyStore(softhsm.module, softhsm.label, softhsm.pin)


@pytest.fixture(scope="module")
def generated(store: Pkcs11KeyStore) -> dict[KeyAlgorithm, str]:
    return {
        alg: store.generate(alg, label=f"hsm {alg.value}").key_id
        for alg in (KeyAlgorithm.ECDSA_P256, KeyAlgorithm.RSA_3072)
    }


def _raw_private_key(softhsm: SoftHSM, key_id: str) -> Any:
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.label)
    session = token.open()  # no PIN: the process is logged in already (PKCS#11 login is per application)
    return session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=bytes.fromhex(key_id))


def openssl_verify(
    tmp: Path, spki_der: bytes, algorithm: SignatureAlgorithm, data: bytes, signature: bytes
) -> bool:
    openssl = require_tool("openssl")
    tmp.mkdir(parents=True, exist_ok=True)
    pub, msg, sig = tmp / "pub.pem", tmp / "data.bin", tmp / "sig.bin"
    pub.write_bytes(asn1_pem.armor("PUBLIC KEY", spki_der))
    msg.write_bytes(data)
    sig.write_bytes(signature)
    cmd = [openssl, "dgst", "-sha256"]
    if algorithm is SignatureAlgorithm.RSA_PSS_SHA256:
        cmd += [
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-sigopt",
            "rsa_mgf1_md:sha256",
        ]
    cmd += ["-verify", str(pub), "-signature", str(sig), str(msg)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode == 0 and "Verified OK" in done.stdout


@pytest.mark.parametrize(("key_alg", "sig_alg"), SIGNING, ids=SIGNING_IDS)
def test_token_key_signs_and_verifies_with_our_verify_and_openssl(
    softhsm: SoftHSM,
    generated: dict[KeyAlgorithm, str],
    tmp_path: Path,
    key_alg: KeyAlgorithm,
    sig_alg: SignatureAlgorithm,
) -> None:
    key_id = generated[key_alg]
    reopened = Pkcs11KeyStore(softhsm.module, softhsm.label, softhsm.pin)

    signer = reopened.signer(key_id, sig_alg)
    signature = signer.sign(DATA)

    spki = reopened.public_key_info(key_id)
    assert signer.algorithm is sig_alg and signer.public_key_info.dump() == spki.dump()
    verify(spki, sig_alg, DATA, signature)
    with pytest.raises(InvalidSignature):
        verify(spki, sig_alg, DATA + b"x", signature)
    assert openssl_verify(tmp_path / "good", spki.dump(), sig_alg, DATA, signature)
    assert not openssl_verify(tmp_path / "bad", spki.dump(), sig_alg, DATA + b"x", signature)


def test_ecdsa_signature_is_der_and_fresh_each_time(
    store: Pkcs11KeyStore, generated: dict[KeyAlgorithm, str]
) -> None:
    signer = store.signer(generated[KeyAlgorithm.ECDSA_P256])

    first, second = signer.sign(DATA), signer.sign(DATA)

    assert first[0] == 0x30 and first[1] == len(first) - 2  # DER SEQUENCE, not raw r||s
    assert first != second


@pytest.mark.parametrize("key_alg", [KeyAlgorithm.ECDSA_P256, KeyAlgorithm.RSA_3072], ids=lambda a: a.value)
def test_private_key_in_token_is_sensitive_and_never_extractable(
    softhsm: SoftHSM, generated: dict[KeyAlgorithm, str], key_alg: KeyAlgorithm
) -> None:
    attr = pkcs11.Attribute
    private = _raw_private_key(softhsm, generated[key_alg])

    assert private[attr.TOKEN] is True and private[attr.PRIVATE] is True
    assert private[attr.SENSITIVE] is True and private[attr.ALWAYS_SENSITIVE] is True
    assert private[attr.EXTRACTABLE] is False and private[attr.NEVER_EXTRACTABLE] is True
    assert private[attr.SIGN] is True
    assert private[attr.DECRYPT] is False and private[attr.UNWRAP] is False and private[attr.DERIVE] is False
    assert private[attr.ID] == bytes.fromhex(generated[key_alg])
    secret = attr.VALUE if key_alg is KeyAlgorithm.ECDSA_P256 else attr.PRIVATE_EXPONENT
    with pytest.raises(pkcs11.AttributeSensitive):
        private[secret]


def test_sm2_key_in_pkcs11_store_is_unsupported(store: Pkcs11KeyStore) -> None:
    before = store.list()
    with pytest.raises(UnsupportedAlgorithm, match="SM2"):
        store.generate(KeyAlgorithm.SM2)
    assert store.list() == before


def test_list_and_get_describe_generated_keys(
    softhsm: SoftHSM, store: Pkcs11KeyStore, generated: dict[KeyAlgorithm, str]
) -> None:
    listed = {i.key_id: i for i in Pkcs11KeyStore(softhsm.module, softhsm.label, softhsm.pin).list()}

    for alg, key_id in generated.items():
        info = store.get(key_id)
        assert listed[key_id] == info
        assert info.algorithm is alg and info.label == f"hsm {alg.value}" and info.store == "pkcs11"
    assert isinstance(store, KeyStore)


@pytest.mark.parametrize("key_id", ["0" * 32, "../x", "zz"])
def test_unknown_key_id_in_token_is_key_not_found(store: Pkcs11KeyStore, key_id: str) -> None:
    for call in (store.get, store.public_key_info, store.signer):
        with pytest.raises(KeyNotFound):
            call(key_id)


def test_signer_with_an_algorithm_that_does_not_fit_the_token_key_is_unsupported(
    store: Pkcs11KeyStore, generated: dict[KeyAlgorithm, str]
) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        store.signer(generated[KeyAlgorithm.ECDSA_P256], SignatureAlgorithm.RSA_PSS_SHA256)


def test_threads_share_a_store_and_sign_concurrently(
    store: Pkcs11KeyStore, generated: dict[KeyAlgorithm, str]
) -> None:
    signers = [
        store.signer(generated[KeyAlgorithm.ECDSA_P256]),
        store.signer(generated[KeyAlgorithm.RSA_3072]),
    ]
    results: list[tuple[int, bytes]] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(5):
                results.append((n % 2, signers[n % 2].sign(DATA)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors and len(results) == 40
    for which, signature in results:
        verify(signers[which].public_key_info, signers[which].algorithm, DATA, signature)


def _run_child(softhsm: SoftHSM, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, softhsm.module, softhsm.label, *args],
        env=softhsm.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_another_process_lists_and_signs_with_token_keys(
    softhsm: SoftHSM, store: Pkcs11KeyStore, generated: dict[KeyAlgorithm, str]
) -> None:
    script = (
        "import sys\n"
        "from trustsvc.keys.keystore import Pkcs11KeyStore\n"
        "module, label, pin, key_id = sys.argv[1:]\n"
        "store = Pkcs11KeyStore(module, label, pin)\n"
        "assert key_id in {i.key_id for i in store.list()}\n"
        "print(store.signer(key_id).sign(b'from the child').hex())\n"
    )
    key_id = generated[KeyAlgorithm.ECDSA_P256]

    done = _run_child(softhsm, script, softhsm.pin, key_id)

    assert done.returncode == 0, done.stderr
    verify(
        store.public_key_info(key_id),
        SignatureAlgorithm.ECDSA_SHA256,
        b"from the child",
        bytes.fromhex(done.stdout.strip()),
    )


def test_wrong_pin_is_a_configuration_error(softhsm: SoftHSM) -> None:
    # In a fresh process: this one is logged in already, and PKCS#11 would not check the PIN again.
    script = (
        "import sys\n"
        "from trustsvc.errors import ConfigurationError\n"
        "from trustsvc.keys.keystore import Pkcs11KeyStore\n"
        "try:\n"
        "    Pkcs11KeyStore(*sys.argv[1:4])\n"
        "except ConfigurationError as exc:\n"
        "    print('refused:', exc.detail)\n"
    )
    done = _run_child(softhsm, script, "not-" + softhsm.pin)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused:") and "PIN" in done.stdout
    assert softhsm.pin not in done.stdout


def test_second_store_in_one_process_with_another_pin_is_refused(
    softhsm: SoftHSM, store: Pkcs11KeyStore
) -> None:
    with pytest.raises(ConfigurationError, match="PIN"):
        Pkcs11KeyStore(softhsm.module, softhsm.label, "not-" + softhsm.pin)


def test_unknown_token_or_module_is_a_configuration_error(softhsm: SoftHSM, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        Pkcs11KeyStore(softhsm.module, "no-such-token", softhsm.pin)
    with pytest.raises(ConfigurationError):
        Pkcs11KeyStore(str(tmp_path / "missing.so"), softhsm.label, softhsm.pin)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_signs_with_the_parents_store(
    store: Pkcs11KeyStore, generated: dict[KeyAlgorithm, str]
) -> None:
    key_id = generated[KeyAlgorithm.ECDSA_P256]
    signer = store.signer(key_id)
    signer.sign(DATA)  # the parent has a live session before the fork, as a preloading server would
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.write(write_end, signer.sign(b"forked").hex().encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        signature = bytes.fromhex(pipe.read())
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    verify(store.public_key_info(key_id), SignatureAlgorithm.ECDSA_SHA256, b"forked", signature)
    verify(store.public_key_info(key_id), SignatureAlgorithm.ECDSA_SHA256, DATA, signer.sign(DATA))
