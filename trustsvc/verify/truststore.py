"""The trust store: which anchors and which status endpoints apply, for the verification engine.

A :class:`TrustStore` is an immutable snapshot of every trust statement the service holds, answering the
questions the verification engine asks while it checks one document:

* :meth:`TrustStore.anchors` — the certificates trusted for a :class:`Purpose`: ``signer-ca`` (CAs whose
  certificates may sign documents; a chain ending at one of them is trusted), ``seal-maker`` (制章者
  certificates: a seal made by one of them is trusted) and ``tsa`` (time-stamp authorities).
* :meth:`TrustStore.endpoints_for` — where to ask about a certificate: the OCSP and CRL URLs of its
  issuer, the seal-status URL template (``{es_id}``) and the licence-status template (``{identifier}``).
* :meth:`TrustStore.source_of` — where an anchor comes from: list name, territory, sequence and the list's
  status (:class:`ListStatus`). An anchor of an **expired** list is still listed and still returned by
  :meth:`~TrustStore.anchors` — the engine must not silently drop it — but
  :attr:`AnchorSource.indeterminate` is true: the engine reports INDETERMINATE with sub-indication
  :data:`EXPIRED_LIST_SUB_INDICATION` (TRY_LATER: a refreshed list may settle it) instead of VALID.

Sources, in order of precedence when the same certificate appears more than once: anchors given
explicitly by the caller (``--anchor CERT.pem`` on the verify command; list name :data:`LOCAL_ANCHORS`),
this service's own CAs and services (:data:`OWN_LIST`, always fresh: read from our database), and the
imported lists of other territories (by the name they were imported under), usable ones before expired
ones. The snapshot is built by :meth:`trustsvc.verify.trustlist.TrustListService.store`; it holds no
database session and may be shared between threads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Final, NamedTuple

from asn1crypto import pem, x509

from trustsvc.ca.profiles import uscc_of
from trustsvc.ca.x509 import key_identifier
from trustsvc.errors import MalformedInput, NotFound

__all__ = [
    "EXPIRED_LIST_SUB_INDICATION",
    "LOCAL_ANCHORS",
    "OWN_LIST",
    "AnchorSource",
    "Endpoints",
    "Entry",
    "EntryKind",
    "ListStatus",
    "Purpose",
    "Services",
    "TrustStore",
    "load_certificates",
    "local_anchor_entries",
]

OWN_LIST: Final = "own"
"""List name of this service's own CAs, seal makers and TSAs."""
LOCAL_ANCHORS: Final = "local"
"""List name of anchors the caller gave explicitly."""
EXPIRED_LIST_SUB_INDICATION: Final = "TRY_LATER"
"""What the engine reports (with INDETERMINATE) for an anchor whose list is past its nextUpdate."""


class Purpose(StrEnum):
    """What an anchor is trusted for."""

    SIGNER_CA = "signer-ca"
    SEAL_MAKER = "seal-maker"
    TSA = "tsa"


class EntryKind(StrEnum):
    """Kinds of trust-list entries. The first four carry a certificate."""

    CA = "ca"
    SEAL_MAKER = "seal-maker"
    TSA = "tsa"
    OCSP_RESPONDER = "ocsp-responder"
    ISSUING_ORGANISATION = "issuing-organisation"


CERTIFICATE_KINDS: Final = frozenset(
    {EntryKind.CA, EntryKind.SEAL_MAKER, EntryKind.TSA, EntryKind.OCSP_RESPONDER}
)
_PURPOSE_KIND: Final = {
    Purpose.SIGNER_CA: EntryKind.CA,
    Purpose.SEAL_MAKER: EntryKind.SEAL_MAKER,
    Purpose.TSA: EntryKind.TSA,
}


class ListStatus(StrEnum):
    """Freshness of a list: ``fresh``; ``stale`` (before nextUpdate, but the last refresh failed);
    ``expired`` (past nextUpdate: its anchors make results INDETERMINATE)."""

    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"


def list_status(next_update: datetime, now: datetime, *, last_error: str | None = None) -> ListStatus:
    """Return the status of a list with ``next_update`` at ``now``."""
    if now >= next_update:
        return ListStatus.EXPIRED
    return ListStatus.STALE if last_error else ListStatus.FRESH


class AnchorSource(NamedTuple):
    """Where a trust statement comes from: ``(list_name, territory, sequence, status)``."""

    list_name: str
    territory: str
    sequence: int
    status: ListStatus

    @property
    def indeterminate(self) -> bool:
        """True when the list is expired: results resting on it are INDETERMINATE, not VALID."""
        return self.status is ListStatus.EXPIRED

    @property
    def sub_indication(self) -> str | None:
        """The sub-indication the engine reports for results resting on this source (None when usable)."""
        return EXPIRED_LIST_SUB_INDICATION if self.indeterminate else None


@dataclass(frozen=True)
class Services:
    """Service endpoints of an entry. For a CA: where to ask about the certificates it issued."""

    ocsp: tuple[str, ...] = ()
    crl: tuple[str, ...] = ()
    ca_issuers: tuple[str, ...] = ()
    tsa: str | None = None
    seal_status: str | None = None  # URL template with {es_id}
    licence_status: str | None = None  # URL template with {identifier}

    def to_json(self) -> dict[str, Any]:
        """Return the services as trust-list JSON (absent ones omitted)."""
        body: dict[str, Any] = {}
        for name in ("ocsp", "crl", "ca_issuers"):
            if values := getattr(self, name):
                body[name] = list(values)
        for name in ("tsa", "seal_status", "licence_status"):
            if value := getattr(self, name):
                body[name] = value
        return body


@dataclass(frozen=True)
class Entry:
    """One trust statement: a certificate of some kind with its services, or an issuing organisation."""

    kind: EntryKind
    name: str
    source: AnchorSource
    certificate_der: bytes | None = None
    organisation_name: str | None = None
    organisation_uscc: str | None = None
    services: Services = field(default_factory=Services)
    role: str | None = None  # CAs: "root" or "issuing"

    @cached_property
    def certificate(self) -> x509.Certificate | None:
        return None if self.certificate_der is None else x509.Certificate.load(self.certificate_der)

    @cached_property
    def sha256(self) -> str | None:
        return None if self.certificate_der is None else hashlib.sha256(self.certificate_der).hexdigest()

    @cached_property
    def key_id(self) -> str | None:
        """Hex subjectKeyIdentifier of the certificate (RFC 5280 method 1 when it has none)."""
        certificate = self.certificate
        if certificate is None:
            return None
        return (certificate.key_identifier or key_identifier(certificate.public_key)).hex()

    @property
    def valid_from(self) -> datetime | None:
        return None if self.certificate is None else self.certificate.not_valid_before

    @property
    def valid_until(self) -> datetime | None:
        return None if self.certificate is None else self.certificate.not_valid_after

    @property
    def purpose(self) -> Purpose | None:
        for purpose, kind in _PURPOSE_KIND.items():
            if kind is self.kind:
                return purpose
        return None


@dataclass(frozen=True)
class Endpoints:
    """Where to ask about one certificate or organisation (see :meth:`TrustStore.endpoints_for`)."""

    ocsp: tuple[str, ...] = ()
    crl: tuple[str, ...] = ()
    seal_status: str | None = None
    ca_issuers: tuple[str, ...] = ()
    licence_status: str | None = None
    source: AnchorSource | None = None  # the list that said so; None when no list knows the certificate

    def seal_status_url(self, es_id: str) -> str | None:
        """Return the seal-status URL of seal ``es_id``, or None."""
        return None if self.seal_status is None else self.seal_status.replace("{es_id}", es_id)

    def licence_status_url(self, identifier: str) -> str | None:
        """Return the licence-status URL of licence ``identifier``, or None."""
        if self.licence_status is None:
            return None
        return self.licence_status.replace("{identifier}", identifier)


def _rank(source: AnchorSource) -> tuple[int, int]:
    order = 0 if source.list_name == LOCAL_ANCHORS else 1 if source.list_name == OWN_LIST else 2
    return (1 if source.indeterminate else 0, order)


class TrustStore:
    """An immutable snapshot of trust statements; the query API of the verification engine."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        ordered = sorted(entries, key=lambda e: _rank(e.source))  # stable: list order kept within a rank
        self._entries: tuple[Entry, ...] = tuple(ordered)
        self._by_sha256: dict[str, list[Entry]] = {}
        self._by_subject: dict[str, list[Entry]] = {}
        self._by_uscc: dict[str, list[Entry]] = {}
        for entry in self._entries:
            if entry.sha256 is not None:
                self._by_sha256.setdefault(entry.sha256, []).append(entry)
            if entry.kind is EntryKind.CA and entry.certificate is not None:
                self._by_subject.setdefault(entry.certificate.subject.hashable, []).append(entry)
            if entry.organisation_uscc:
                self._by_uscc.setdefault(entry.organisation_uscc, []).append(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, purpose: Purpose | str | None = None) -> list[Entry]:
        """Return the entries trusted for ``purpose`` (every entry when None), best source first."""
        if purpose is None:
            return list(self._entries)
        kind = _PURPOSE_KIND[Purpose(purpose)]
        return [e for e in self._entries if e.kind is kind]

    def anchors(self, purpose: Purpose | str) -> list[x509.Certificate]:
        """Return the certificates trusted for ``purpose``, each once, best source first.

        Anchors of expired lists are included (check :meth:`source_of`); ``purpose`` is ``signer-ca``,
        ``seal-maker`` or ``tsa``.
        """
        seen: set[str] = set()
        anchors = []
        for entry in self.entries(purpose):
            if entry.certificate is not None and entry.sha256 not in seen:
                seen.add(entry.sha256 or "")
                anchors.append(entry.certificate)
        return anchors

    def source_of(self, anchor: x509.Certificate | bytes) -> AnchorSource:
        """Return the best source of ``anchor`` (a certificate or its DER); NotFound if no list has it."""
        found = self._by_sha256.get(hashlib.sha256(_der(anchor)).hexdigest())
        if not found:
            raise NotFound("the certificate is not in any trust list")
        return found[0].source

    def is_trusted(self, certificate: x509.Certificate | bytes, purpose: Purpose | str) -> bool:
        """Return whether ``certificate`` itself is an anchor for ``purpose`` (expired lists count)."""
        kind = _PURPOSE_KIND[Purpose(purpose)]
        found = self._by_sha256.get(hashlib.sha256(_der(certificate)).hexdigest(), [])
        return any(e.kind is kind for e in found)

    def endpoints_for(
        self, cert_or_issuer: x509.Certificate | bytes | str, *, list_name: str | None = None
    ) -> Endpoints:
        """Return where to ask about a certificate (or about an organisation, given its USCC).

        For a certificate: OCSP, CRL and caIssuers URLs of the CA entry that issued it (matched by issuer
        name and authority key identifier); the seal-status template of the certificate's own entry, else of
        its issuer, else of a seal maker in the issuer's list; the licence-status template of the issuing
        organisation entry for the certificate's USCC in that list. For a USCC: the seal- and licence-status
        templates of that organisation, all from one entry (``list_name``: that list's entry preferred).
        Empty :class:`Endpoints` (``source`` None) when no list knows it —
        the engine then falls back to the certificate's own AIA and CRL distribution points.
        """
        if isinstance(cert_or_issuer, str):
            return self._endpoints_for_organisation(cert_or_issuer, list_name)
        certificate = (
            cert_or_issuer if isinstance(cert_or_issuer, x509.Certificate) else _load(cert_or_issuer)
        )
        own = self._by_sha256.get(hashlib.sha256(certificate.dump()).hexdigest(), [])
        issuer = self._issuer_entry(certificate)
        seal_status = next((e.services.seal_status for e in own if e.services.seal_status), None)
        if seal_status is None and issuer is not None:
            seal_status = issuer.services.seal_status or next(
                (
                    e.services.seal_status
                    for e in self._entries
                    if e.kind is EntryKind.SEAL_MAKER
                    and e.source.list_name == issuer.source.list_name
                    and e.services.seal_status
                ),
                None,
            )
        source = issuer.source if issuer is not None else own[0].source if own else None
        licence_status = None
        uscc = uscc_of(certificate.subject)
        if uscc and source is not None:
            licence_status = next(
                (
                    e.services.licence_status
                    for e in self._by_uscc.get(uscc, [])
                    if e.source.list_name == source.list_name and e.services.licence_status
                ),
                None,
            )
        if issuer is None:
            return Endpoints(seal_status=seal_status, licence_status=licence_status, source=source)
        return Endpoints(
            ocsp=issuer.services.ocsp,
            crl=issuer.services.crl,
            seal_status=seal_status,
            ca_issuers=issuer.services.ca_issuers,
            licence_status=licence_status,
            source=source,
        )

    def _issuer_entry(self, certificate: x509.Certificate) -> Entry | None:
        candidates = self._by_subject.get(certificate.issuer.hashable, [])
        aki = certificate.authority_key_identifier
        for entry in candidates:
            if aki is None or entry.key_id == aki.hex():
                return entry
        return None

    def _endpoints_for_organisation(self, uscc: str, list_name: str | None = None) -> Endpoints:
        """One entry answers, URLs and source together (never one list's URL with another's name): the
        first with a licence-status service, else with a seal-status one, else the first — those of
        ``list_name`` (the signer's list, when the caller knows it) before the others."""
        entries = self._by_uscc.get(uscc.strip().upper(), [])
        if list_name is not None:
            entries = sorted(entries, key=lambda e: e.source.list_name != list_name)  # stable
        chosen = next(
            (e for e in entries if e.services.licence_status),
            next((e for e in entries if e.services.seal_status), entries[0] if entries else None),
        )
        if chosen is None:
            return Endpoints()
        return Endpoints(
            seal_status=chosen.services.seal_status,
            licence_status=chosen.services.licence_status,
            source=chosen.source,
        )

    def with_local_anchors(
        self,
        certificates: Sequence[x509.Certificate | bytes],
        purposes: Iterable[Purpose | str] | None = None,
    ) -> TrustStore:
        """Return a store that also trusts ``certificates`` (see :func:`local_anchor_entries`)."""
        return TrustStore((*self._entries, *local_anchor_entries(certificates, purposes)))


def local_anchor_entries(
    certificates: Sequence[x509.Certificate | bytes], purposes: Iterable[Purpose | str] | None = None
) -> list[Entry]:
    """Return entries trusting each certificate for ``purposes`` (every purpose when None).

    Anchors given explicitly are the operator's decision for this one verification: they are always fresh
    and carry no services (their certificates' own AIA and CRL distribution points apply).
    """
    chosen = [Purpose(p) for p in purposes] if purposes is not None else list(Purpose)
    source = AnchorSource(LOCAL_ANCHORS, "", 0, ListStatus.FRESH)
    entries = []
    for index, certificate in enumerate(certificates):
        der = _der(certificate)
        parsed = _load(der)
        for purpose in chosen:
            entries.append(
                Entry(
                    kind=_PURPOSE_KIND[purpose],
                    name=f"anchor-{index + 1}",
                    source=source,
                    certificate_der=der,
                    organisation_uscc=uscc_of(parsed.subject),
                )
            )
    return entries


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Return the certificates in ``data``: one DER certificate or any number of PEM ones."""
    try:
        if pem.detect(data):
            found = [
                x509.Certificate.load(der, strict=True)
                for kind, _, der in pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"
            ]
        else:
            found = [x509.Certificate.load(data, strict=True)]
        for certificate in found:
            certificate.native  # noqa: B018 - parse everything now, not at first use
    except (ValueError, TypeError) as exc:
        raise MalformedInput(f"not an X.509 certificate: {exc}") from None
    if not found:
        raise MalformedInput("no CERTIFICATE in the PEM data")
    return found


def _der(certificate: x509.Certificate | bytes) -> bytes:
    return certificate.dump() if isinstance(certificate, x509.Certificate) else bytes(certificate)


def _load(der: bytes) -> x509.Certificate:
    try:
        certificate = x509.Certificate.load(der, strict=True)
        certificate.native  # noqa: B018
    except (ValueError, TypeError) as exc:
        raise MalformedInput(f"not an X.509 certificate: {exc}") from None
    return certificate
