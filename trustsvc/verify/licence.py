"""The e-licence status check (``licence_status``): is the licence a signed document carries still in force?

An extra check of the verification engine (:attr:`~trustsvc.verify.engine.VerificationPolicy.extra_checks`),
installed by :attr:`trustsvc.service.TrustService.verifier`. It runs **per signature**, on the licence
identifier that signature covers — decision: a PDF may gain revisions after a signature, so what one
signature vouches for is read from *its* signed revision; the answer itself is fetched once per verification
(the engine caches signed answers), so a second signature costs a lookup, not a fetch.

1. **The identifier** (GB/T 36903 ``ZZBS``, as :mod:`trustsvc.license.render` writes it): OFD — the
   ``CustomData Name="ZZBS"`` of the signed document's ``DocInfo`` in ``OFD.xml``, counted only when the
   signature's References cover ``OFD.xml``; PDF — the ``/ZZBS`` entry of the document information
   dictionary, else the ``zz:ZZBS`` property of the XMP packet (namespace
   :data:`~trustsvc.license.render.XMP_NAMESPACE`, parsed with the hardened parser), both read from the
   revision the signature covers (:func:`trustsvc.pdf.metadata.revision_metadata`). An identifier only a
   later, unsigned revision carries — or an ``OFD.xml`` the signature does not cover — gives a warning and
   no check; so does one that :func:`trustsvc.license.identifier.parse` refuses (legacy issuer codes
   allowed, as the status service allows them). Metadata of a later revision that cannot be read is a
   warning: the signed identifier is still checked (pyHanko accepts /Info and XMP changes after signing, so
   an unreadable later update must not switch the check off). Metadata the signature covers that cannot be
   read: INDETERMINATE — whether the document is a licence cannot be told. No identifier: no check
   (documents that are not licences verify as before).
2. **The binding**: the identifier's issuer code must be the USCC of the organisation that signed (the
   organizationIdentifier of the signer certificate: for a seal, the organisation's certificate the seal
   lists) — else INVALID SIG_CONSTRAINTS_FAILURE: any seal holder could otherwise seal a PDF naming another
   organisation's valid licence. When there is nothing to compare (a legacy issuer code, a certificate
   without a USCC), the trust list whose ``signer-ca`` entry issued the signer's certificate must list the
   issuer code as an ``issuing-organisation``; else INDETERMINATE.
3. **The status**: ours — the licence is in our database (:meth:`LicenceService.status`); an identifier
   whose issuer's status service is our own trust list's but which our database does not hold was **not
   issued**. Others' — the licence-status URL of **the signer's trust list** (its issuing organisation's
   entry for the identifier's issuer code, else any ``issuing-organisation`` entry of that list: that
   territory's licence-status service; another list naming the issuer code has no say), a
   ``trustsvc-signed-json/1`` answer of type ``trustsvc.licence-status`` whose signer carries the
   seal-making purpose and chains to a ``signer-ca`` anchor of **that** trust list (seal-status rules,
   :class:`CheckEnvironment.signed_answer`), about this very identifier, produced within the last hour
   (:data:`MAX_ANSWER_AGE`: an old "valid" must not be replayed past a revocation).
4. **The verdict**: valid → passed; revoked (注销/吊销) → INVALID REVOKED; superseded → INVALID
   SIG_CONSTRAINTS_FAILURE (decision: no ETSI sub-indication says "replaced"; REVOKED and EXPIRED would
   misstate what happened, and a validation constraint — the licence must be the current version — fails);
   expired → INVALID EXPIRED; unknown to our database (its issuer is ours) → INVALID
   SIG_CONSTRAINTS_FAILURE "not issued"; an HTTP 404/410 from another territory's service → INDETERMINATE
   TRY_LATER (decision: the 404 is not signed — a mis-route or a forgery must not make a genuine licence
   INVALID in our signed report); unreachable or an unusable answer → INDETERMINATE TRY_LATER; no status
   service known → skipped with a warning (strict mode: INDETERMINATE TRY_LATER), as for seal status. A
   status is the licence's state **now**, whatever the signing time: a licence that was valid when sealed
   and revoked since is no longer a valid licence.
5. **The file**: when the status names the SM3 of the files as issued and the document's differs, a
   warning ("not the file as issued") — decision: not a failure, since a legitimate copy may carry later
   revisions (e.g. validation data added to a PDF) while the signature over the issued content still holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from lxml import etree

from trustsvc.ca.profiles import uscc_of
from trustsvc.errors import InvalidInput, MalformedInput, NotFound, PayloadTooLarge
from trustsvc.license import uscc
from trustsvc.license.identifier import parse
from trustsvc.license.issuance import STATEMENT_TYPE, LicenceStatus
from trustsvc.license.models import LicenceState
from trustsvc.license.render import XMP_NAMESPACE
from trustsvc.ofd.package import OfdPackage
from trustsvc.ofd.xml import parse_xml
from trustsvc.pdf.metadata import MAX_XMP_BYTES, PdfMetadata, revision_metadata
from trustsvc.seal.status import iso
from trustsvc.verify.engine import CheckEnvironment, SignatureContext
from trustsvc.verify.result import CheckResult, CheckStatus, SubIndication
from trustsvc.verify.status import AnswerNotFound, StatusUnavailable
from trustsvc.verify.truststore import OWN_LIST, EntryKind, Purpose

__all__ = ["CHECK_NAME", "IDENTIFIER_KEY", "LicenceStatusCheck", "signed_identifier"]

CHECK_NAME: Final = "licence_status"
IDENTIFIER_KEY: Final = "ZZBS"
_OFD_XML: Final = "OFD.xml"
_RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#: A signed answer older than this is not used (issuers re-sign every minute; caches keep it at most that).
MAX_ANSWER_AGE: Final = timedelta(hours=1)
CLOCK_SKEW: Final = timedelta(minutes=5)

LocalStatus = Callable[[str], LicenceStatus]


@dataclass(frozen=True)
class _Status:
    """A licence status from either source, reduced to what the verdict needs."""

    state: str
    since: str
    source: str
    revocation_kind: str | None = None
    superseded_by: str | None = None
    valid_to: str | None = None
    pdf_sm3: str | None = None
    ofd_sm3: str | None = None


class _NotIssued(Exception):
    def __init__(self, source: str) -> None:
        self.source = source


class LicenceStatusCheck:
    """The ``licence_status`` extra check (see the module docstring).

    ``local`` answers for the licences in our database (``LicenceService.status``; NotFound for any other);
    None when the verifier has no database (a relying party's command line): then every status is asked.
    """

    def __init__(self, local: LocalStatus | None = None) -> None:
        self._local = local

    def __call__(self, ctx: SignatureContext, signing_time: datetime | None) -> CheckResult | None:
        env = ctx.environment
        if env is None:
            return None
        try:
            identifier = signed_identifier(ctx, env)
        except (MalformedInput, PayloadTooLarge) as exc:
            # a failure to read what the signature covers must not turn a licence into "not a licence"
            return CheckResult.indeterminate(
                CHECK_NAME,
                SubIndication.GENERIC,
                f"{exc.detail}; whether the document is a licence cannot be told",
            )
        if identifier is None:
            return None
        unbound, signer_lists = _binding(identifier, ctx, env)
        bound: dict[str, int] = env.memo("licence-bound-signatures", dict)
        if unbound is not None:
            earlier = bound.get(identifier)
            if earlier is not None and unbound.status is CheckStatus.FAILED:
                # A countersignature (the holder's, a receiving authority's) on a licence its issuer sealed
                # first: the licence is checked on the issuer's signature, this one does not speak for it.
                return CheckResult.skipped(
                    CHECK_NAME,
                    f"licence {identifier} is checked on signature {earlier + 1}, its issuer's; "
                    f"this signature is another organisation's ({unbound.detail})",
                )
            return unbound
        bound.setdefault(identifier, ctx.index)
        try:
            status = self._status(identifier, signer_lists, env)
        except _NotIssued as exc:
            return CheckResult.failed(
                CHECK_NAME,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"licence {identifier} was not issued: its issuer does not know it ({exc.source})",
            )
        except AnswerNotFound as exc:
            # an unsigned 404/410 from another territory proves nothing: a mis-route or a forgery
            return CheckResult.indeterminate(
                CHECK_NAME,
                SubIndication.TRY_LATER,
                f"the issuer's status service does not know {identifier} ({exc.detail})",
            )
        except StatusUnavailable as exc:
            return CheckResult.indeterminate(
                CHECK_NAME, SubIndication.TRY_LATER, f"licence {identifier}: {exc.detail}"
            )
        if status is None:
            text = f"the status of licence {identifier} cannot be checked: no licence-status service is known"
            if not env.lenient:
                return CheckResult.indeterminate(CHECK_NAME, SubIndication.TRY_LATER, text)
            env.warn(text)
            return CheckResult.skipped(CHECK_NAME, text)
        env.note_source(status.source.split(":", 1)[0])
        _compare_files(identifier, ctx, env, status)
        return _verdict(identifier, status)

    # --- where the status comes from ------------------------------------------------------------------

    def _status(self, identifier: str, signer_lists: list[str], env: CheckEnvironment) -> _Status | None:
        """Return the status (None: no service known); _NotIssued only on our own database's word."""
        if self._local is not None:
            try:
                return _from_local(self._local(identifier))
            except NotFound:
                pass
        located = _locate(identifier, signer_lists, env)
        if located is None:
            return None
        url, list_name = located
        if list_name == OWN_LIST and self._local is not None:
            raise _NotIssued("database")  # our own service: the database above is its answer
        verified = env.signed_answer(url, statement_type=STATEMENT_TYPE, list_name=list_name)
        return _from_statement(identifier, verified.statement, url, env.now)


def _from_local(status: LicenceStatus) -> _Status:
    return _Status(
        state=status.status.value,
        since=iso(status.since),
        source="database",
        revocation_kind=status.revocation_kind.value if status.revocation_kind is not None else None,
        superseded_by=status.superseded_by,
        valid_to=status.valid_to.isoformat() if status.valid_to is not None else None,
        pdf_sm3=status.pdf_sm3,
        ofd_sm3=status.ofd_sm3,
    )


def _from_statement(identifier: str, body: dict[str, Any], url: str, now: datetime) -> _Status:
    if body.get("identifier") != identifier:
        raise StatusUnavailable(f"{url}: the status answer is about another licence")
    try:
        produced = datetime.strptime(str(body["produced_at"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (KeyError, ValueError):
        raise StatusUnavailable(f"{url}: the licence status statement has no produced_at") from None
    if not now - MAX_ANSWER_AGE <= produced <= now + CLOCK_SKEW:
        # a replayed old "valid" must not outlive a revocation
        raise StatusUnavailable(f"{url}: the status answer was produced at {iso(produced)}, not recently")
    files = body.get("files")
    files = files if isinstance(files, dict) else {}
    try:
        state = LicenceState(body["status"]).value
        since = str(body["since"])
    except (KeyError, ValueError):
        raise StatusUnavailable(f"{url}: the licence status statement is incomplete") from None
    return _Status(
        state=state,
        since=since,
        source=f"licence-status:{url}",
        revocation_kind=_text_or_none(body.get("revocation_kind")),
        superseded_by=_text_or_none(body.get("superseded_by")),
        valid_to=_text_or_none(body.get("valid_to")),
        pdf_sm3=_text_or_none(files.get("pdf_sm3")),
        ofd_sm3=_text_or_none(files.get("ofd_sm3")),
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _locate(identifier: str, signer_lists: list[str], env: CheckEnvironment) -> tuple[str, str] | None:
    """Return (licence-status URL, trust list name) for ``identifier``, or None when no list names one.

    From the signer's lists only, when the signer's chain is known (another list claiming the issuer code
    has no say over this document): the issuer's entry there, else any issuing organisation's of that list
    (the territory's service). Without a known signer list: whichever list names the issuer.
    """
    issuer_code = parse(identifier, allow_legacy=True).issuer_code
    store = env.store
    for name in signer_lists:
        endpoints = store.endpoints_for(issuer_code, list_name=name)
        url = endpoints.licence_status_url(identifier)
        if url is not None and endpoints.source is not None and endpoints.source.list_name == name:
            return url, name
    for name in signer_lists:
        for entry in store.entries():
            if (
                entry.kind is EntryKind.ISSUING_ORGANISATION
                and entry.source.list_name == name
                and entry.services.licence_status
            ):
                return entry.services.licence_status.replace("{identifier}", identifier), name
    if signer_lists:
        return None
    endpoints = store.endpoints_for(issuer_code)
    url = endpoints.licence_status_url(identifier)
    if url is not None and endpoints.source is not None:
        return url, endpoints.source.list_name
    return None


# --- who may carry the identifier ---------------------------------------------------------------------


def _binding(
    identifier: str, ctx: SignatureContext, env: CheckEnvironment
) -> tuple[CheckResult | None, list[str]]:
    """Return (a failing result or None, the signer's trust lists): the identifier must be the sealer's.

    Any seal holder can seal a PDF naming another organisation's valid licence: the issuer code must be the
    USCC of the organisation that signed (its certificate's organizationIdentifier — for a seal, the
    organisation's certificate listed in the seal). When either side has no comparable USCC (a legacy issuer
    code, a certificate without one), the trust list that anchors the signer must list the issuer code as
    one of its issuing organisations; when that cannot be established either, INDETERMINATE.
    """
    code = parse(identifier, allow_legacy=True).issuer_code
    signer_lists = _signer_lists(ctx, env)
    org = uscc_of(ctx.signer_cert.subject) if ctx.signer_cert is not None else None
    if org is not None and org == code:
        return None, signer_lists
    if org is not None and _is_uscc(code):
        return (
            CheckResult.failed(
                CHECK_NAME,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"licence {identifier} names issuer {code}, but the document was "
                f"{'sealed' if ctx.seal is not None else 'signed'} by {_organisation(ctx, org)}",
            ),
            signer_lists,
        )
    listing = [
        e.source.list_name
        for e in env.store.entries()
        if e.kind is EntryKind.ISSUING_ORGANISATION and e.organisation_uscc == code
    ]
    shared = [name for name in signer_lists if name in listing]
    if shared:
        return None, shared
    signer = _organisation(ctx, org) if org is not None else "a signer without an organisation code"
    return (
        CheckResult.indeterminate(
            CHECK_NAME,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            f"licence {identifier} names issuer {code}, which cannot be bound to {signer}: no trust list "
            "anchoring the signer lists that issuer",
        ),
        signer_lists,
    )


def _is_uscc(code: str) -> bool:
    try:
        uscc.validate(code, field="issuer_code")
    except InvalidInput:
        return False
    return True


def _organisation(ctx: SignatureContext, org: str) -> str:
    name = ctx.signer_cert.subject.native.get("organization_name") if ctx.signer_cert is not None else None
    return f"{name} ({org})" if isinstance(name, str) and name else org


def _signer_lists(ctx: SignatureContext, env: CheckEnvironment) -> list[str]:
    """Return the trust lists whose ``signer-ca`` entry issued the signer certificate (or a CA above it).

    Matched by issuer name and authority key identifier, as :meth:`TrustStore.endpoints_for` matches a
    certificate's CA; the chain itself is the ``signer_chain`` check's (a document it fails is not VALID).
    """
    current = ctx.signer_cert
    seen: set[bytes] = set()
    while current is not None and current.dump() not in seen:
        seen.add(current.dump())
        aki = current.authority_key_identifier
        names: list[str] = []
        for entry in env.store.entries(Purpose.SIGNER_CA):
            anchor = entry.certificate
            if (
                anchor is not None
                and anchor.subject == current.issuer
                and (aki is None or entry.key_id == aki.hex())
                and entry.source.list_name not in names
            ):
                names.append(entry.source.list_name)
        if names:
            return names
        issuer = current.issuer
        current = next((c for c in ctx.other_certs if c.subject == issuer), None)
    return []


# --- the verdict ------------------------------------------------------------------------------------------


def _verdict(identifier: str, status: _Status) -> CheckResult:
    where = f"({status.source})"
    if status.state == LicenceState.VALID.value:
        return CheckResult.passed(CHECK_NAME, f"licence {identifier}: valid since {status.since} {where}")
    if status.state == LicenceState.REVOKED.value:
        kind = status.revocation_kind or "注销/吊销"
        return CheckResult.failed(
            CHECK_NAME,
            SubIndication.REVOKED,
            f"licence {identifier}: revoked ({kind}) since {status.since} {where}",
        )
    if status.state == LicenceState.SUPERSEDED.value:
        newer = status.superseded_by or "a later version"
        return CheckResult.failed(
            CHECK_NAME,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            f"licence {identifier}: superseded by {newer} since {status.since} {where}",
        )
    valid_to = f" (valid to {status.valid_to})" if status.valid_to else ""
    return CheckResult.failed(
        CHECK_NAME,
        SubIndication.EXPIRED,
        f"licence {identifier}: expired since {status.since}{valid_to} {where}",
    )


def _compare_files(identifier: str, ctx: SignatureContext, env: CheckEnvironment, status: _Status) -> None:
    expected = status.pdf_sm3 if ctx.format == "pdf" else status.ofd_sm3
    if expected and expected.lower() != env.document_sm3:
        env.warn(
            f"not the file as issued: its SM3 differs from the issuer's record of licence {identifier} "
            "(the signed content may still be the licence's; later changes are what the other checks judge)"
        )


# --- the identifier the signature covers --------------------------------------------------------------


def signed_identifier(ctx: SignatureContext, env: CheckEnvironment) -> str | None:
    """Return the licence identifier (canonical text) the signature of ``ctx`` covers, or None.

    Whatever keeps it from being checked (not covered, unreadable, malformed) is a warning through ``env``.
    """
    if ctx.pdf_signature is not None:
        text = _pdf_identifier(ctx, env)
    elif ctx.ofd_signature is not None:
        text = _ofd_identifier(ctx, env)
    else:
        return None
    if text is None:
        return None
    try:
        return str(parse(text.strip(), allow_legacy=True))
    except InvalidInput as exc:
        env.warn(
            f"the document names a malformed licence identifier {text[:80]!r}: {exc.detail}; not checked"
        )
        return None


def _ofd_identifier(ctx: SignatureContext, env: CheckEnvironment) -> str | None:
    check = ctx.ofd_signature
    assert check is not None
    try:
        package: OfdPackage = env.memo("ofd-package", lambda: OfdPackage.read(env.document))
        datas = package.document(check.document).custom_datas
    except (MalformedInput, PayloadTooLarge) as exc:
        raise MalformedInput(f"the OFD metadata cannot be read: {exc.detail}") from None
    text = datas.get(IDENTIFIER_KEY)
    if not text:
        return None
    covered = any(ref.path == _OFD_XML and ref.ok for ref in check.references)
    if not covered:
        env.warn(
            f"licence identifier {text[:80]!r} is in an OFD.xml this signature does not cover; not checked"
        )
        return None
    return text


def _pdf_identifier(ctx: SignatureContext, env: CheckEnvironment) -> str | None:
    sig = ctx.pdf_signature
    assert sig is not None
    try:
        signed = _pdf_identifiers(revision_metadata(sig.reader, sig.signed_revision), env, signed=True)
    except (MalformedInput, PayloadTooLarge) as exc:
        raise MalformedInput(
            f"the metadata of the revision signature {ctx.index + 1} covers cannot be read: {exc.detail}"
        ) from None
    try:
        latest = _pdf_identifiers(revision_metadata(sig.reader), env, signed=False)
    except (MalformedInput, PayloadTooLarge) as exc:
        # a later, unsigned update cannot take the signed identifier's check away
        env.warn(f"the metadata of the latest revision cannot be read: {exc.detail}")
        latest = []
    if not signed:
        if latest:
            env.warn(
                f"licence identifier {latest[0][:80]!r} is only in a revision added after signature "
                f"{ctx.index + 1}; not checked"
            )
        return None
    if len(set(signed)) > 1:
        env.warn(f"the signed metadata names more than one licence identifier: {', '.join(signed)[:200]}")
    if latest and latest[0] != signed[0]:
        env.warn(
            f"a later, unsigned revision names licence identifier {latest[0][:80]!r}; "
            f"the signed one is {signed[0][:80]!r}"
        )
    return signed[0]


def _pdf_identifiers(metadata: PdfMetadata, env: CheckEnvironment, *, signed: bool) -> list[str]:
    """Return the identifiers in ``metadata``: the /Info entry first, then the XMP property.

    An unreadable XMP packet is a warning — or, in the ``signed`` revision when /Info names no identifier,
    MalformedInput: then nothing tells whether the signed document is a licence.
    """
    found = []
    if metadata.info.get(IDENTIFIER_KEY):
        found.append(metadata.info[IDENTIFIER_KEY].strip())
    if metadata.xmp is not None:
        try:
            root = parse_xml(metadata.xmp, max_bytes=MAX_XMP_BYTES, name="XMP metadata")
        except (MalformedInput, PayloadTooLarge) as exc:
            if signed and not found:
                raise
            env.warn(f"the PDF's XMP metadata cannot be read: {exc.detail}")
            return found
        found.extend(_xmp_values(root))
    return found


def _xmp_values(root: etree._Element) -> list[str]:
    """Return the ``zz:ZZBS`` values of an XMP packet, as elements or as attributes of rdf:Description."""
    tag = f"{{{XMP_NAMESPACE}}}{IDENTIFIER_KEY}"
    values = [(e.text or "").strip() for e in root.iter(tag)]
    for description in root.iter(f"{{{_RDF}}}Description"):
        attribute = description.get(tag)
        if attribute:
            values.append(attribute.strip())
    return [v for v in values if v]
