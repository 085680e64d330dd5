"""The verification engine on five real sealed OFD files of other vendors (testdata/ofd-real/README.md).

Integrity holds for every signature (with the README's repair warnings); none carries its CA chain, so with no
anchor the verdict is INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND, never INVALID. Each file carries exactly one
certificate — the signer's, which is also the seal maker's; none is self-issued, and no issuer is in any file.
Given that carried certificate as an anchor, the chains pass (the leaf is itself the anchor, so no revocation
is asked) and, the seals' status service being unknown, the verdict is VALID with a warning.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import x509

from trustsvc.ofd.verification import check_ofd_signatures
from trustsvc.verify.engine import VerificationEngine
from trustsvc.verify.result import CheckStatus, SubIndication
from trustsvc.verify.status import StatusUnavailable
from trustsvc.verify.truststore import TrustStore

REAL = Path("/work/shared/testdata/ofd-real")
FILES = [
    "suwell_bank_receipt_b",
    "suwell_bank_receipt_a",
    "dj_bank_receipt",
    "baiwang_einvoice",
    "railway_eticket_sign",
]
INTEGRITY = {
    "references",
    "data_hash",
    "message_digest",
    "signature_value",
    "seal_signature",
    "signer_listed",
}
REPAIRS = {
    "suwell_bank_receipt_a": [
        "document signature: raw 64-byte r||s",
        "seal maker signature: raw 64-byte r||s",
    ],
    "dj_bank_receipt": ["document signature: INTEGER r has no 0x00 sign pad"],
    "baiwang_einvoice": ["seal: certListType 3"],
}


def offline(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
    raise StatusUnavailable(f"{url}: offline")


def engine() -> VerificationEngine:
    return VerificationEngine(TrustStore([]), None, fetcher=offline)


def data(name: str) -> bytes:
    path = REAL / f"{name}.ofd"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path.read_bytes()


@pytest.mark.parametrize("name", FILES)
def test_real_file_integrity_holds_and_chain_is_not_found_without_anchor(name: str) -> None:
    result = engine().verify(data(name))
    assert (result.report, result.sub_indication) == (
        "INDETERMINATE",
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
    (sig,) = result.signatures
    made = {c.name: c.status for c in sig.checks}
    for check in INTEGRITY & made.keys():
        assert made[check] is CheckStatus.PASSED, check
    assert made["signature_value"] is CheckStatus.PASSED
    assert made["signer_chain"] is CheckStatus.INDETERMINATE
    assert sig.type == ("signature" if name == "railway_eticket_sign" else "seal")
    if sig.type == "seal":
        assert made["seal_maker_chain"] is CheckStatus.INDETERMINATE
        assert made["seal_validity"] is CheckStatus.PASSED
    for repair in REPAIRS.get(name, []):
        assert any(w.startswith(repair) or repair in w for w in sig.warnings), (repair, sig.warnings)


@pytest.mark.parametrize("name", FILES)
def test_real_file_with_its_own_certificate_as_anchor_passes_the_chain(name: str) -> None:
    document = data(name)
    (found,) = check_ofd_signatures(document)
    assert len(found.certificates) == 1  # the signer's, also the maker's; its issuer is not in the file
    carried = x509.Certificate.load(found.certificates[0])
    assert not carried.self_issued

    result = engine().verify(document, anchors=[carried])
    (sig,) = result.signatures
    made = {c.name: c for c in sig.checks}
    assert made["signer_chain"].status is CheckStatus.PASSED
    assert made["signer_revocation"].detail == "the certificate is itself a trust anchor"
    assert result.report == "VALID"
    if sig.type == "seal":
        assert made["seal_maker_chain"].status is CheckStatus.PASSED
        assert made["seal_status"].status is CheckStatus.SKIPPED
        assert any("no seal-status service is known" in w for w in sig.warnings)


@pytest.mark.parametrize("name", FILES)
def test_real_file_with_an_unrelated_anchor_stays_indeterminate(name: str) -> None:
    others = [n for n in FILES if n != name and n != "suwell_bank_receipt_b"]
    (found,) = check_ofd_signatures(data(others[0]))
    result = engine().verify(data(name), anchors=[found.certificates[0]])
    assert (result.report, result.sub_indication) == (
        "INDETERMINATE",
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )


def test_real_file_in_strict_mode_fails_on_the_repairs() -> None:
    result = engine().verify(data("suwell_bank_receipt_a"), lenient=False)
    assert result.report == "INVALID"
