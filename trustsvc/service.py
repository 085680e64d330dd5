"""TrustService: the one object that wires settings, database, key store, audit log and clock.

``TrustService.init(settings)`` prepares a home (directory, master key, person pseudonym key, database
schema) and is safe to run again; it is also how a deployment upgrades its schema. With ``pki=`` it also
makes the embedded PKI of each named key algorithm (``trustsvc init`` always asks for SM2, and for
ECDSA P-256 / RSA-3072 hierarchies with ``--algorithm``); what exists is kept. ``TrustService.from_settings``
only opens what is there: it refuses a database whose schema is not at this version's head, so app
processes never race each other running migrations at start-up.

The CA (``service.ca``), the CRL publisher (``service.crls``), the OCSP responders (``service.ocsp``) and
the time-stamp authorities (``service.tsa``) are built on first use, as is ``service.trust`` (our signed trust
list, imported lists of other territories and the trust store the verification engine asks). ``init`` with
``pki=`` also gives every issuing CA a trust-list signer certificate.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from trustsvc import db
from trustsvc.audit import AuditLog
from trustsvc.config import Settings, load_pseudonym_key, placeholder_warnings, redact_url
from trustsvc.errors import ConfigurationError

if TYPE_CHECKING:
    from trustsvc.ca.authority import CertificateAuthorityService
    from trustsvc.ca.crl import CrlPublisher
    from trustsvc.ca.status import OcspService
    from trustsvc.ca.timestamping import TimeStampService
    from trustsvc.keys.algorithms import KeyAlgorithm
    from trustsvc.keys.keystore import KeyStore
    from trustsvc.license.issuance import LicenceService, SealBox
    from trustsvc.license.types import LicenceTypeRegistry
    from trustsvc.seal.registry import SealRegistry
    from trustsvc.sealing import DocumentSealer
    from trustsvc.verify.engine import VerificationEngine, VerificationPolicy
    from trustsvc.verify.status import Fetcher
    from trustsvc.verify.trustlist import TrustListService

log = logging.getLogger("trustsvc.service")
_warned: set[str] = set()


@cache
def version() -> str:
    """Return the installed trustsvc version."""
    try:
        return metadata.version("trustsvc")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass
class InitReport:
    """What ``TrustService.init`` did: one line per thing it created or changed."""

    created: list[str] = field(default_factory=list)
    schema_from: str | None = None
    schema_to: str = ""
    pki: list[str] = field(default_factory=list)  # one line per CA and service certificate, made or found

    @property
    def changed(self) -> bool:
        return bool(self.created)


class TrustService:
    """The running service: ``settings``, ``engine``, ``session()``, ``keystore``, ``audit``, ``clock``.

    The domain services (``ca``, ``crls``, ``ocsp``, ``tsa``, ``seals``, ``trust``, ``sealer``, ``licences``,
    ``licence_types``, ``verifier``) are built on first use and kept (``cached_property``): a process that
    only verifies never opens the key store. Two threads racing on first use may each build one; they are
    stateless over the database, so the loser is simply dropped.
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: db.Clock = db.utc_now,
        keystore: KeyStore | None = None,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.audit = AuditLog(clock)
        self._sessions: sessionmaker[Session] = db.session_factory(engine)
        self._read_sessions: sessionmaker[Session] = db.session_factory(db.read_only(engine))
        self._keystore = keystore
        self._keystore_lock = threading.Lock()
        self._fetcher = fetcher

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: db.Clock = db.utc_now,
        keystore: KeyStore | None = None,
        fetcher: Fetcher | None = None,
    ) -> TrustService:
        """Return a service over an initialised home; ConfigurationError tells to run ``trustsvc init``."""
        _require_sqlite_file(settings.database_url)
        engine = db.make_engine(settings.database_url)
        try:
            db.require_current_schema(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise ConfigurationError(
                f"cannot open database {redact_url(settings.database_url)}: {_reason(exc)}"
            ) from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(settings, engine, clock=clock, keystore=keystore, fetcher=fetcher)

    @classmethod
    def init(
        cls,
        settings: Settings,
        *,
        pki: Sequence[KeyAlgorithm | str] = (),
        actor: str = "system:init",
        clock: db.Clock = db.utc_now,
    ) -> InitReport:
        """Return what was done to make ``settings.home`` ready: home, keys, schema and the ``pki`` asked for.

        ``pki`` names the key algorithms whose CA hierarchy must exist (``trustsvc init`` passes SM2 and
        any ``--algorithm``); its audit records carry ``actor``.
        """
        report = InitReport()
        home = settings.home
        if not home.exists():
            home.mkdir(parents=True, mode=0o700)
            home.chmod(0o700)
            report.created.append(f"home directory {home}")
        elif not home.is_dir():
            raise ConfigurationError(f"{home} is not a directory")

        if settings.keystore == "software":
            from trustsvc.keys.keystore import SoftwareKeyStore, load_master_key

            if not settings.master_key and not settings.master_key_file.exists():
                report.created.append(f"master key file {settings.master_key_file}")
            master_key = load_master_key(
                env_value=settings.master_key, path=settings.master_key_file, create=True
            )
            if not settings.keys_dir.exists():
                report.created.append(f"software key store {settings.keys_dir}")
            # Opening the store creates it and binds it to this master key (its key-check file).
            SoftwareKeyStore(settings.keys_dir, master_key)

        sqlite_file = _sqlite_path(settings.database_url)
        if sqlite_file is not None and not sqlite_file.exists():
            sqlite_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            report.created.append(f"database {sqlite_file}")
        engine = db.make_engine(settings.database_url)
        try:
            report.schema_from = db.current_revision(engine)
            db.upgrade(engine)
            report.schema_to = db.head_revision()
        except SQLAlchemyError as exc:
            raise ConfigurationError(
                f"cannot prepare database {redact_url(settings.database_url)}: {_reason(exc)}"
            ) from exc
        finally:
            engine.dispose()
        if report.schema_from != report.schema_to:
            report.created.append(f"database schema {report.schema_from or '(empty)'} -> {report.schema_to}")

        if settings.person_pseudonym_key is None and not settings.pseudonym_key_file.exists():
            load_pseudonym_key(settings, create=True)
            report.created.append(f"person pseudonym key file {settings.pseudonym_key_file}")

        if pki:
            service = cls.from_settings(settings, clock=clock)
            try:
                for algorithm in dict.fromkeys(pki):
                    made = service.ca.init_pki(algorithm, actor=actor)
                    report.created.extend(made.created)
                    report.pki.extend(made.hierarchy)
                signers_made, signers = service.trust.init_signers(actor=actor)
                report.created.extend(signers_made)
                report.pki.extend(signers)
            finally:
                service.close()
        return report

    def session(self, *, read_only: bool = False) -> Session:
        """Return a new session; ``read_only``: no write lock (SQLite), READ ONLY (PostgreSQL)."""
        return (self._read_sessions if read_only else self._sessions)()

    @property
    def keystore(self) -> KeyStore:
        """The key store, opened on first use (so work that needs no key never needs the HSM)."""
        if self._keystore is None:
            with self._keystore_lock:
                if self._keystore is None:
                    self._keystore = _open_keystore(self.settings, self.clock)
        return self._keystore

    @cached_property
    def ca(self) -> CertificateAuthorityService:
        """The certificate authority (issuance, revocation, status of every CA in the database)."""
        from trustsvc.ca.authority import CertificateAuthorityService

        return CertificateAuthorityService(
            self.session,
            lambda: self.keystore,
            self.audit,
            self.clock,
            self.settings,
            crls=self.crls,
            read_sessions=lambda: self.session(read_only=True),
        )

    @cached_property
    def crls(self) -> CrlPublisher:
        """The CRL publisher of every CA."""
        from trustsvc.ca.crl import CrlPublisher

        return CrlPublisher(
            self.session,
            lambda: self.keystore,
            self.audit,
            self.clock,
            self.settings,
            read_sessions=lambda: self.session(read_only=True),
        )

    @cached_property
    def ocsp(self) -> OcspService:
        """The OCSP responders of every issuing CA, answering from pre-signed responses."""
        from trustsvc.ca.status import OcspService

        return OcspService(
            self.session,
            lambda: self.keystore,
            self.clock,
            self.settings,
            read_sessions=lambda: self.session(read_only=True),
        )

    @cached_property
    def tsa(self) -> TimeStampService:
        """The time-stamp authorities (SM2 by default, one per hierarchy)."""
        from trustsvc.ca.timestamping import TimeStampService

        return TimeStampService(
            self.session,
            lambda: self.keystore,
            self.clock,
            self.settings,
            read_sessions=lambda: self.session(read_only=True),
        )

    @cached_property
    def seals(self) -> SealRegistry:
        """The seal registry (making seals, lifecycle, signers, grants, signed status answers)."""
        from trustsvc.seal.registry import SealRegistry

        return SealRegistry(
            self.session,
            lambda: self.keystore,
            self.ca,
            self.audit,
            self.clock,
            self.settings,
            read_sessions=lambda: self.session(read_only=True),
        )

    @cached_property
    def trust(self) -> TrustListService:
        """Trust lists: ours (signed, published), those imported from other territories, the trust store."""
        from trustsvc.verify.trustlist import Organisation, TrustListService

        def issuing_organisations() -> list[Organisation]:
            licences = self.licences.issuing_organisations()
            return [Organisation(name=name, uscc=uscc) for uscc, name in licences]

        return TrustListService(
            self.session,
            lambda: self.keystore,
            self.ca,
            self.audit,
            self.clock,
            self.settings,
            read_sessions=lambda: self.session(read_only=True),
            organisations=issuing_organisations,
        )

    @cached_property
    def sealer(self) -> DocumentSealer:
        """Document sealing (PDF, OFD) for authorised principals, time-stamped by our TSA, audited."""
        from trustsvc.sealing import DocumentSealer

        return DocumentSealer(
            seals=self.seals,
            ca=self.ca,
            ocsp=self.ocsp,
            crls=self.crls,
            tsa=self.tsa,
            sessions=self.session,
            audit=self.audit,
            clock=self.clock,
            settings=self.settings,
        )

    @cached_property
    def licences(self) -> LicenceService:
        """E-licences: issuance at case completion (rendered, sealed, stored), revocation, signed status."""
        from trustsvc.license.issuance import LicenceService

        return LicenceService(
            sessions=self.session,
            read_sessions=lambda: self.session(read_only=True),
            seals=self.seals,
            ca=self.ca,
            keystore=lambda: self.keystore,
            seal=self._seal_licence,
            audit=self.audit,
            clock=self.clock,
            settings=self.settings,
            catalog=self.licence_types.catalog,
        )

    @cached_property
    def licence_types(self) -> LicenceTypeRegistry:
        """Licence types: the shipped ones plus those an administrator added (database; never deleted)."""
        from trustsvc.license.types import LicenceTypeRegistry

        return LicenceTypeRegistry(
            sessions=self.session,
            read_sessions=lambda: self.session(read_only=True),
            audit=self.audit,
            clock=self.clock,
        )

    def _seal_licence(
        self, data: bytes, *, format: str, es_id: str, principal: str, box: SealBox, actor: str
    ) -> bytes:
        # license (layer 6) may not import sealing (layer 8): issuance seals through this adapter.
        from trustsvc.sealing import SealPlacement

        page, x, y, width, height = box
        return self.sealer.seal_document(
            data,
            es_id=es_id,
            principal=principal,
            placement=SealPlacement.box(page + 1, x, y, width, height),
            format=format,
            level="B-T",
            reason="电子证照签发",
            actor=actor,
        ).data

    @property
    def fetcher(self) -> Fetcher:
        """How the verification engine fetches other issuers' OCSP, CRL and seal-status answers: over HTTP,
        within ``settings.fetch_timeout`` seconds and ``settings.fetch_max_bytes`` (tests set their own;
        setting it drops the verifier built so far)."""
        if self._fetcher is None:
            from trustsvc.verify.status import HttpFetcher

            self._fetcher = HttpFetcher(
                timeout=float(self.settings.fetch_timeout), max_bytes=self.settings.fetch_max_bytes
            )
        return self._fetcher

    @fetcher.setter
    def fetcher(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self.__dict__.pop("verifier", None)  # rebuilt with the new fetcher on next use

    @cached_property
    def verifier(self) -> VerificationEngine:
        """The verification engine: our trust store (own CAs + imported lists), our database for the status of
        what we issued, HTTP (:attr:`fetcher`) for everybody else's."""
        from trustsvc.verify.engine import VerificationEngine
        from trustsvc.verify.status import LocalStatusResolver

        return VerificationEngine(
            lambda: self.trust.store(),
            LocalStatusResolver(self.ca, self.seals),
            self.clock,
            fetcher=self.fetcher,
            policy=self.verification_policy(),
            max_size=self.settings.max_content_length,
        )

    def verification_policy(self) -> VerificationPolicy:
        """The verification policy: status answers signed with the seal-making purpose, and the e-licence
        status check (``licence_status``), our licences answered from the database."""
        from trustsvc.verify.engine import VerificationPolicy
        from trustsvc.verify.licence import LicenceStatusCheck

        return VerificationPolicy(
            seal_making_oid=self.settings.seal_making_oid,
            extra_checks=(LicenceStatusCheck(lambda identifier: self.licences.status(identifier)),),
        )

    def warn_placeholders(self) -> list[str]:
        """Log (once per process) and return the placeholder settings still in use (CA OIDs, organisation)."""
        messages = placeholder_warnings(self.settings)
        for message in messages:
            if message not in _warned:
                _warned.add(message)
                log.warning("%s", message)
        return messages

    def database_ok(self) -> bool:
        """Return True when the database answers a trivial query."""
        try:
            with self.session(read_only=True) as session, session.begin():
                session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def _open_keystore(settings: Settings, clock: db.Clock) -> KeyStore:
    if settings.keystore == "pkcs11":
        from trustsvc.keys.keystore import Pkcs11KeyStore

        assert settings.pkcs11_module and settings.pkcs11_token and settings.pkcs11_pin  # Settings checks
        return Pkcs11KeyStore(settings.pkcs11_module, settings.pkcs11_token, settings.pkcs11_pin)
    from trustsvc.keys.keystore import SoftwareKeyStore, load_master_key

    master_key = load_master_key(env_value=settings.master_key, path=settings.master_key_file, create=False)
    return SoftwareKeyStore(settings.keys_dir, master_key, clock=clock)


def _sqlite_path(url: str) -> Path | None:
    u = db.normalize_url(url)
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return None
    return Path(os.path.expanduser(str(u.database)))


def _require_sqlite_file(url: str) -> None:
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        raise ConfigurationError(f"database {path} does not exist: run `trustsvc init`")


def _reason(exc: SQLAlchemyError) -> str:
    # The driver's own message, first line only: SQLAlchemy's text adds the statement and parameters.
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
