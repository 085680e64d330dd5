"""Certificate profiles: what each kind of certificate trustsvc issues contains.

A profile fixes everything that must not depend on what a requester asks for: key usage, extended key
usage, basic constraints, validity, the subject attributes that may appear, certificate policies and
which pointers (CRL distribution point, OCSP, caIssuers) are written. :mod:`trustsvc.ca.x509` turns a
profile plus a subject and a public key into a signed certificate; a CSR contributes only its key and,
after checks, its subject values — never its extensions.

Decisions (each one is a choice a reader may want to revisit, so the reason is kept here):

* **Validity.** Root 20 years, issuing CA 10 years, seal maker / seal signer / trust-list signer 3 years,
  person signer and TLS client 2 years, TSA 5 years (a time-stamp must stay verifiable long after it was
  made, and RFC 3161 tokens are checked against the TSA certificate's validity at time-stamping time; 5
  years keeps the key's exposure bounded while sparing frequent re-keying of a long-lived service), OCSP
  responder 1 year (the certificate carries id-pkix-ocsp-nocheck, so its revocation cannot be checked:
  RFC 6960 §4.2.2.2.1 advises a short lifetime). A leaf never outlives its issuer:
  :meth:`CertificateProfile.validity` clamps.
* **Extended key usage.**
  - OCSP responder: id-kp-OCSPSigning, non-critical (RFC 6960 §4.2.2.2 requires the purpose, not
    criticality; non-critical is what every deployed responder certificate uses).
  - TSA: id-kp-timeStamping, the only purpose, critical (RFC 3161 §2.3 MUST).
  - TLS client: id-kp-clientAuth.
  - Trust-list signer: id-tsl-kp-tslSigning (0.4.0.2231.3.0, ETSI TS 119 612), the purpose made for
    exactly this, non-critical; key usage digitalSignature + nonRepudiation (a trust list is a statement
    the operator stands by). A key of its own, so that no seal, OCSP or TSA key ever signs a trust list
    and a relying party that pins this certificate trusts nothing else by it
    (see :mod:`trustsvc.verify.trustlist`).
  - Seal signer and person signer (签章者): id-kp-documentSigning (RFC 9336). An EKU is present so that
    a signing certificate can never authenticate to our mTLS API or act as a TLS/S-MIME certificate in a
    relying party that treats "no EKU" as "any purpose". UNVERIFIED: whether every PDF reader accepts
    RFC 9336 for signatures (pyHanko accepts any EKU by default; Adobe's documented list predates 9336).
  - Seal maker (制章者): a private purpose, ``<arc>.2.1`` (id-kp-trustsvc-sealMaking, see the arc below),
    non-critical. No public EKU means "makes electronic seals"; a distinct purpose lets our verifier
    refuse a signer certificate used as a maker certificate and vice versa, and non-critical keeps
    verifiers in other provinces — which know nothing of our OID — from rejecting the seal.
* **Key usage** is always critical. CAs: keyCertSign + cRLSign. Seal maker, seal signer, person signer:
  digitalSignature + nonRepudiation (contentCommitment): GB/T 38540 verifiers check that "the key usage is
  correct" without the public text saying which bit; both bits satisfy either reading. OCSP, TSA and TLS
  client: digitalSignature only.
* **Certificate policies.** One policy OID for everything trustsvc issues, configurable: a production
  deployment sets OIDs under an arc it has registered (its own IANA enterprise number, or an assignment
  under 1.2.156 — never squat on 1.2.156.x, which belongs to others). The default arc is
  1.3.6.1.4.1.32473, the enterprise number RFC 5612 reserves for documentation and examples: valid,
  unowned by anyone real, and plainly a placeholder to anyone who looks it up. Layout below the arc:
  ``.1.1`` the certificate policy, ``.2.1`` the seal-making purpose. A CPS URI qualifier is added when
  configured. The root carries no policies (a trust anchor's policies are not processed, RFC 5280 §6.1).
  Every arc must fit 32 bits: X.660 allows bigger ones (e.g. ``2.25.<uuid>``), but pkilint's decoder and
  a number of relying-party libraries reject them, so configured OIDs with larger arcs are refused.
* **Pointers.** CRL distribution point ``<base>/crl/<ca-name>.crl`` and AIA (OCSP ``<base>/ocsp``,
  caIssuers ``<base>/ca/<ca-name>.crt``) on every certificate except the self-signed root, where they
  would point at nothing. ``<ca-name>`` names the *issuing* CA. The OCSP responder certificate carries
  no OCSP pointer: it has id-pkix-ocsp-nocheck, so clients never ask about it. Nor does an issuing-CA
  certificate: our responder is delegated by the issuing CAs and answers ``unauthorized`` about their own
  certificates (a root has no delegated responder, :mod:`trustsvc.ca.status`), so the pointer would send
  ``openssl ocsp`` and relying parties to a dead end; the issuing CA's status is on the root's CRL, which
  its CRL distribution point names (caIssuers stays). Certificates already issued are not re-issued: an
  existing home keeps issuing-CA certificates with the old pointer, and relying parties fall back from its
  ``unauthorized`` answer to that CRL (as :mod:`trustsvc.verify.status` does).
* **Subject.** UTF8String for every attribute except countryName and serialNumber (PrintableString, as
  X.520 defines them). The unified social credit code (统一社会信用代码) goes into organizationIdentifier
  (2.5.4.97) in the ETSI EN 319 412-1 §5.1.4 semantics form ``NTRCN-<USCC>``: a standard attribute made
  for exactly this (a legal person's registration number), self-describing (scheme "NTR" = national trade
  register, country "CN"), and the form eIDAS tooling and pkilint's organizationIdentifier parser read.
  Chinese CAs variously use OU, serialNumber or CN for it; those overload attributes with other meanings.
  :func:`uscc_of` reads it back.
* **Person signer.** The citizen ID number (公民身份号码) never appears in clear: the subject carries
  serialNumber ``PID-<40 hex>`` = the first 160 bits of HMAC-SM3(key, ``"CN-RIC:" || ID``). A plain hash
  would be no protection: valid IDs number about 10^11 (region × birth date × sequence), a few million
  once the birth date is known, so any unkeyed hash is reversed by enumeration. The keyed hash can be
  recomputed only by whoever holds the key (the service), which is all matching needs. Every subject
  value is also scanned, and a valid citizen ID anywhere is refused. A person may also carry O, OU and
  the USCC of the organisation they sign for (a clerk, 窗口人员).
"""

from __future__ import annotations

import dataclasses
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from asn1crypto import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from stdnum.cn import ric, uscc

from trustsvc.errors import InvalidInput

#: Placeholder OID arc (RFC 5612 documentation enterprise number) used until the operator configures one.
DEFAULT_OID_ARC = "1.3.6.1.4.1.32473"
#: The certificate policy every trustsvc certificate below the root asserts, unless configured otherwise.
DEFAULT_POLICY_OID = DEFAULT_OID_ARC + ".1.1"
#: Private key purpose of seal-maker (制章者) certificates.
ID_KP_SEAL_MAKING = DEFAULT_OID_ARC + ".2.1"
#: RFC 9336 id-kp-documentSigning.
ID_KP_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
#: ETSI TS 119 612 id-tsl-kp-tslSigning: signs trust lists.
ID_TSL_KP_TSL_SIGNING = "0.4.0.2231.3.0"

USCC_PREFIX = "NTRCN-"
PERSON_PSEUDONYM_PREFIX = "PID-"
_PSEUDONYM_RE = re.compile(r"^PID-[0-9A-F]{40}$")
_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
# Every 18-character window that could be a citizen ID, overlapping ones included.
_RIC_CANDIDATE_RE = re.compile(r"(?=([0-9]{17}[0-9Xx]))")


class ProfileKind(StrEnum):
    ROOT = "root"
    ISSUING_CA = "issuing-ca"
    SEAL_MAKER = "seal-maker"
    SEAL_SIGNER = "seal-signer"
    PERSON_SIGNER = "person-signer"
    OCSP_RESPONDER = "ocsp-responder"
    TSA = "tsa"
    TLS_CLIENT = "tls-client"
    TRUST_LIST_SIGNER = "trust-list-signer"


class SubjectField(StrEnum):
    """Subject attributes a profile may allow; values are asn1crypto's attribute names."""

    COUNTRY = "country_name"
    STATE = "state_or_province_name"
    LOCALITY = "locality_name"
    ORGANIZATION = "organization_name"
    ORGANIZATIONAL_UNIT = "organizational_unit_name"
    COMMON_NAME = "common_name"
    ORGANIZATION_IDENTIFIER = "organization_identifier"
    SERIAL_NUMBER = "serial_number"


# Order of the RDNs in an issued subject (most general first, as X.501 directory names read).
_SUBJECT_ORDER = (
    SubjectField.COUNTRY,
    SubjectField.STATE,
    SubjectField.LOCALITY,
    SubjectField.ORGANIZATION,
    SubjectField.ORGANIZATIONAL_UNIT,
    SubjectField.ORGANIZATION_IDENTIFIER,
    SubjectField.COMMON_NAME,
    SubjectField.SERIAL_NUMBER,
)
# RFC 5280 Appendix A upper bounds, counted in characters.
_UPPER_BOUNDS = {
    SubjectField.COUNTRY: 2,
    SubjectField.STATE: 128,
    SubjectField.LOCALITY: 128,
    SubjectField.ORGANIZATION: 64,
    SubjectField.ORGANIZATIONAL_UNIT: 64,
    SubjectField.COMMON_NAME: 64,
    SubjectField.ORGANIZATION_IDENTIFIER: 64,  # no X.520 bound; kept at the common 64
    SubjectField.SERIAL_NUMBER: 64,
}
_PRINTABLE = {SubjectField.COUNTRY, SubjectField.SERIAL_NUMBER}
_PRINTABLE_RE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]*$")


@dataclass(frozen=True)
class SubjectInfo:
    """Subject values for a certificate; which of them a profile admits is the profile's business.

    ``uscc`` is the bare 18-character code; ``person_pseudonym`` comes from
    :func:`pseudonymous_person_id`, never a citizen ID in clear.
    """

    common_name: str
    organization: str | None = None
    organizational_unit: str | None = None
    uscc: str | None = None
    country: str = "CN"
    state: str | None = None
    locality: str | None = None
    person_pseudonym: str | None = None

    def values(self) -> dict[SubjectField, str]:
        """Return the non-empty values keyed by attribute (USCC already in ``NTRCN-`` form)."""
        raw = {
            SubjectField.COUNTRY: self.country,
            SubjectField.STATE: self.state,
            SubjectField.LOCALITY: self.locality,
            SubjectField.ORGANIZATION: self.organization,
            SubjectField.ORGANIZATIONAL_UNIT: self.organizational_unit,
            SubjectField.COMMON_NAME: self.common_name,
            SubjectField.ORGANIZATION_IDENTIFIER: USCC_PREFIX + self.uscc if self.uscc else None,
            SubjectField.SERIAL_NUMBER: self.person_pseudonym,
        }
        return {k: v for k, v in raw.items() if v}


@dataclass(frozen=True)
class CertificateProfile:
    """Everything a certificate of one kind contains apart from subject, key, serial and dates."""

    kind: ProfileKind
    is_ca: bool
    path_length: int | None
    key_usage: frozenset[str]  # asn1crypto KeyUsage bit names
    extended_key_usage: tuple[str, ...]  # asn1crypto KeyPurposeId names or dotted OIDs
    extended_key_usage_critical: bool
    validity_years: int
    subject_required: frozenset[SubjectField]
    subject_allowed: frozenset[SubjectField]
    policy_oids: tuple[str, ...]
    cps_uri: str | None = None
    crl_distribution_point: bool = True
    ocsp_url: bool = True
    ca_issuers_url: bool = True
    ocsp_no_check: bool = False

    @property
    def self_signed(self) -> bool:
        return self.kind is ProfileKind.ROOT

    def validity(
        self, not_before: datetime, *, issuer_not_after: datetime | None = None
    ) -> tuple[datetime, datetime]:
        """Return (notBefore, notAfter) for a certificate starting at ``not_before``, whole seconds, UTC.

        notAfter is ``validity_years`` later, clamped to the issuer's notAfter when that comes first.
        """
        start = utc_seconds(not_before)
        end = _add_years(start, self.validity_years)
        if issuer_not_after is not None:
            end = min(end, utc_seconds(issuer_not_after))
        if end <= start:
            raise InvalidInput("the issuer's certificate expires before the new certificate would start")
        return start, end

    def build_subject(self, info: SubjectInfo) -> x509.Name:
        """Return the subject Name for ``info``; raises InvalidInput naming the offending attribute."""
        values = info.values()
        if missing := sorted(self.subject_required - values.keys()):
            raise InvalidInput(f"profile {self.kind} requires subject attribute {', '.join(missing)}")
        if extra := sorted(values.keys() - self.subject_allowed):
            raise InvalidInput(f"profile {self.kind} does not allow subject attribute {', '.join(extra)}")
        for field, value in values.items():
            _check_value(field, value)
        if SubjectField.COUNTRY in values and values[SubjectField.COUNTRY] != "CN":
            raise InvalidInput("countryName must be CN")
        if info.uscc is not None and not uscc.is_valid(info.uscc):
            raise InvalidInput("the unified social credit code is not valid (GB 32100 check character)")
        if info.person_pseudonym is not None and not _PSEUDONYM_RE.match(info.person_pseudonym):
            raise InvalidInput("serialNumber must be a pseudonym from pseudonymous_person_id()")
        rdns = []
        for field in _SUBJECT_ORDER:
            if field in values:
                choice = "printable_string" if field in _PRINTABLE else "utf8_string"
                ava = x509.NameTypeAndValue(
                    {"type": field.value, "value": x509.DirectoryString(name=choice, value=values[field])}
                )
                rdns.append(x509.RelativeDistinguishedName([ava]))
        return x509.Name(name="", value=x509.RDNSequence(rdns))


def _check_value(field: SubjectField, value: str) -> None:
    if value != value.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidInput(f"subject attribute {field} has surrounding spaces or control characters")
    if len(value) > _UPPER_BOUNDS[field]:
        raise InvalidInput(f"subject attribute {field} is longer than {_UPPER_BOUNDS[field]} characters")
    if field in _PRINTABLE and not _PRINTABLE_RE.match(value):
        raise InvalidInput(f"subject attribute {field} must be a PrintableString")
    for candidate in _RIC_CANDIDATE_RE.findall(value):
        if ric.is_valid(candidate):
            raise InvalidInput(f"subject attribute {field} contains a citizen ID number in clear")


def pseudonymous_person_id(citizen_id: str, *, key: bytes) -> str:
    """Return the serialNumber value standing for ``citizen_id``: ``PID-`` + 160 bits of HMAC-SM3.

    ``key`` is a service secret of at least 16 bytes; the same key must be used for the life of the CA
    so that one person keeps one pseudonym.
    """
    if len(key) < 16:
        raise InvalidInput("the pseudonym key must be at least 16 bytes")
    normalised = citizen_id.strip().upper()
    if not ric.is_valid(normalised):
        raise InvalidInput("not a valid citizen ID number (GB 11643 check character)")
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(b"CN-RIC:" + normalised.encode("ascii"))
    return PERSON_PSEUDONYM_PREFIX + mac.finalize()[:20].hex().upper()


def person_pseudonym_matches(pseudonym: str, citizen_id: str, *, key: bytes) -> bool:
    """Return whether ``pseudonym`` was made from ``citizen_id`` under ``key`` (constant time)."""
    try:
        expected = pseudonymous_person_id(citizen_id, key=key)
    except InvalidInput:
        return False
    return hmac.compare_digest(expected, pseudonym)


def uscc_of(name: x509.Name) -> str | None:
    """Return the unified social credit code in ``name``'s organizationIdentifier, if any."""
    for rdn in name.chosen:
        for ava in rdn:
            if ava["type"].native == "organization_identifier":
                value = str(ava["value"].native)
                if value.startswith(USCC_PREFIX):
                    return value[len(USCC_PREFIX) :]
    return None


def utc_seconds(moment: datetime) -> datetime:
    """Return ``moment`` in UTC without sub-second part; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("datetimes must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February → 28 February
        return moment.replace(year=moment.year + years, day=28)


def _check_oid(oid: str) -> str:
    if not _OID_RE.match(oid) or (oid[0] != "2" and int(oid.split(".")[1]) > 39):
        raise InvalidInput(f"not a dotted OID: {oid!r}")
    if any(int(arc) >= 1 << 32 for arc in oid.split(".")):
        raise InvalidInput(f"OID {oid} has an arc larger than 32 bits, which many X.509 decoders reject")
    return oid


_CA_SUBJECT = frozenset(
    {
        SubjectField.COUNTRY,
        SubjectField.STATE,
        SubjectField.LOCALITY,
        SubjectField.ORGANIZATION,
        SubjectField.ORGANIZATIONAL_UNIT,
        SubjectField.ORGANIZATION_IDENTIFIER,
        SubjectField.COMMON_NAME,
    }
)
_ORG_SUBJECT = _CA_SUBJECT
# A person may sign for the organisation they work for (a clerk, 窗口人员): O, OU and its USCC are allowed.
_PERSON_SUBJECT = _CA_SUBJECT | {SubjectField.SERIAL_NUMBER}
_CN = frozenset({SubjectField.COUNTRY, SubjectField.COMMON_NAME})
_SIGNING = frozenset({"digital_signature", "non_repudiation"})
_DIGITAL = frozenset({"digital_signature"})
_CA_USAGE = frozenset({"key_cert_sign", "crl_sign"})


def _base_profiles(policy: tuple[str, ...], cps_uri: str | None) -> dict[ProfileKind, CertificateProfile]:
    def leaf(
        kind: ProfileKind,
        *,
        key_usage: frozenset[str],
        extended_key_usage: tuple[str, ...],
        validity_years: int,
        subject_required: frozenset[SubjectField],
        subject_allowed: frozenset[SubjectField],
        extended_key_usage_critical: bool = False,
        ocsp_url: bool = True,
        ocsp_no_check: bool = False,
    ) -> CertificateProfile:
        return CertificateProfile(
            kind=kind,
            is_ca=False,
            path_length=None,
            key_usage=key_usage,
            extended_key_usage=extended_key_usage,
            extended_key_usage_critical=extended_key_usage_critical,
            validity_years=validity_years,
            subject_required=subject_required,
            subject_allowed=subject_allowed,
            policy_oids=policy,
            cps_uri=cps_uri,
            ocsp_url=ocsp_url,
            ocsp_no_check=ocsp_no_check,
        )

    return {
        ProfileKind.ROOT: CertificateProfile(
            kind=ProfileKind.ROOT,
            is_ca=True,
            path_length=None,
            key_usage=_CA_USAGE,
            extended_key_usage=(),
            extended_key_usage_critical=False,
            validity_years=20,
            subject_required=_CN | {SubjectField.ORGANIZATION},
            subject_allowed=_CA_SUBJECT,
            policy_oids=(),
            crl_distribution_point=False,
            ocsp_url=False,
            ca_issuers_url=False,
        ),
        ProfileKind.ISSUING_CA: CertificateProfile(
            kind=ProfileKind.ISSUING_CA,
            is_ca=True,
            path_length=0,
            key_usage=_CA_USAGE,
            extended_key_usage=(),
            extended_key_usage_critical=False,
            validity_years=10,
            subject_required=_CN | {SubjectField.ORGANIZATION},
            subject_allowed=_CA_SUBJECT,
            policy_oids=policy,
            cps_uri=cps_uri,
            ocsp_url=False,  # its status is on the root's CRL only: see "Pointers" above
        ),
        ProfileKind.SEAL_MAKER: leaf(
            ProfileKind.SEAL_MAKER,
            key_usage=_SIGNING,
            extended_key_usage=(ID_KP_SEAL_MAKING,),
            validity_years=3,
            subject_required=_CN | {SubjectField.ORGANIZATION, SubjectField.ORGANIZATION_IDENTIFIER},
            subject_allowed=_ORG_SUBJECT,
        ),
        ProfileKind.SEAL_SIGNER: leaf(
            ProfileKind.SEAL_SIGNER,
            key_usage=_SIGNING,
            extended_key_usage=(ID_KP_DOCUMENT_SIGNING,),
            validity_years=3,
            subject_required=_CN | {SubjectField.ORGANIZATION, SubjectField.ORGANIZATION_IDENTIFIER},
            subject_allowed=_ORG_SUBJECT,
        ),
        ProfileKind.PERSON_SIGNER: leaf(
            ProfileKind.PERSON_SIGNER,
            key_usage=_SIGNING,
            extended_key_usage=(ID_KP_DOCUMENT_SIGNING,),
            validity_years=2,
            subject_required=_CN | {SubjectField.SERIAL_NUMBER},
            subject_allowed=_PERSON_SUBJECT,
        ),
        ProfileKind.OCSP_RESPONDER: leaf(
            ProfileKind.OCSP_RESPONDER,
            key_usage=_DIGITAL,
            extended_key_usage=("ocsp_signing",),
            validity_years=1,
            subject_required=_CN | {SubjectField.ORGANIZATION},
            subject_allowed=_ORG_SUBJECT,
            ocsp_url=False,
            ocsp_no_check=True,
        ),
        ProfileKind.TSA: leaf(
            ProfileKind.TSA,
            key_usage=_DIGITAL,
            extended_key_usage=("time_stamping",),
            extended_key_usage_critical=True,
            validity_years=5,
            subject_required=_CN | {SubjectField.ORGANIZATION},
            subject_allowed=_ORG_SUBJECT,
        ),
        ProfileKind.TLS_CLIENT: leaf(
            ProfileKind.TLS_CLIENT,
            key_usage=_DIGITAL,
            extended_key_usage=("client_auth",),
            validity_years=2,
            subject_required=_CN | {SubjectField.ORGANIZATION},
            subject_allowed=_ORG_SUBJECT,
        ),
        ProfileKind.TRUST_LIST_SIGNER: leaf(
            ProfileKind.TRUST_LIST_SIGNER,
            key_usage=_SIGNING,
            extended_key_usage=(ID_TSL_KP_TSL_SIGNING,),
            validity_years=3,
            subject_required=_CN | {SubjectField.ORGANIZATION},
            subject_allowed=_ORG_SUBJECT,
        ),
    }


PROFILES: Mapping[ProfileKind, CertificateProfile] = _base_profiles((DEFAULT_POLICY_OID,), None)


def get_profile(
    kind: ProfileKind | str,
    *,
    policy_oid: str = DEFAULT_POLICY_OID,
    cps_uri: str | None = None,
    seal_making_oid: str = ID_KP_SEAL_MAKING,
) -> CertificateProfile:
    """Return the profile of ``kind`` with the configured policy OID, CPS URI and seal-making purpose."""
    try:
        kind = ProfileKind(kind)
    except ValueError:
        raise InvalidInput(f"unknown certificate profile {kind!r}") from None
    if cps_uri is not None and not cps_uri.startswith(("http://", "https://")):
        raise InvalidInput("the CPS URI must be an http(s) URL")
    profile = _base_profiles((_check_oid(policy_oid),), cps_uri)[kind]
    if kind is ProfileKind.SEAL_MAKER:
        profile = dataclasses.replace(profile, extended_key_usage=(_check_oid(seal_making_oid),))
    return profile
