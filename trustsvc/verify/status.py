"""Where the verification engine learns the status of certificates and seals: our database, or the issuer.

* :class:`LocalStatusResolver` answers for what **we** issued, straight from our database — a certificate
  of one of our CAs (via :class:`~trustsvc.ca.authority.CertificateAuthorityService`) and a seal of our
  registry (:class:`~trustsvc.seal.registry.SealRegistry`). It returns None for anything else.
* :class:`RemoteStatusResolver` asks other issuers over HTTP: OCSP first, then the CRL (URLs from the trust
  store, else the certificate's own AIA / CRL distribution points), and the seal-status URL of the trust
  store (a ``trustsvc-signed-json/1`` answer, :func:`trustsvc.seal.status.verify_status_answer`). Every
  answer is signature-checked against the issuer; answers are cached for :attr:`cache_seconds` (never past
  an OCSP/CRL nextUpdate). Whatever goes wrong (timeout, refused, garbage, bad signature) raises
  :class:`StatusUnavailable`, which the engine reports as INDETERMINATE / TRY_LATER — never a crash.
  A fetcher raises its subclass :class:`AnswerNotFound` for an HTTP 404/410: a status service that does not
  know what it was asked about (the licence check reports it as "not issued").
  :meth:`RemoteStatusResolver.embedded_certificate_status` reads the OCSP responses and CRLs a document
  carries (:class:`EmbeddedRevocation`) with the same checkers (:func:`_read_ocsp`, :func:`_read_crl`); only
  the freshness rule differs (current at the signing time, not now).

:class:`HttpFetcher` is the one place that touches the network: http/https only, a timeout, a size limit.
Tests and the two-province test pass their own fetcher.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from urllib.parse import urlsplit

from asn1crypto import crl, ocsp, pem, x509

from trustsvc.errors import NotFound, TrustsvcError, UpstreamUnavailable
from trustsvc.keys.algorithms import signature_algorithm_of
from trustsvc.keys.signer import verify as verify_signature
from trustsvc.keys.sm3 import sm3
from trustsvc.seal import ses
from trustsvc.seal.status import STATEMENT_TYPE, VerifiedStatus, verify_status_answer

if TYPE_CHECKING:
    from trustsvc.ca.authority import CertificateAuthorityService
    from trustsvc.seal.registry import SealRegistry

__all__ = [
    "AnswerNotFound",
    "CertificateStatusAnswer",
    "EmbeddedRevocation",
    "Fetcher",
    "HttpFetcher",
    "LocalStatusResolver",
    "RemoteStatusResolver",
    "SealStatusAnswer",
    "StatusResolver",
    "StatusUnavailable",
]

CertState = Literal["good", "revoked", "hold", "unknown"]
_CLOCK_SKEW: Final = timedelta(minutes=5)
_MAX_ANSWER: Final = 4 * 1024 * 1024


class StatusUnavailable(UpstreamUnavailable):
    """No usable status answer could be had (unreachable, refused, unverifiable): INDETERMINATE/TRY_LATER."""


class AnswerNotFound(StatusUnavailable):
    """The status service answered 404/410: it does not know the object asked about."""


@dataclass(frozen=True)
class CertificateStatusAnswer:
    """The status of one certificate: ``state``, since when (``revoked_at``, the earlier of revocation and
    invalidity date), the reason, and ``source`` (``database`` or ``ocsp:<url>`` / ``crl:<url>``)."""

    state: CertState
    source: str
    revoked_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SealStatusAnswer:
    """The status of one seal: ``state`` (active|suspended|revoked|expired), ``since``, the SM3 (hex) of the
    current ``SESeal`` and of earlier versions with when each was superseded, and ``source``."""

    state: str
    since: datetime
    seal_sm3: str
    superseded: tuple[tuple[str, datetime], ...]
    source: str

    def covers(self, seal_der: bytes, at: datetime) -> bool:
        """Return whether the seal bytes ``seal_der`` were the seal's current version at ``at``."""
        digest = sm3(seal_der).hex()
        if digest == self.seal_sm3:
            return True
        return any(digest == old and at < superseded_at for old, superseded_at in self.superseded)


@dataclass(frozen=True)
class EmbeddedRevocation:
    """The OCSP responses and CRLs (DER) a document carries for its signatures (PDF: the DSS and the
    adbe-revocationInfoArchival attribute of B-LT seals)."""

    ocsps: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ocsps or self.crls)


class StatusResolver(Protocol):
    """Answers for what this service issued; None for anything else (then the engine asks the issuer)."""

    def certificate_status(
        self, certificate: x509.Certificate, issuer: x509.Certificate
    ) -> CertificateStatusAnswer | None: ...

    def seal_status(self, seal: ses.Seal) -> SealStatusAnswer | None: ...


class Fetcher(Protocol):
    """GET (``body`` None) or POST ``body`` to ``url``; return the answer or raise StatusUnavailable
    (AnswerNotFound for an HTTP 404/410)."""

    def __call__(self, url: str, body: bytes | None = None, content_type: str | None = None) -> bytes: ...


# ==========================================================================================================
# Our own database
# ==========================================================================================================


class LocalStatusResolver:
    """Status of our own certificates and seals, read from the database (no signature needed: it is ours)."""

    def __init__(self, ca: CertificateAuthorityService, seals: SealRegistry | None) -> None:
        self._ca = ca
        self._seals = seals

    def certificate_status(
        self, certificate: x509.Certificate, issuer: x509.Certificate
    ) -> CertificateStatusAnswer | None:
        issuer_der = issuer.dump()
        ca = next((c for c in self._ca.cas() if c.certificate_der == issuer_der), None)
        if ca is None:
            return None
        try:
            row = self._ca.get(ca.name, certificate.serial_number)
        except NotFound:
            return CertificateStatusAnswer("unknown", "database")
        if row.der != certificate.dump():
            return CertificateStatusAnswer("unknown", "database")
        if row.status == "good":
            return CertificateStatusAnswer("good", "database")
        moments = [m for m in (row.revoked_at, row.invalidity_date) if m is not None]
        state: CertState = "hold" if row.status == "hold" else "revoked"
        return CertificateStatusAnswer(state, "database", min(moments) if moments else None, row.reason)

    def seal_status(self, seal: ses.Seal) -> SealStatusAnswer | None:
        if self._seals is None:
            return None
        try:
            status = self._seals.status(seal.es_id)
        except (NotFound, TrustsvcError):
            return None
        answer = SealStatusAnswer(
            state=status.status.value,
            since=status.since,
            seal_sm3=status.seal_sm3,
            superseded=tuple((v.seal_sm3, v.superseded_at) for v in status.superseded),
            source="registry",
        )
        digest = sm3(seal.der).hex()
        if digest != answer.seal_sm3 and all(digest != old for old, _ in answer.superseded):
            return None  # an esID we also use, but not our seal
        return answer


# ==========================================================================================================
# Other issuers, over HTTP
# ==========================================================================================================


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow at most a few redirects, and only to http(s) URLs."""

    max_redirections = 3

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.URLError(f"redirect to a non-HTTP URL refused: {newurl[:100]}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class HttpFetcher:
    """Fetches status answers over http(s) with a time limit and a size limit; failures are StatusUnavailable.

    ``timeout`` (seconds) bounds the whole fetch — connection, redirects and body — not only each socket
    operation; ``max_bytes`` bounds the answer. Any host is allowed, loopback included (two instances on
    one machine talk that way); only http and https, on the first URL and on every redirect.
    ``TrustService.fetcher`` builds one from ``TRUSTSVC_FETCH_TIMEOUT`` / ``TRUSTSVC_FETCH_MAX_BYTES``.
    """

    def __init__(self, *, timeout: float = 10.0, max_bytes: int = _MAX_ANSWER) -> None:
        if timeout <= 0 or max_bytes <= 0:
            raise ValueError("timeout and max_bytes must be positive")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._opener = urllib.request.build_opener(_HttpOnlyRedirects())

    def __call__(self, url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        if urlsplit(url).scheme not in ("http", "https"):
            raise StatusUnavailable(f"not an http(s) URL: {url[:200]}")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above and on every redirect
            url, data=body, method="GET" if body is None else "POST"
        )
        if content_type:
            request.add_header("Content-Type", content_type)
        request.add_header("User-Agent", "trustsvc-verify")
        deadline = time.monotonic() + self.timeout
        chunks: list[bytes] = []
        size = 0
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                if response.status != 200:
                    raise StatusUnavailable(f"{url[:200]}: HTTP {response.status}")
                while chunk := response.read1(64 * 1024):  # what has arrived: the deadline holds
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise StatusUnavailable(f"{url[:200]}: answer larger than {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise StatusUnavailable(f"{url[:200]}: no complete answer within {self.timeout:g} s")
                    chunks.append(chunk)
        except StatusUnavailable:
            raise
        except urllib.error.HTTPError as exc:
            failure = AnswerNotFound if exc.code in (404, 410) else StatusUnavailable
            raise failure(f"{url[:200]}: HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise StatusUnavailable(f"{url[:200]}: {exc.reason}") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise StatusUnavailable(f"{url[:200]}: {type(exc).__name__}: {exc}") from None
        return b"".join(chunks)


class RemoteStatusResolver:
    """OCSP / CRL / seal-status answers of other issuers, verified and cached (see the module docstring)."""

    def __init__(
        self,
        fetcher: Fetcher,
        clock: Callable[[], datetime],
        *,
        cache_seconds: float = 300.0,
    ) -> None:
        self._fetch = fetcher
        self._clock = clock
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, ...], tuple[float, object]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, ...], make: Callable[[], tuple[object, datetime | None]]) -> object:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value, not_after = make()
        expires = now + self.cache_seconds
        if not_after is not None:
            expires = min(expires, now + max(0.0, (not_after - self._clock()).total_seconds()))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (expires, value)
        return value

    # --- certificates -------------------------------------------------------------------------------

    def certificate_status(
        self,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        *,
        ocsp_urls: tuple[str, ...] = (),
        crl_urls: tuple[str, ...] = (),
    ) -> CertificateStatusAnswer:
        """Return the status of ``certificate`` from OCSP (then CRL); StatusUnavailable when none answers."""
        ocsp_urls = ocsp_urls or tuple(certificate.ocsp_urls)
        crl_urls = crl_urls or tuple(
            url for url in (_dp_urls(certificate)) if urlsplit(url).scheme in ("http", "https")
        )
        problems: list[str] = []
        for url in ocsp_urls:
            try:
                answer = self._cached(
                    ("ocsp", url, issuer.sha256.hex(), str(certificate.serial_number)),
                    lambda url=url: self._ask_ocsp(url, certificate, issuer),  # type: ignore[misc]
                )
                assert isinstance(answer, CertificateStatusAnswer)
                if answer.state != "unknown":
                    return answer
                problems.append(f"OCSP {url}: unknown")
            except StatusUnavailable as exc:
                problems.append(f"OCSP {exc.detail}")
        for url in crl_urls:
            try:
                revoked = self._cached(
                    ("crl", url, issuer.sha256.hex()),
                    lambda url=url: self._fetch_crl(url, issuer),  # type: ignore[misc]
                )
                assert isinstance(revoked, dict)
                entry = revoked.get(certificate.serial_number)
                if entry is None:
                    return CertificateStatusAnswer("good", f"crl:{url}")
                moment, reason = entry
                state: CertState = "hold" if reason == "certificate_hold" else "revoked"
                return CertificateStatusAnswer(state, f"crl:{url}", moment, reason)
            except StatusUnavailable as exc:
                problems.append(f"CRL {exc.detail}")
        if not problems:
            raise StatusUnavailable("no OCSP or CRL location is known for the certificate")
        raise StatusUnavailable("; ".join(problems))

    def _ask_ocsp(
        self, url: str, certificate: x509.Certificate, issuer: x509.Certificate
    ) -> tuple[CertificateStatusAnswer, datetime | None]:
        cert_id = ocsp.CertId(
            {
                "hash_algorithm": {"algorithm": "sha1"},
                "issuer_name_hash": hashlib.sha1(issuer.subject.dump()).digest(),  # noqa: S324 - RFC 6960 CertID
                "issuer_key_hash": hashlib.sha1(issuer.public_key["public_key"].contents[1:]).digest(),  # noqa: S324
                "serial_number": certificate.serial_number,
            }
        )
        request = ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}})
        data = self._fetch(url, request.dump(), "application/ocsp-request")
        answer, this_update, next_update = _read_ocsp(data, f"ocsp:{url}", certificate, issuer)
        now = self._clock()
        if this_update > now + _CLOCK_SKEW or (next_update is not None and next_update < now - _CLOCK_SKEW):
            raise StatusUnavailable(f"{url}: the OCSP answer is not current")
        return answer, next_update

    def _fetch_crl(
        self, url: str, issuer: x509.Certificate
    ) -> tuple[dict[int, tuple[datetime, str | None]], datetime | None]:
        revoked, _, next_update = _read_crl(self._fetch(url), url, issuer)
        if next_update is not None and next_update < self._clock() - _CLOCK_SKEW:
            raise StatusUnavailable(f"{url}: the CRL is past its nextUpdate")
        return revoked, next_update

    # --- revocation data a document carries ---------------------------------------------------------

    def embedded_certificate_status(
        self,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        embedded: EmbeddedRevocation,
        at: datetime,
    ) -> CertificateStatusAnswer:
        """Return the status of ``certificate`` at ``at`` from the OCSP responses and CRLs a document carries.

        Each is verified as a fetched one is (:func:`_read_ocsp` / :func:`_read_crl`: the issuer's or its
        delegated responder's signature, the CertID); it counts when it was current at ``at`` or issued later
        (its nextUpdate, else its thisUpdate, not before ``at``) and is not from the future. A revoked or
        on-hold answer counts whenever it was issued: it proves the revocation it names. StatusUnavailable
        when none of them speaks for the certificate.
        """
        problems: list[str] = []
        found: list[CertificateStatusAnswer] = []
        for index, data in enumerate(embedded.ocsps):
            label = f"embedded OCSP response {index + 1}"
            try:
                answer, this_update, next_update = _read_ocsp(
                    data, "embedded:ocsp", certificate, issuer, where=label
                )
            except StatusUnavailable as exc:
                if "does not name the certificate" not in exc.detail:
                    problems.append(exc.detail)
                continue
            problem = self._embedded_fresh(answer, this_update, next_update, at)
            if problem is not None:
                problems.append(f"{label}: {problem}")
            elif answer.state != "unknown":
                found.append(answer)
        for index, data in enumerate(embedded.crls):
            label = f"embedded CRL {index + 1}"
            try:
                revoked, this_update, next_update = _read_crl(data, label, issuer)
            except StatusUnavailable as exc:
                if "is not the issuer's" not in exc.detail:
                    problems.append(exc.detail)
                continue
            entry = revoked.get(certificate.serial_number)
            if entry is None:
                answer = CertificateStatusAnswer("good", "embedded:crl")
            else:
                state: CertState = "hold" if entry[1] == "certificate_hold" else "revoked"
                answer = CertificateStatusAnswer(state, "embedded:crl", entry[0], entry[1])
            problem = self._embedded_fresh(answer, this_update, next_update, at)
            if problem is not None:
                problems.append(f"{label}: {problem}")
            else:
                found.append(answer)
        if found:
            # a proven revocation outweighs a "good" of another answer
            return min(found, key=lambda a: (a.state == "good", a.revoked_at or at))
        if not problems:
            raise StatusUnavailable("the document carries no revocation data for the certificate")
        raise StatusUnavailable("; ".join(problems))

    def _embedded_fresh(
        self,
        answer: CertificateStatusAnswer,
        this_update: datetime,
        next_update: datetime | None,
        at: datetime,
    ) -> str | None:
        """Return why embedded ``answer`` does not count for the time ``at`` (None: it counts)."""
        if this_update > self._clock() + _CLOCK_SKEW:
            return "issued in the future"
        if answer.state in ("revoked", "hold"):
            return None
        if (next_update or this_update) < at - _CLOCK_SKEW:
            return f"issued at {_iso(this_update)}, no longer current at the signing time {_iso(at)}"
        return None

    # --- seals --------------------------------------------------------------------------------------

    def seal_status(
        self,
        seal: ses.Seal,
        url: str,
        *,
        trusted_signer: Callable[[bytes, tuple[bytes, ...]], bool],
        required_purpose: str | None = None,
    ) -> SealStatusAnswer:
        """Return the status of ``seal`` from the signed answer at ``url``.

        ``trusted_signer(signer_der, certificates)`` decides whether the answer's signer may speak for the
        seal (the engine: the maker certificate itself, or a seal-maker certificate of the same CA that
        chains to the territory's anchors).
        """
        answer = self._cached(
            ("seal", url),
            lambda: self._ask_seal(url, seal, trusted_signer, required_purpose),
        )
        assert isinstance(answer, SealStatusAnswer)
        return answer

    def _ask_seal(
        self,
        url: str,
        seal: ses.Seal,
        trusted_signer: Callable[[bytes, tuple[bytes, ...]], bool],
        required_purpose: str | None,
    ) -> tuple[SealStatusAnswer, datetime | None]:
        verified = self._verified(url, trusted_signer, required_purpose, STATEMENT_TYPE, "the seal's maker")
        body = verified.statement
        try:
            if body["es_id"] != seal.es_id:
                raise StatusUnavailable(f"{url}: the answer is about another seal")
            answer = SealStatusAnswer(
                state=str(body["status"]),
                since=_parse_time(body["since"]),
                seal_sm3=str(body["seal"]["sm3"]),
                superseded=tuple(
                    (str(v["sm3"]), _parse_time(v["superseded_at"])) for v in body.get("superseded", [])
                ),
                source=f"seal-status:{url}",
            )
        except (KeyError, TypeError, ValueError):
            raise StatusUnavailable(f"{url}: the status statement is incomplete") from None
        return answer, None

    # --- other signed statements ----------------------------------------------------------------------

    def signed_answer(
        self,
        url: str,
        *,
        statement_type: str,
        trusted_signer: Callable[[bytes, tuple[bytes, ...]], bool],
        required_purpose: str | None = None,
        signer_name: str = "a signer the trust list allows",
    ) -> VerifiedStatus:
        """Return the verified statement of type ``statement_type`` at ``url`` (cached as seal statuses).

        The ``trustsvc-signed-json/1`` envelope is checked as a seal status answer is; ``trusted_signer``
        decides whether its signer may speak (``signer_name`` says who it should have been, in the error).
        StatusUnavailable (AnswerNotFound for a 404) when no verified answer can be had.
        """
        answer = self._cached(
            ("signed", statement_type, url),
            lambda: (
                self._verified(url, trusted_signer, required_purpose, statement_type, signer_name),
                None,
            ),
        )
        assert isinstance(answer, VerifiedStatus)
        return answer

    def _verified(
        self,
        url: str,
        trusted_signer: Callable[[bytes, tuple[bytes, ...]], bool],
        required_purpose: str | None,
        statement_type: str,
        signer_name: str,
    ) -> VerifiedStatus:
        data = self._fetch(url)
        try:
            verified = verify_status_answer(
                data, required_purpose=required_purpose, statement_type=statement_type
            )
        except TrustsvcError as exc:
            raise StatusUnavailable(f"{url}: {exc.detail}") from None
        if not trusted_signer(verified.signer_certificate, verified.certificates):
            raise StatusUnavailable(f"{url}: the status answer is not signed by {signer_name}")
        return verified


def _read_ocsp(
    data: bytes,
    source: str,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    *,
    where: str | None = None,
) -> tuple[CertificateStatusAnswer, datetime, datetime | None]:
    """Return (answer, thisUpdate, nextUpdate) of the OCSP response ``data`` about ``certificate``.

    The one OCSP checker: the response must be successful, signed by the issuer or a responder it delegated
    to (id-kp-OCSPSigning, issued by it), and name the certificate (serial, issuer name and key hash under
    the CertID's own hash algorithm). Freshness is the caller's: live and embedded answers differ there.
    """
    where = where or source.split(":", 1)[1]  # what the errors name: the URL, or the embedded response
    try:
        response = ocsp.OCSPResponse.load(data)
        if response["response_status"].native != "successful":
            raise StatusUnavailable(f"{where}: OCSP status {response['response_status'].native}")
        basic = response["response_bytes"]["response"].parsed
        tbs = basic["tbs_response_data"]
        signer = _ocsp_signer(basic, issuer)
        verify_signature(
            signer.public_key,
            signature_algorithm_of(basic["signature_algorithm"]),
            tbs.dump(),
            basic["signature"].native,
        )
        for single in tbs["responses"]:
            if not _names(single["cert_id"], certificate, issuer):
                continue
            this_update = single["this_update"].native
            next_update = single["next_update"].native
            status = single["cert_status"]
            if status.name == "good":
                return CertificateStatusAnswer("good", source), this_update, next_update
            if status.name == "revoked":
                info = status.chosen
                reason = info["revocation_reason"].native
                state: CertState = "hold" if reason == "certificate_hold" else "revoked"
                revoked = CertificateStatusAnswer(state, source, info["revocation_time"].native, reason)
                return revoked, this_update, next_update
            return CertificateStatusAnswer("unknown", source), this_update, next_update
    except StatusUnavailable as exc:
        if exc.detail.startswith(where):
            raise
        raise StatusUnavailable(f"{where}: {exc.detail}") from None
    except TrustsvcError as exc:
        raise StatusUnavailable(f"{where}: {exc.detail}") from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        raise StatusUnavailable(f"{where}: not an OCSP response") from None
    raise StatusUnavailable(f"{where}: the OCSP answer does not name the certificate")


def _names(cert_id: ocsp.CertId, certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Return whether ``cert_id`` names ``certificate`` of ``issuer`` (under the CertID's hash algorithm)."""
    if cert_id["serial_number"].native != certificate.serial_number:
        return False
    algorithm = cert_id["hash_algorithm"]["algorithm"].native

    def digest(data: bytes) -> bytes:
        return sm3(data) if algorithm == "sm3" else hashlib.new(algorithm, data).digest()

    try:
        return bool(
            cert_id["issuer_name_hash"].native == digest(issuer.subject.dump())
            and cert_id["issuer_key_hash"].native == digest(issuer.public_key["public_key"].contents[1:])
        )
    except ValueError:  # a hash algorithm hashlib does not know
        return False


def _read_crl(
    data: bytes, where: str, issuer: x509.Certificate
) -> tuple[dict[int, tuple[datetime, str | None]], datetime, datetime | None]:
    """Return (serial -> (revocation date, reason), thisUpdate, nextUpdate) of the CRL ``data`` of ``issuer``,
    its signature checked against the issuer's key (the one CRL checker; freshness is the caller's)."""
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        parsed = crl.CertificateList.load(data)
        tbs = parsed["tbs_cert_list"]
        if tbs["issuer"].dump() != issuer.subject.dump():
            raise StatusUnavailable(f"{where}: the CRL is not the issuer's")
        verify_signature(
            issuer.public_key,
            signature_algorithm_of(parsed["signature_algorithm"]),
            tbs.dump(),
            parsed["signature"].native,
        )
        revoked: dict[int, tuple[datetime, str | None]] = {}
        for item in tbs["revoked_certificates"]:
            reason = None
            for ext in item["crl_entry_extensions"]:
                if ext["extn_id"].native == "crl_reason":
                    reason = ext["extn_value"].native
            revoked[item["user_certificate"].native] = (item["revocation_date"].native, reason)
        return revoked, tbs["this_update"].native, tbs["next_update"].native
    except StatusUnavailable:
        raise
    except TrustsvcError as exc:
        raise StatusUnavailable(f"{where}: {exc.detail}") from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        raise StatusUnavailable(f"{where}: not a CRL") from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: object) -> datetime:
    return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _dp_urls(certificate: x509.Certificate) -> list[str]:
    urls = []
    for point in certificate.crl_distribution_points:
        name = point["distribution_point"]
        if name.name != "full_name":
            continue
        for general in name.chosen:
            if general.name == "uniform_resource_identifier":
                urls.append(general.native)
    return urls


def _ocsp_signer(basic: ocsp.BasicOCSPResponse, issuer: x509.Certificate) -> x509.Certificate:
    """Return the certificate that signed the OCSP response: the issuer, or a responder it delegated to."""
    responder_id = basic["tbs_response_data"]["responder_id"]
    candidates = [issuer] + [c for c in basic["certs"]] if basic["certs"].native else [issuer]

    def names(cert: x509.Certificate) -> bool:
        if responder_id.name == "by_name":
            return bool(cert.subject.dump() == responder_id.chosen.dump())
        key_hash = hashlib.sha1(cert.public_key["public_key"].contents[1:]).digest()  # noqa: S324
        return bool(key_hash == responder_id.chosen.native)

    for cert in candidates:
        if not names(cert):
            continue
        if cert.dump() == issuer.dump():
            return cert
        # a delegated responder: issued by the issuer, with id-kp-OCSPSigning
        if cert.issuer.dump() != issuer.subject.dump() or "ocsp_signing" not in (
            cert.extended_key_usage_value.native if cert.extended_key_usage_value else []
        ):
            continue
        verify_signature(
            issuer.public_key,
            signature_algorithm_of(cert["signature_algorithm"]),
            cert["tbs_certificate"].dump(),
            cert["signature_value"].native,
        )
        return cert
    raise StatusUnavailable("the OCSP response is signed neither by the issuer nor by its responder")
