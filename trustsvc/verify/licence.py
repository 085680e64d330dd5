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
   no check; so does one that :func:`trustsvc.license.identifier.parse` refuses. No identifier: no check
   (documents that are not licences verify as before).
2. **The status**: ours — the licence is in our database (:meth:`LicenceService.status`); an identifier
   whose issuer's status service is our own trust list's but which our database does not hold was **not
   issued**. Others' — the licence-status URL of the trust store (the issuing organisation's entry for the
   identifier's issuer code, else an ``issuing-organisation`` entry of the trust list the signer
   certificate's CA belongs to: that territory's licence-status service), a ``trustsvc-signed-json/1`` answer
   of type ``trustsvc.licence-status`` whose signer carries the seal-making purpose and chains to a
   ``signer-ca`` anchor of **that** trust list (seal-status rules, :class:`CheckEnvironment.signed_answer`),
   about this very identifier, produced within the last hour (:data:`MAX_ANSWER_AGE`: an old "valid" must not
   be replayed past a revocation).
3. **The verdict**: valid → passed; revoked (注销/吊销) → INVALID REVOKED; superseded → INVALID
   SIG_CONSTRAINTS_FAILURE (decision: no ETSI sub-indication says "replaced"; REVOKED and EXPIRED would
   misstate what happened, and a validation constraint — the licence must be the current version — fails);
   expired → INVALID EXPIRED; unknown to the issuer (our database, or an HTTP 404 from its service) →
   INVALID SIG_CONSTRAINTS_FAILURE "not issued"; unreachable or an unusable answer → INDETERMINATE
   TRY_LATER; no status service known → skipped with a warning (strict mode: INDETERMINATE TRY_LATER), as
   for seal status. A status is the licence's state **now**, whatever the signing time: a licence that was
   valid when sealed and revoked since is no longer a valid licence.
4. **The file**: when the status names the SM3 of the files as issued and the document's differs, a
   warning ("not the file as issued") — decision: not a failure, since a legitimate copy may carry later
   revisions (e.g. validation data added to a PDF) while the signature over the issued content still holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from lxml import etree

from trustsvc.errors import InvalidInput, MalformedInput, NotFound, PayloadTooLarge
from trustsvc.license.identifier import parse
from trustsvc.license.issuance import STATEMENT_TYPE, LicenceStatus
from trustsvc.license.models import LicenceState
from trustsvc.license.render import XMP_NAMESPACE
from trustsvc.ofd.package import OfdPackage
from trustsvc.ofd.xml import parse_xml
from trustsvc.pdf.metadata import MAX_XMP_BYTES, PdfMetadata, revision_metadata
from trustsvc.seal.status import iso
from trustsvc.verify.engine import CheckEnvironment, SignatureContext
from trustsvc.verify.result import CheckResult, SubIndication
from trustsvc.verify.status import AnswerNotFound, StatusUnavailable
from trustsvc.verify.truststore import OWN_LIST, EntryKind

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
        identifier = signed_identifier(ctx, env)
        if identifier is None:
            return None
        try:
            status = self._status(identifier, ctx, env)
        except _NotIssued as exc:
            return CheckResult.failed(
                CHECK_NAME,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"licence {identifier} was not issued: its issuer does not know it ({exc.source})",
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

    def _status(self, identifier: str, ctx: SignatureContext, env: CheckEnvironment) -> _Status | None:
        if self._local is not None:
            try:
                return _from_local(self._local(identifier))
            except NotFound:
                pass
        located = _locate(identifier, ctx, env)
        if located is None:
            return None
        url, list_name = located
        if list_name == OWN_LIST and self._local is not None:
            raise _NotIssued("database")  # our own service: the database above is its answer
        try:
            verified = env.signed_answer(url, statement_type=STATEMENT_TYPE, list_name=list_name)
        except AnswerNotFound:
            raise _NotIssued(f"licence-status:{url}: HTTP 404") from None
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


def _locate(identifier: str, ctx: SignatureContext, env: CheckEnvironment) -> tuple[str, str] | None:
    """Return (licence-status URL, trust list name) for ``identifier``, or None when no list names one."""
    issuer_code = parse(identifier).issuer_code
    store = env.store
    endpoints = store.endpoints_for(issuer_code)
    url = endpoints.licence_status_url(identifier)
    if url is not None and endpoints.source is not None:
        return url, endpoints.source.list_name
    if ctx.signer_cert is None:
        return None
    source = store.endpoints_for(ctx.signer_cert).source
    if source is None:
        return None
    for entry in store.entries():
        if (
            entry.kind is EntryKind.ISSUING_ORGANISATION
            and entry.source.list_name == source.list_name
            and entry.services.licence_status
        ):
            return entry.services.licence_status.replace("{identifier}", identifier), source.list_name
    return None


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
        return str(parse(text.strip()))
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
        env.warn(f"the OFD metadata cannot be read: {exc.detail}; no licence status checked")
        return None
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
        signed = _pdf_identifiers(revision_metadata(sig.reader, sig.signed_revision), env)
        latest = _pdf_identifiers(revision_metadata(sig.reader), env)
    except (MalformedInput, PayloadTooLarge) as exc:
        env.warn(f"the PDF metadata cannot be read: {exc.detail}; no licence status checked")
        return None
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


def _pdf_identifiers(metadata: PdfMetadata, env: CheckEnvironment) -> list[str]:
    """Return the identifiers in ``metadata``: the /Info entry first, then the XMP property."""
    found = []
    if metadata.info.get(IDENTIFIER_KEY):
        found.append(metadata.info[IDENTIFIER_KEY].strip())
    if metadata.xmp is not None:
        try:
            root = parse_xml(metadata.xmp, max_bytes=MAX_XMP_BYTES, name="XMP metadata")
        except (MalformedInput, PayloadTooLarge) as exc:
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
