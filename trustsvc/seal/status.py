"""Signed seal status answers (印章状态): what anyone gets when asking the status of a seal by its esID.

GB/T 38540 §7.3 d) asks a verifier to check the seal's status at signing time, but no public standard
defines how to ask (spec/standards.md §7: the national seal status protocol is UNVERIFIED). trustsvc
answers with a small signed JSON document that a relying party can check with nothing but the
``openssl`` command line and ``base64``:

.. code-block:: json

    {
      "format": "trustsvc-signed-json/1",
      "payload": "<base64 of the statement bytes>",
      "signature_algorithm": "sm2-sm3",
      "sm2_user_id": "1234567812345678",
      "signature": "<base64 of the DER SM2 signature over the payload bytes>",
      "certificates": ["<PEM signer certificate>", "<PEM issuing CA certificate>"]
    }

* **What is signed** is exactly the bytes that ``payload`` carries in base64 (as in JWS): the statement,
  canonical JSON (UTF-8, keys sorted, no whitespace). A verifier never re-serialises JSON; it decodes
  ``payload``, verifies the signature over those bytes, and only then parses them. To check with
  openssl::

      jq -r .payload answer.json | base64 -d > statement.json
      jq -r .signature answer.json | base64 -d > signature.der
      jq -r '.certificates[0]' answer.json | openssl x509 -pubkey -noout > signer.pem
      openssl dgst -sm3 -verify signer.pem -sigopt distid:1234567812345678 \\
          -signature signature.der statement.json

* **Who signs**: the seal-maker (制章者) certificate of the CA that made the seal — the same authority whose
  signature makes the seal in the first place. A relying party accepts a status answer about a seal when
  its signer certificate carries the seal-making purpose (``Settings.seal_making_oid``) and is issued by the
  same CA as the maker certificate inside the ``SESeal`` (normally it *is* that certificate; after a
  maker-certificate renewal it is its successor). No extra key or role is needed, and no other certificate
  our CA issues (seal signers, OCSP, TSA) can speak for a seal. The statement is JSON and a ``SES_SealInfo``
  is DER (first byte ``{`` versus ``0``), so the two uses of the maker key cannot be confused; the
  ``type`` member names the statement besides.
* **The statement** (:func:`statement`)::

      {"type": "trustsvc.seal-status", "version": 1, "es_id": "...",
       "status": "active|suspended|revoked|expired",
       "since": "<time of the last lifecycle change; valid_end when expired>",
       "valid_start": "...", "valid_end": "...", "org_uscc": "...", "org_name": "...",
       "kind": 4, "name": "...",
       "seal": {"version": 2, "sm3": "<hex SM3 of the current SESeal DER>"},
       "superseded": [{"version": 1, "sm3": "...", "superseded_at": "..."}],
       "produced_at": "...", "nonce": "<only when asked>"}

  Times are UTC ``YYYY-MM-DDTHH:MM:SSZ``. ``superseded`` lists earlier ``SESeal`` versions of the same esID
  (a new one is made when the signer list changes): a signature made at time *t* with an earlier version
  is covered only if *t* is before that version's ``superseded_at``. The free-text reason of a suspension or
  revocation is **not** published (it may name people or incidents); authenticated callers read it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from asn1crypto import pem, x509

from trustsvc.errors import InvalidSignature, MalformedInput
from trustsvc.keys.algorithms import SignatureAlgorithm
from trustsvc.keys.signer import Signer
from trustsvc.keys.signer import verify as verify_signature
from trustsvc.keys.sm2 import DEFAULT_SM2_ID
from trustsvc.seal.models import SealState

__all__ = [
    "ENVELOPE_FORMAT",
    "STATEMENT_TYPE",
    "SealStatus",
    "SupersededVersion",
    "VerifiedStatus",
    "sign_statement",
    "statement",
    "verify_status_answer",
]

ENVELOPE_FORMAT: Final = "trustsvc-signed-json/1"
STATEMENT_TYPE: Final = "trustsvc.seal-status"
STATEMENT_VERSION: Final = 1
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class SupersededVersion:
    """An earlier ``SESeal`` of the same esID and when a newer one replaced it."""

    version: int
    seal_sm3: str
    superseded_at: datetime


@dataclass(frozen=True)
class SealStatus:
    """The status of one seal at one moment (see :meth:`trustsvc.seal.registry.SealRegistry.status`).

    ``status`` is the reported state (expired derived from ``valid_end``); ``since`` the time of the last
    lifecycle change, or ``valid_end`` when expired; ``reason`` the administrator's text of the last change
    (not published in the signed answer).
    """

    es_id: str
    status: SealState
    since: datetime
    reason: str | None
    valid_start: datetime
    valid_end: datetime
    org_uscc: str
    org_name: str
    kind: int
    name: str
    version: int
    seal_sm3: str
    superseded: tuple[SupersededVersion, ...]
    maker_ca: str


@dataclass(frozen=True)
class VerifiedStatus:
    """A status answer whose signature verified: the statement and the signer's certificate chain (DER)."""

    statement: dict[str, Any]
    certificates: tuple[bytes, ...]

    @property
    def signer_certificate(self) -> bytes:
        return self.certificates[0]


def iso(moment: datetime) -> str:
    """Return ``moment`` as UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def statement(status: SealStatus, *, produced_at: datetime, nonce: str | None = None) -> bytes:
    """Return the canonical JSON statement bytes for ``status`` (what the answer signs)."""
    body: dict[str, Any] = {
        "type": STATEMENT_TYPE,
        "version": STATEMENT_VERSION,
        "es_id": status.es_id,
        "status": status.status.value,
        "since": iso(status.since),
        "valid_start": iso(status.valid_start),
        "valid_end": iso(status.valid_end),
        "org_uscc": status.org_uscc,
        "org_name": status.org_name,
        "kind": status.kind,
        "name": status.name,
        "seal": {"version": status.version, "sm3": status.seal_sm3},
        "superseded": [
            {"version": v.version, "sm3": v.seal_sm3, "superseded_at": iso(v.superseded_at)}
            for v in status.superseded
        ],
        "produced_at": iso(produced_at),
    }
    if nonce is not None:
        body["nonce"] = nonce
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_statement(payload: bytes, signer: Signer, certificates: tuple[bytes, ...]) -> bytes:
    """Return the signed answer (JSON envelope bytes) over ``payload`` by ``signer``.

    ``certificates`` are DER, the signer's own first, then its issuer(s).
    """
    if signer.algorithm is not SignatureAlgorithm.SM2_SM3:
        # The envelope names sm2-sm3 and the SM2 user ID; other maker algorithms would need their own name.
        raise MalformedInput(f"seal status answers are signed with SM2, not {signer.algorithm}")
    envelope = {
        "format": ENVELOPE_FORMAT,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signature_algorithm": SignatureAlgorithm.SM2_SM3.value,
        "sm2_user_id": DEFAULT_SM2_ID.decode("ascii"),
        "signature": base64.b64encode(signer.sign(payload)).decode("ascii"),
        "certificates": [pem.armor("CERTIFICATE", der).decode("ascii") for der in certificates],
    }
    return json.dumps(envelope, indent=2).encode("ascii") + b"\n"


def verify_status_answer(
    answer: bytes, *, required_purpose: str | None = None, statement_type: str = STATEMENT_TYPE
) -> VerifiedStatus:
    """Return the statement of a signed status answer after verifying its signature.

    ``statement_type`` is the ``type`` the statement must have (a seal status by default; the licence
    status answers of :mod:`trustsvc.license.issuance` use the same envelope with their own type).

    The signature is checked with the first certificate of the answer; with ``required_purpose`` that
    certificate must also carry this extended key usage (the seal-making OID). Whether the certificate
    chains to a trusted CA and belongs to the CA that made the seal is the caller's decision (it holds
    the trust anchors and the seal). Raises ``MalformedInput`` for an answer that is not one,
    ``InvalidSignature`` when the signature does not verify or the purpose is missing.
    """
    if not isinstance(answer, bytes) or len(answer) > MAX_ANSWER:
        raise MalformedInput(f"a seal status answer is at most {MAX_ANSWER} bytes of JSON")
    try:
        envelope = json.loads(answer)
        if not isinstance(envelope, dict) or envelope.get("format") != ENVELOPE_FORMAT:
            raise MalformedInput(f"not a {ENVELOPE_FORMAT} document")
        if envelope.get("signature_algorithm") != SignatureAlgorithm.SM2_SM3.value:
            raise MalformedInput("unsupported signature_algorithm (expected sm2-sm3)")
        uid = str(envelope.get("sm2_user_id", "")).encode("ascii")
        payload = base64.b64decode(envelope["payload"], validate=True)
        signature = base64.b64decode(envelope["signature"], validate=True)
        pems = envelope["certificates"]
        if not isinstance(pems, list) or not pems:
            raise MalformedInput("the answer carries no certificate")
        certificates = tuple(_certificate_der(text) for text in pems)
        certificate = x509.Certificate.load(certificates[0], strict=True)
        spki = certificate.public_key
        purposes = certificate.extended_key_usage_value
    except MalformedInput:
        raise
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
        raise MalformedInput("the seal status answer is not well-formed") from None
    verify_signature(spki, SignatureAlgorithm.SM2_SM3, payload, signature, uid=uid)
    if required_purpose is not None:
        names = {p.dotted for p in purposes} if purposes is not None else set()
        if required_purpose not in names:
            raise InvalidSignature("the status answer is not signed by a seal-maker certificate")
    try:
        body = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeError):
        raise MalformedInput("the signed statement is not JSON") from None
    if not isinstance(body, dict) or body.get("type") != statement_type:
        raise MalformedInput(f"the signed statement is not a {statement_type}")
    return VerifiedStatus(statement=body, certificates=certificates)


def _certificate_der(text: object) -> bytes:
    if not isinstance(text, str):
        raise MalformedInput("certificates are PEM strings")
    data = text.encode("ascii")
    if not pem.detect(data):
        raise MalformedInput("certificates are PEM strings")
    _, _, der = pem.unarmor(data)
    return bytes(der)
