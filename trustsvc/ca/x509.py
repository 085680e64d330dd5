"""Build and sign certificates and CRLs with asn1crypto and any :class:`~trustsvc.keys.signer.Signer`.

Pure functions: no database, no clock, no randomness except :func:`new_serial`. The caller (the
authority) decides who gets what; these functions make sure that what comes out is strict DER that
RFC 5280 accepts, and that its signature verifies under the issuer's key before it is returned.

Encoding rules applied here:

* Times: UTCTime for 1950–2049, GeneralizedTime otherwise, always whole seconds in UTC (RFC 5280
  §4.1.2.5); invalidityDate is always GeneralizedTime (§5.3.2).
* signatureAlgorithm from :func:`trustsvc.keys.algorithms.signed_digest_algorithm` (SM2: 1.2.156.10197.1.501
  without parameters), written identically in the TBS and the outer structure.
* The issuer Name is copied byte for byte from the issuer certificate's subject so that name chaining
  never depends on re-encoding.
* SKI is RFC 5280 §4.2.1.2 method 1: SHA-1 over the subjectPublicKey BIT STRING value. SHA-1 here is an
  identifier, not a security function, and is what every path builder computes when matching (an SM3 key
  identifier would be equally valid but unexpected by OpenSSL's and pyHanko's path builders).

CRL design: complete and delta CRLs cover the same scope — every certificate the CA issued, all reasons —
so neither carries an issuingDistributionPoint (RFC 5280 §5.2.5: scope restrictions are the only reason to
have one, and a delta with a different IDP name would fail the §6.3.3 (b)(2)(i) match against the
certificates' CRL distribution point). The delta carries deltaCRLIndicator (critical) and is published at
``<base>/crl/<ca-name>-delta.crl``, announced by freshestCRL in the complete CRL.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from asn1crypto import core, crl, keys, x509

from trustsvc.ca.profiles import CertificateProfile, utc_seconds
from trustsvc.errors import InvalidInput, InvalidSignature
from trustsvc.keys.algorithms import signed_digest_algorithm
from trustsvc.keys.encoding import load_public_key
from trustsvc.keys.signer import Signer, verify

__all__ = [
    "RevocationReason",
    "RevokedEntry",
    "build_certificate",
    "build_crl",
    "ca_certificate_url",
    "crl_url",
    "delta_crl_url",
    "key_identifier",
    "new_serial",
    "ocsp_url",
]

_T = TypeVar("_T", bound=core.Asn1Value)
_CA_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_SERIAL = 1 << 159  # 20 octets with the sign bit clear (RFC 5280 §4.1.2.2)


class RevocationReason(StrEnum):
    """RFC 5280 §5.3.1 CRLReason, spelled as asn1crypto spells it."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    CA_COMPROMISE = "ca_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"
    CERTIFICATE_HOLD = "certificate_hold"
    REMOVE_FROM_CRL = "remove_from_crl"
    PRIVILEGE_WITHDRAWN = "privilege_withdrawn"
    AA_COMPROMISE = "aa_compromise"


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked certificate as it goes into a CRL.

    ``reason`` None or UNSPECIFIED writes no reasonCode (RFC 5280 §5.3.1: SHOULD be absent rather than
    unspecified). REMOVE_FROM_CRL belongs in delta CRLs only.
    """

    serial: int
    revoked_at: datetime
    reason: RevocationReason | None = None
    invalidity_date: datetime | None = None


def new_serial() -> int:
    """Return a fresh certificate serial: 159 random bits from ``secrets``, positive and non-zero.

    Fits the 20-octet limit with the sign bit clear; far above the 64 bits of entropy CAs are expected to
    use. Uniqueness per CA is the database's job (a unique constraint and a retry).
    """
    while True:
        serial = secrets.randbits(159)
        if serial.bit_length() > 64:  # rejects 0 and the vanishing chance of a short one
            return serial


def key_identifier(spki: keys.PublicKeyInfo) -> bytes:
    """Return the RFC 5280 method-1 key identifier of ``spki`` (SHA-1 of the subjectPublicKey bits)."""
    bits = _reload(keys.PublicKeyInfo, spki)["public_key"].contents
    return hashlib.sha1(bits[1:], usedforsecurity=False).digest()  # [1:] skips the unused-bits octet


def crl_url(base_url: str, ca_name: str) -> str:
    return f"{_base(base_url)}/crl/{_ca_name(ca_name)}.crl"


def delta_crl_url(base_url: str, ca_name: str) -> str:
    return f"{_base(base_url)}/crl/{_ca_name(ca_name)}-delta.crl"


def ocsp_url(base_url: str) -> str:
    return f"{_base(base_url)}/ocsp"


def ca_certificate_url(base_url: str, ca_name: str) -> str:
    return f"{_base(base_url)}/ca/{_ca_name(ca_name)}.crt"


def build_certificate(
    profile: CertificateProfile,
    subject: x509.Name,
    spki: keys.PublicKeyInfo,
    issuer: x509.Certificate | None,
    signer: Signer,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    base_url: str,
    ca_name: str,
) -> x509.Certificate:
    """Return a certificate of ``profile`` for ``subject``/``spki``, signed by ``signer`` and checked.

    ``issuer`` is the issuing CA's certificate, or None for a self-signed root (only the root profile).
    ``ca_name`` names the issuing CA in the CRL and caIssuers URLs. ``signer`` must hold the issuer's key
    (the subject's own key for a root). Raises InvalidInput when the request contradicts the profile or
    the issuer, MalformedInput/UnsupportedAlgorithm for a public key trustsvc does not certify (only SM2,
    P-256 and RSA ≥ 2048), InvalidSignature when the signature made does not verify under the issuer's key.
    """
    # Key and subject are re-encoded (a CSR may carry BER); the issuer name below keeps its exact bytes.
    spki = _der(keys.PublicKeyInfo, spki)
    load_public_key(spki.dump())  # MalformedInput / UnsupportedAlgorithm for a key we would not certify
    subject = _der(x509.Name, subject)
    if not 0 < serial < _MAX_SERIAL:
        raise InvalidInput("serial must be positive and at most 20 octets")
    start, end = utc_seconds(not_before), utc_seconds(not_after)
    if end <= start:
        raise InvalidInput("notAfter must be later than notBefore")
    if not subject.chosen:
        raise InvalidInput("subject must not be empty")

    if issuer is None:
        if not profile.self_signed:
            raise InvalidInput(f"a {profile.kind} certificate needs an issuing CA certificate")
        issuer_name, issuer_spki = subject, spki
    else:
        if profile.self_signed:
            raise InvalidInput("a root certificate is self-signed; do not pass an issuer")
        issuer = _reload(x509.Certificate, issuer)
        _check_issuer(issuer, profile, end)
        issuer_name = _reload(x509.Name, issuer["tbs_certificate"]["subject"])
        issuer_spki = issuer["tbs_certificate"]["subject_public_key_info"]

    if _key_bits(signer.public_key_info) != _key_bits(issuer_spki):
        raise InvalidInput("the signer's key is not the issuer's key")

    algorithm = signed_digest_algorithm(signer.algorithm)
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": algorithm,
            "issuer": issuer_name,
            "validity": {"not_before": _time(start), "not_after": _time(end)},
            "subject": subject,
            "subject_public_key_info": spki,
            "extensions": _certificate_extensions(profile, spki, issuer_spki, base_url, ca_name),
        }
    )
    tbs_der = tbs.dump()
    signature = signer.sign(tbs_der)
    certificate = x509.Certificate(
        {
            "tbs_certificate": x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": signed_digest_algorithm(signer.algorithm),
            "signature_value": signature,
        }
    )
    certificate = x509.Certificate.load(certificate.dump())
    _self_check(issuer_spki, signer, certificate["tbs_certificate"].dump(), certificate.signature)
    return certificate


def build_crl(
    issuer_cert: x509.Certificate,
    signer: Signer,
    entries: Iterable[RevokedEntry],
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    *,
    delta_base: int | None = None,
    base_url: str,
    ca_name: str,
) -> crl.CertificateList:
    """Return a v2 CRL of ``issuer_cert``'s CA listing ``entries``, signed by ``signer`` and checked.

    A complete CRL when ``delta_base`` is None (it then announces the delta CRL location through
    freshestCRL), otherwise a delta CRL against the complete CRL numbered ``delta_base``.
    """
    issuer_cert = _reload(x509.Certificate, issuer_cert)
    if not 0 <= crl_number < _MAX_SERIAL:
        raise InvalidInput("CRL number must be non-negative and at most 20 octets")
    if delta_base is not None and not 0 <= delta_base < crl_number:
        raise InvalidInput("a delta CRL's base CRL number must be lower than its own CRL number")
    this, following = utc_seconds(this_update), utc_seconds(next_update)
    if following <= this:
        raise InvalidInput("nextUpdate must be later than thisUpdate")
    usage = issuer_cert.key_usage_value
    if usage is None or "crl_sign" not in usage.native:
        raise InvalidInput("the issuer certificate does not allow CRL signing (keyUsage cRLSign)")
    issuer_spki = issuer_cert["tbs_certificate"]["subject_public_key_info"]
    if _key_bits(signer.public_key_info) != _key_bits(issuer_spki):
        raise InvalidInput("the signer's key is not the CRL issuer's key")

    revoked = []
    seen: set[int] = set()
    for entry in sorted(entries, key=lambda e: e.serial):
        if entry.serial in seen:
            raise InvalidInput(f"serial {entry.serial:x} is listed twice")
        seen.add(entry.serial)
        revoked.append(_revoked_certificate(entry, delta=delta_base is not None))

    algorithm = signed_digest_algorithm(signer.algorithm)
    tbs_fields: dict[str, object] = {
        "version": "v2",
        "signature": algorithm,
        "issuer": _reload(x509.Name, issuer_cert["tbs_certificate"]["subject"]),
        "this_update": _time(this),
        "next_update": _time(following),
        "crl_extensions": _crl_extensions(issuer_cert, crl_number, delta_base, base_url, ca_name),
    }
    if revoked:  # RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked
        tbs_fields["revoked_certificates"] = revoked
    tbs = crl.TbsCertList(tbs_fields)
    tbs_der = tbs.dump()
    signature = signer.sign(tbs_der)
    cert_list = crl.CertificateList(
        {
            "tbs_cert_list": crl.TbsCertList.load(tbs_der),
            "signature_algorithm": signed_digest_algorithm(signer.algorithm),
            "signature": signature,
        }
    )
    cert_list = crl.CertificateList.load(cert_list.dump())
    _self_check(issuer_spki, signer, cert_list["tbs_cert_list"].dump(), cert_list.signature)
    return cert_list


# --- pieces --------------------------------------------------------------------------------------


def _certificate_extensions(
    profile: CertificateProfile,
    spki: keys.PublicKeyInfo,
    issuer_spki: keys.PublicKeyInfo,
    base_url: str,
    ca_name: str,
) -> list[x509.Extension]:
    extensions = []

    def add(name: str, value: object, *, critical: bool = False) -> None:
        extensions.append(x509.Extension({"extn_id": name, "critical": critical, "extn_value": value}))

    constraints: dict[str, object] = {"ca": profile.is_ca}
    if profile.is_ca and profile.path_length is not None:
        constraints["path_len_constraint"] = profile.path_length
    add("basic_constraints", constraints, critical=True)
    add("key_usage", set(profile.key_usage), critical=True)
    if profile.extended_key_usage:
        add(
            "extended_key_usage",
            list(profile.extended_key_usage),
            critical=profile.extended_key_usage_critical,
        )
    add("key_identifier", key_identifier(spki))
    add("authority_key_identifier", {"key_identifier": key_identifier(issuer_spki)})
    if profile.policy_oids:
        policies = []
        for oid in profile.policy_oids:
            policy: dict[str, object] = {"policy_identifier": oid}
            if profile.cps_uri:
                policy["policy_qualifiers"] = [
                    {"policy_qualifier_id": "certification_practice_statement", "qualifier": profile.cps_uri}
                ]
            policies.append(policy)
        add("certificate_policies", policies)
    if profile.crl_distribution_point:
        add("crl_distribution_points", [_distribution_point(crl_url(base_url, ca_name))])
    access = []
    if profile.ocsp_url:
        access.append({"access_method": "ocsp", "access_location": _uri(ocsp_url(base_url))})
    if profile.ca_issuers_url:
        access.append(
            {"access_method": "ca_issuers", "access_location": _uri(ca_certificate_url(base_url, ca_name))}
        )
    if access:
        add("authority_information_access", access)
    if profile.ocsp_no_check:
        add("ocsp_no_check", core.Null())
    return extensions


def _crl_extensions(
    issuer_cert: x509.Certificate, crl_number: int, delta_base: int | None, base_url: str, ca_name: str
) -> list[crl.TBSCertListExtension]:
    issuer_spki = issuer_cert["tbs_certificate"]["subject_public_key_info"]
    ski = issuer_cert.key_identifier or key_identifier(issuer_spki)
    extensions = []

    def add(name: str, value: object, *, critical: bool = False) -> None:
        extensions.append(
            crl.TBSCertListExtension({"extn_id": name, "critical": critical, "extn_value": value})
        )

    add("authority_key_identifier", {"key_identifier": ski})
    add("crl_number", crl_number)
    if delta_base is None:
        add("freshest_crl", [_distribution_point(delta_crl_url(base_url, ca_name))])
    else:
        add("delta_crl_indicator", delta_base, critical=True)
    add(
        "authority_information_access",
        [{"access_method": "ca_issuers", "access_location": _uri(ca_certificate_url(base_url, ca_name))}],
    )
    return extensions


def _revoked_certificate(entry: RevokedEntry, *, delta: bool) -> crl.RevokedCertificate:
    if not 0 < entry.serial < _MAX_SERIAL:
        raise InvalidInput("a revoked serial must be positive and at most 20 octets")
    reason = RevocationReason(entry.reason) if entry.reason is not None else None
    if reason is RevocationReason.REMOVE_FROM_CRL and not delta:
        raise InvalidInput("removeFromCRL may appear only in a delta CRL")
    extensions = []
    if reason is not None and reason is not RevocationReason.UNSPECIFIED:
        extensions.append({"extn_id": "crl_reason", "critical": False, "extn_value": reason.value})
    if entry.invalidity_date is not None:
        extensions.append(
            {
                "extn_id": "invalidity_date",
                "critical": False,
                "extn_value": core.GeneralizedTime(utc_seconds(entry.invalidity_date)),
            }
        )
    fields: dict[str, object] = {
        "user_certificate": entry.serial,
        "revocation_date": _time(utc_seconds(entry.revoked_at)),
    }
    if extensions:
        fields["crl_entry_extensions"] = extensions
    return crl.RevokedCertificate(fields)


def _check_issuer(issuer: x509.Certificate, profile: CertificateProfile, not_after: datetime) -> None:
    constraints = issuer.basic_constraints_value
    if constraints is None or not constraints["ca"].native:
        raise InvalidInput("the issuer certificate is not a CA certificate (basicConstraints cA)")
    usage = issuer.key_usage_value
    if usage is None or "key_cert_sign" not in usage.native:
        raise InvalidInput("the issuer certificate does not allow certificate signing (keyCertSign)")
    path_len = constraints["path_len_constraint"].native
    if profile.is_ca and path_len is not None and path_len < 1:
        raise InvalidInput("the issuer's pathLenConstraint forbids a subordinate CA")
    issuer_end = utc_seconds(issuer["tbs_certificate"]["validity"]["not_after"].native)
    if not_after > issuer_end:
        raise InvalidInput("the certificate would outlive its issuer's certificate")


def _self_check(issuer_spki: keys.PublicKeyInfo, signer: Signer, tbs_der: bytes, signature: bytes) -> None:
    try:
        verify(issuer_spki, signer.algorithm, tbs_der, signature)
    except InvalidSignature as exc:
        raise InvalidSignature(
            "the signature just made does not verify under the issuer's key (key/certificate mismatch?)"
        ) from exc


def _time(moment: datetime) -> x509.Time:
    if 1950 <= moment.year < 2050:
        return x509.Time(name="utc_time", value=moment)
    return x509.Time(name="general_time", value=moment)


def _distribution_point(url: str) -> dict[str, object]:
    return {"distribution_point": x509.DistributionPointName(name="full_name", value=[_uri(url)])}


def _uri(url: str) -> x509.GeneralName:
    return x509.GeneralName(name="uniform_resource_identifier", value=url)


def _key_bits(spki: keys.PublicKeyInfo) -> bytes:
    # The key bits alone identify a key; the AlgorithmIdentifier around them may legitimately be spelt
    # differently (e.g. legacy SM2 certificates name the SM2 OID instead of id-ecPublicKey).
    return bytes(_reload(keys.PublicKeyInfo, spki)["public_key"].contents)


def _base(base_url: str) -> str:
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")) or not base.isascii() or any(c.isspace() for c in base):
        raise InvalidInput("the public base URL must be an ASCII http(s) URL")
    return base


def _ca_name(ca_name: str) -> str:
    if not _CA_NAME_RE.match(ca_name):
        raise InvalidInput("a CA name is 1-64 characters of A-Z a-z 0-9 . _ - and starts alphanumeric")
    return ca_name


def _der(cls: type[_T], value: _T) -> _T:
    """Return ``value`` re-encoded as DER from its parsed values and re-parsed from those bytes."""
    return cls.load(value.dump(force=True))


def _reload(cls: type[_T], value: _T) -> _T:
    """Return ``value`` re-parsed from its DER, so that later dumps reproduce exactly these bytes."""
    return cls.load(value.dump())
