"""The ``trustsvc`` command: set up a home, serve the API, verify the audit log, manage keys and API keys.

Errors trustsvc raises on purpose end the command with one line on stderr, never a traceback: exit
code 2 for bad input, 1 for everything else. Every command that changes state writes an audit record
with the actor ``cli:<os user>``.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import click

from trustsvc.config import Settings
from trustsvc.errors import InvalidInput, TrustsvcError
from trustsvc.service import TrustService, version

KEY_ALGORITHMS = ("sm2", "ecdsa-p256", "rsa-3072")
PKI_ALGORITHMS = ("ecdsa-p256", "rsa-3072")
LEAF_PROFILES = ("seal-maker", "seal-signer", "person-signer", "ocsp-responder", "tsa", "tls-client")
REVOCATION_REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "privilegeWithdrawn",
    "aACompromise",
)


def cli_actor() -> str:
    """Return the audit actor of this command line user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


class _Context:
    """Settings and service for one invocation, built when a command first needs them."""

    def __init__(self, home: str | None) -> None:
        self._home = home
        self._settings: Settings | None = None
        self._service: TrustService | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            environ = dict(os.environ)
            if self._home:
                environ["TRUSTSVC_HOME"] = self._home
            self._settings = Settings.from_env(environ)
        return self._settings

    @property
    def service(self) -> TrustService:
        if self._service is None:
            self._service = TrustService.from_settings(self.settings)
        return self._service

    def close(self) -> None:
        if self._service is not None:
            self._service.close()

    def audit(self, action: str, subject: str, details: dict[str, Any]) -> None:
        """Write one audit record in its own transaction."""
        service = self.service
        with service.session() as session, session.begin():
            service.audit.append(session, actor=cli_actor(), action=action, subject=subject, details=details)


class _Group(click.Group):
    """A group that turns TrustsvcError into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrustsvcError as exc:
            click.echo(f"trustsvc: error: {exc.detail}", err=True)
            ctx.exit(2 if isinstance(exc, InvalidInput) else 1)


pass_ctx = click.make_pass_decorator(_Context)

#: ``--as PRINCIPAL``: the command line holds no grant of its own; it acts for a principal that holds one.
as_principal = click.option(
    "--as",
    "principal",
    required=True,
    help="Whose grant on the seal is used: API key name or prefix, apikey:<prefix>, user:<name>.",
)


@click.group(cls=_Group)
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    help="Service home directory (default: $TRUSTSVC_HOME or ./.trustsvc).",
)
@click.version_option(version(), prog_name="trustsvc")
@click.pass_context
def main(ctx: click.Context, home: str | None) -> None:
    """Provincial trust service for electronic seals and electronic licences."""
    ctx.obj = _Context(home)
    ctx.call_on_close(ctx.obj.close)


@main.command()
@click.option(
    "--algorithm",
    "algorithms",
    multiple=True,
    type=click.Choice(PKI_ALGORITHMS),
    help="Also make a CA hierarchy of this algorithm next to the SM2 one (repeatable).",
)
@pass_ctx
def init(obj: _Context, algorithms: tuple[str, ...]) -> None:
    """Create the home, keys, database schema and the embedded PKI (safe to run again; also upgrades).

    The PKI is an SM2 root CA, an SM2 issuing CA and the OCSP responder, TSA and seal-maker certificates
    it issues to the platform operator; --algorithm adds a parallel ECDSA P-256 or RSA-3072 hierarchy.
    """
    settings = obj.settings
    report = TrustService.init(settings, pki=("sm2", *algorithms), actor=cli_actor())
    for line in report.created:
        click.echo(f"created {line}")
    if report.changed:
        obj.audit("service.init", f"home:{settings.home}", {"created": report.created})
    else:
        click.echo(f"nothing to do: {settings.home} is ready (schema {report.schema_to})")
    if report.pki:
        click.echo("PKI:")
        for line in report.pki:
            click.echo(f"  {line}")
    from trustsvc.config import placeholder_warnings

    for message in placeholder_warnings(settings):
        click.echo(f"trustsvc: warning: {message}", err=True)


#: Threads per gunicorn worker: 1 is gunicorn's sync worker (one request per connection); above 1 the
#: gthread worker, which keeps HTTP/1.1 connections alive. Sync stays the default: on the OCSP bench gthread
#: measured no faster (docs/PERFORMANCE.md, OCSP), and it would run every route in threads.
SERVE_THREADS = 1
#: Seconds an idle kept-alive connection is held open (gunicorn's default).
SERVE_KEEPALIVE = 2


@main.command()
@click.option("--bind", default="127.0.0.1:8080", show_default=True, help="HOST:PORT to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Worker processes.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=SERVE_THREADS,
    show_default=True,
    help="Threads per worker (gunicorn gthread, HTTP keep-alive); 1 for sync workers.",
)
@click.option(
    "--dev", is_flag=True, help="Use the Flask development server (one process, never in production)."
)
@pass_ctx
def serve(obj: _Context, bind: str, workers: int, threads: int, dev: bool) -> None:
    """Serve the HTTP API (gunicorn)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
    )
    settings = obj.settings
    # Fail here, with a clear message, rather than in every worker.
    _ = obj.service.keystore
    obj.close()
    if dev:
        from trustsvc.api import create_app

        host, _, port = bind.rpartition(":")
        create_app(settings).run(host=host or "127.0.0.1", port=int(port), debug=False)
        return
    _run_gunicorn(settings, bind=bind, workers=workers, threads=threads)


#: gunicorn's default access log format with the path alone (``%(U)s``) for the request line's target
#: (``%(r)s`` carries the query string, and holder download links carry their capability token there).
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def _gunicorn_options(*, bind: str, workers: int, threads: int = SERVE_THREADS) -> dict[str, Any]:
    """The gunicorn settings ``trustsvc serve`` runs with (a function of its own so a test can read them)."""
    return {
        "bind": [bind],
        "workers": workers,
        "worker_class": "gthread" if threads > 1 else "sync",
        "threads": threads,
        "keepalive": SERVE_KEEPALIVE,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "proc_name": "trustsvc",
    }


def _run_gunicorn(settings: Settings, *, bind: str, workers: int, threads: int = SERVE_THREADS) -> None:
    from gunicorn.app.base import BaseApplication

    from trustsvc.api import create_app

    options = _gunicorn_options(bind=bind, workers=workers, threads=threads)

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            # Called in each worker after fork: every worker opens its own engine and key store.
            return create_app(settings)

    _App().run()


# --- audit ---------------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@pass_ctx
def audit_verify(obj: _Context) -> None:
    """Check the whole audit hash chain; exit 1 naming the first bad record."""
    service = obj.service
    with service.session(read_only=True) as session, session.begin():
        count = service.audit.verify(session)
    click.echo(f"audit chain OK: {count} records")


# --- keys ----------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Keys in the key store."""


@keys.command("list")
@pass_ctx
def keys_list(obj: _Context) -> None:
    """List the keys in the key store."""
    infos = obj.service.keystore.list()
    rows = [
        (i.key_id, str(i.algorithm), i.label, i.store, i.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        for i in sorted(infos, key=lambda i: (i.created_at, i.key_id))
    ]
    _table(("id", "algorithm", "label", "store", "created"), rows)


@keys.command("generate")
@click.option("--algorithm", type=click.Choice(KEY_ALGORITHMS), required=True)
@click.option("--label", default="", help="A name for people; not unique.")
@pass_ctx
def keys_generate(obj: _Context, algorithm: str, label: str) -> None:
    """Generate a key pair in the key store and print its id."""
    from trustsvc.keys.algorithms import KeyAlgorithm

    info = obj.service.keystore.generate(KeyAlgorithm(algorithm), label=label)
    obj.audit(
        "key.generate",
        f"key:{info.key_id}",
        {"algorithm": str(info.algorithm), "label": info.label, "store": info.store},
    )
    click.echo(info.key_id)


# --- API keys ------------------------------------------------------------------------------------


@main.group()
def apikey() -> None:
    """API keys of business systems and operators."""


@apikey.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role; repeat for several.")
@pass_ctx
def apikey_create(obj: _Context, name: str, roles: tuple[str, ...]) -> None:
    """Create an API key and print its token (shown this once only).

    NAME is the caller's identity: for a business system, the licences it issues, downloads, changes and
    revokes belong to this name. A second key with a name in use acts as the same system (key rotation:
    create the new key, switch, revoke the old one); the command says so when that happens.
    """
    from sqlalchemy import func, select

    from trustsvc.auth import ApiKey, create_api_key

    service = obj.service
    with service.session() as session, session.begin():
        same_name = session.execute(
            select(func.count(ApiKey.id)).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
        ).scalar_one()
        key, token = create_api_key(session, name, roles, now=service.clock())
        service.audit.append(
            session,
            actor=cli_actor(),
            action="apikey.create",
            subject=f"apikey:{key.prefix}",
            details={"name": key.name, "roles": key.roles},
        )
    click.echo(f"created API key {key.prefix} ({key.name}; roles: {', '.join(key.roles)})", err=True)
    if same_name:
        click.echo(
            f"note: {same_name} active key(s) already named {name!r}: this key acts as the same caller "
            "(the same business system: it sees, changes and revokes that system's licences)",
            err=True,
        )
    click.echo("the token is shown only now; store it safely:", err=True)
    click.echo(token)


@apikey.command("list")
@pass_ctx
def apikey_list(obj: _Context) -> None:
    """List API keys (never their tokens)."""
    from trustsvc.auth import list_api_keys

    with obj.service.session(read_only=True) as session, session.begin():
        rows = [
            (
                k.prefix,
                k.name,
                ",".join(k.roles),
                k.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                k.revoked_at.strftime("%Y-%m-%dT%H:%M:%SZ") if k.revoked_at else "",
            )
            for k in list_api_keys(session)
        ]
    _table(("prefix", "name", "roles", "created", "revoked"), rows)


@apikey.command("revoke")
@click.argument("prefix")
@pass_ctx
def apikey_revoke(obj: _Context, prefix: str) -> None:
    """Revoke the API key with PREFIX."""
    from trustsvc.auth import revoke_api_key

    service = obj.service
    with service.session() as session, session.begin():
        key = revoke_api_key(session, prefix, now=service.clock())
        service.audit.append(
            session, actor=cli_actor(), action="apikey.revoke", subject=f"apikey:{key.prefix}", details={}
        )
    click.echo(f"revoked API key {key.prefix} ({key.name})")


# --- certificate authority -----------------------------------------------------------------------


@main.group()
def ca() -> None:
    """The certificate authorities: issue, revoke, hold, release, CRLs, export."""


@ca.command("list")
@click.option("--ca", "ca_name", help="List the certificates this CA issued instead of the CAs.")
@click.option(
    "--status", type=click.Choice(("good", "revoked", "hold")), help="Only certificates in this status."
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@pass_ctx
def ca_list(obj: _Context, ca_name: str | None, status: str | None, limit: int) -> None:
    """List the CAs (and their service certificates), or with --ca the certificates one CA issued."""
    authority = obj.service.ca
    if ca_name is None:
        rows = []
        for info in authority.cas():
            rows.append(
                (
                    info.name,
                    str(info.role),
                    str(info.algorithm),
                    info.serial,
                    _day(info.not_after),
                    info.subject,
                )
            )
            if info.role == "issuing":
                from trustsvc.ca.models import ServiceRole
                from trustsvc.errors import NotFound

                for role in ServiceRole:
                    try:
                        cert = authority.service_certificate(role, info.name)
                    except NotFound:
                        continue
                    rows.append(
                        (f"  {role}", "service", cert.key_algorithm, cert.serial, _day(cert.not_after), "")
                    )
        _table(("name", "role", "algorithm", "serial", "not after", "subject"), rows)
        return
    certs = authority.list(ca_name, status=status, limit=limit)
    _table(
        ("serial", "status", "profile", "not after", "subject"),
        [(c.serial, c.status, c.profile, _day(c.not_after), c.subject) for c in certs],
    )


@ca.command("issue")
@click.option("--ca", "ca_name", required=True, help="Issuing CA, e.g. sm2-issuing.")
@click.option("--profile", type=click.Choice(LEAF_PROFILES), required=True)
@click.option("--csr", "csr_file", type=click.File("rb"), help="PKCS#10 request (PEM or DER).")
@click.option(
    "--generate-key",
    type=click.Choice(KEY_ALGORITHMS),
    help="Generate the key in the key store instead of taking a CSR.",
)
@click.option("--subject-cn", help="commonName (overrides the CSR's).")
@click.option("--subject-o", help="organizationName.")
@click.option("--subject-ou", help="organizationalUnitName.")
@click.option("--subject-uscc", help="Unified social credit code (organizationIdentifier NTRCN-...).")
@click.option("--subject-st", help="stateOrProvinceName.")
@click.option("--subject-l", help="localityName.")
@click.option("--citizen-id", help="Citizen ID of a person signer; only its keyed pseudonym is certified.")
@click.option("--out", "out", type=click.File("wb"), required=True, help="Where to write the certificate.")
@click.option("--der", is_flag=True, help="Write DER instead of PEM.")
@pass_ctx
def ca_issue(
    obj: _Context,
    ca_name: str,
    profile: str,
    csr_file: Any,
    generate_key: str | None,
    subject_cn: str | None,
    subject_o: str | None,
    subject_ou: str | None,
    subject_uscc: str | None,
    subject_st: str | None,
    subject_l: str | None,
    citizen_id: str | None,
    out: Any,
    der: bool,
) -> None:
    """Issue a certificate from a CSR or for a key generated in the key store; print its serial."""
    overrides = {
        "common_name": subject_cn,
        "organization": subject_o,
        "organizational_unit": subject_ou,
        "uscc": subject_uscc,
        "state": subject_st,
        "locality": subject_l,
        "citizen_id": citizen_id,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if (csr_file is None) == (generate_key is None):
        raise InvalidInput("give either --csr FILE or --generate-key ALGORITHM")
    authority = obj.service.ca
    if generate_key is not None:
        subject = authority.subject_info(overrides)
        issued, key_id = authority.issue_for_new_key(
            ca_name, profile, subject, generate_key, actor=cli_actor()
        )
        click.echo(f"key {key_id} generated in the key store", err=True)
    else:
        issued = authority.issue_from_csr(
            ca_name, csr_file.read(), profile, subject=overrides, actor=cli_actor()
        )
    out.write(issued.der if der else _pem(issued.der))
    click.echo(f"issued {profile} certificate {issued.serial} by {ca_name}: {issued.subject}", err=True)
    click.echo(issued.serial)


@ca.command("revoke")
@click.option("--ca", "ca_name", required=True, help="The CA that issued the certificate.")
@click.argument("serial")
@click.option(
    "--reason",
    type=click.Choice(REVOCATION_REASONS, case_sensitive=False),
    default="unspecified",
    show_default=True,
)
@click.option(
    "--invalidity-date", help="When the key is known or suspected to have been compromised (ISO 8601)."
)
@pass_ctx
def ca_revoke(obj: _Context, ca_name: str, serial: str, reason: str, invalidity_date: str | None) -> None:
    """Revoke the certificate SERIAL (hexadecimal); the CA's CRLs are re-made."""
    from datetime import datetime

    from trustsvc.ca.models import parse_serial

    when = None
    if invalidity_date:
        try:
            when = datetime.fromisoformat(invalidity_date.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("--invalidity-date must be an ISO 8601 date-time") from None
        if when.tzinfo is None:
            raise InvalidInput("--invalidity-date needs a time zone, e.g. 2026-01-02T03:04:05Z")
    issued = obj.service.ca.revoke(ca_name, parse_serial(serial), reason, when, actor=cli_actor())
    click.echo(f"{issued.serial}: {issued.status}")


@ca.command("hold")
@click.option("--ca", "ca_name", required=True, help="The CA that issued the certificate.")
@click.argument("serial")
@pass_ctx
def ca_hold(obj: _Context, ca_name: str, serial: str) -> None:
    """Put the certificate SERIAL on hold (certificateHold); the CA's CRLs are re-made."""
    from trustsvc.ca.models import parse_serial

    issued = obj.service.ca.hold(ca_name, parse_serial(serial), actor=cli_actor())
    click.echo(f"{issued.serial}: {issued.status}")


@ca.command("release")
@click.option("--ca", "ca_name", required=True, help="The CA that issued the certificate.")
@click.argument("serial")
@pass_ctx
def ca_release(obj: _Context, ca_name: str, serial: str) -> None:
    """Release the certificate SERIAL from hold (removeFromCRL in the next delta CRL)."""
    from trustsvc.ca.models import parse_serial

    issued = obj.service.ca.release(ca_name, parse_serial(serial), actor=cli_actor())
    click.echo(f"{issued.serial}: {issued.status}")


@ca.command("crl")
@click.option("--ca", "ca_name", help="Only this CA (required with --out); default every CA.")
@click.option("--delta", is_flag=True, help="The delta CRL instead of the complete one.")
@click.option("--refresh", is_flag=True, help="Make new CRLs now, whatever the stored ones' freshness.")
@click.option("--out", "out", type=click.File("wb"), help="Write the CRL (DER) here.")
@click.option("--pem", "as_pem", is_flag=True, help="Write PEM instead of DER.")
@pass_ctx
def ca_crl(obj: _Context, ca_name: str | None, delta: bool, refresh: bool, out: Any, as_pem: bool) -> None:
    """Show (and make, when stale or with --refresh) the current CRL of each CA."""
    service = obj.service
    if out is not None and ca_name is None:
        raise InvalidInput("--out needs --ca NAME")
    names = [ca_name] if ca_name else [info.name for info in service.ca.cas()]
    for name in names:
        if refresh:
            full, delta_crl = service.crls.refresh(name, actor=cli_actor())
            snapshot = delta_crl if delta else full
        else:
            snapshot = service.crls.current(name, delta=delta)
        click.echo(
            f"{name}: {'delta' if snapshot.is_delta else 'complete'} CRL {snapshot.crl_number}"
            + (f" (base {snapshot.base_number})" if snapshot.is_delta else "")
            + f", {snapshot.entries} entries, thisUpdate {snapshot.this_update:%Y-%m-%dT%H:%M:%SZ}, "
            f"nextUpdate {snapshot.next_update:%Y-%m-%dT%H:%M:%SZ}",
            err=out is not None,
        )
        if out is not None:
            out.write(_pem(snapshot.der, "X509 CRL") if as_pem else snapshot.der)


@ca.command("export")
@click.option("--ca", "ca_name", required=True, help="The CA whose certificate to write.")
@click.option("--out", "out", type=click.File("wb"), required=True)
@click.option("--pem", "as_pem", is_flag=True, help="Write PEM instead of DER.")
@pass_ctx
def ca_export(obj: _Context, ca_name: str, out: Any, as_pem: bool) -> None:
    """Write a CA certificate (DER, or PEM with --pem)."""
    der = obj.service.ca.ca(ca_name).certificate_der
    out.write(_pem(der) if as_pem else der)


@ca.command("ocsp-refresh")
@click.option("--ca", "ca_name", help="Only this issuing CA; default every CA with an OCSP responder.")
@click.option(
    "--hash",
    "hashes",
    multiple=True,
    type=click.Choice(("sha1", "sha256", "sha384", "sha512", "sm3")),
    help="CertID hash algorithm to pre-sign for (repeatable; default sha1, what RFC 5019 clients send).",
)
@click.option("--force", is_flag=True, help="Sign again even responses that are still fresh.")
@pass_ctx
def ca_ocsp_refresh(obj: _Context, ca_name: str | None, hashes: tuple[str, ...], force: bool) -> None:
    """Pre-sign the OCSP responses of every certificate of a CA (those stale or missing; all with --force)."""
    from tqdm import tqdm

    ocsp = obj.service.ocsp
    names = [ca_name] if ca_name else ocsp.served_cas()
    for name in names:
        with tqdm(desc=name, unit="cert", disable=None, file=sys.stderr) as bar:

            def progress(done: int, total: int, bar: Any = bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            report = ocsp.presign(name, hash_algorithms=hashes or ("sha1",), force=force, progress=progress)
        click.echo(
            f"{name}: {report.certificates} certificates, {report.signed} responses signed, "
            f"{report.fresh} still fresh"
        )


# --- time-stamps ---------------------------------------------------------------------------------


@main.group()
def tsa() -> None:
    """The time-stamp authorities (RFC 3161)."""


@tsa.command("stamp")
@click.argument("file", type=click.File("rb"))
@click.option("--out", "out", type=click.File("wb"), required=True, help="Where to write the TimeStampResp.")
@click.option("--hierarchy", type=click.Choice(("sm2", "ecdsa", "rsa")), default="sm2", show_default=True)
@click.option(
    "--hash",
    "hash_algorithm",
    type=click.Choice(("sm3", "sha256", "sha384", "sha512")),
    help="Message imprint hash (default sm3 for sm2, else sha256).",
)
@click.option("--query-out", type=click.File("wb"), help="Also write the TimeStampReq made.")
@pass_ctx
def tsa_stamp(
    obj: _Context, file: Any, out: Any, hierarchy: str, hash_algorithm: str | None, query_out: Any
) -> None:
    """Time-stamp FILE with our TSA, as a client would (nonce, certReq), and write the reply to --out."""
    from trustsvc.ca.timestamping import make_request

    algorithm = hash_algorithm or ("sm3" if hierarchy == "sm2" else "sha256")
    query = make_request(file.read(), hash_algorithm=algorithm)
    if query_out is not None:
        query_out.write(query)
    result = obj.service.tsa.respond(query, hierarchy=hierarchy)
    out.write(result.der)
    if not result.granted:
        click.echo(f"trustsvc: rejected: {result.fail_info}", err=True)
        sys.exit(1)
    assert result.serial is not None and result.gen_time is not None
    click.echo(f"granted: serial {result.serial:x}, time {result.gen_time:%Y-%m-%dT%H:%M:%S.%fZ}")


# --- electronic seals ----------------------------------------------------------------------------

SEAL_KINDS_HELP = (
    "Seal kind, by name or code: organisation (1), finance (2), invoice (3), contract (4), "
    "legal-representative (5), business (6)."
)


@main.group()
def seal() -> None:
    """Electronic seals (GB/T 38540): make, list, show, suspend, resume, revoke, grant, signer, status."""


@seal.command("create")
@click.option("--org", "org_uscc", required=True, help="Unified social credit code of the organisation.")
@click.option("--org-name", required=True, help="Name of the organisation.")
@click.option("--kind", required=True, help=SEAL_KINDS_HELP)
@click.option("--name", help="Seal name (default: organisation name + kind label).")
@click.option("--department", help="OU of the signer certificate issued for the seal.")
@click.option("--validity-days", type=click.IntRange(min=1), help="Default 3 years (capped by the maker).")
@click.option(
    "--cert-list-type",
    type=click.Choice(("1", "2")),
    default="1",
    show_default=True,
    help="1: list the signer certificates; 2: their SM3 digests.",
)
@click.option(
    "--signer-cert",
    type=click.File("rb"),
    help="Signer certificate to list (PEM or DER); default: issue one for a new SM2 key.",
)
@click.option(
    "--picture-name", help="Text on the seal (for a legal representative's seal: the person's name)."
)
@click.option("--picture-code", help="Seal code drawn along the lower rim (e.g. the 13-digit 印章编码).")
@click.option(
    "--grant",
    "grants",
    multiple=True,
    help="Who may apply the seal: API key name or prefix, apikey:<prefix>, user:<name>; repeatable.",
)
@pass_ctx
def seal_create(
    obj: _Context,
    org_uscc: str,
    org_name: str,
    kind: str,
    name: str | None,
    department: str | None,
    validity_days: int | None,
    cert_list_type: str,
    signer_cert: Any,
    picture_name: str | None,
    picture_code: str | None,
    grants: tuple[str, ...],
) -> None:
    """Make a seal and print its esID."""
    seals = obj.service.seals
    picture = {k: v for k, v in (("name", picture_name), ("code", picture_code)) if v}
    certificate = _der_certificate(signer_cert.read()) if signer_cert is not None else None
    made = seals.create_seal(
        org_uscc,
        org_name,
        kind,
        name,
        actor=cli_actor(),
        signer_cert=certificate,
        department=department,
        validity_days=validity_days,
        cert_list_type=int(cert_list_type),
        picture=picture,
        authorised=[seals.principal_for(g) for g in grants],
    )
    record = made.seal
    click.echo(
        f"made seal {record.es_id}: {record.name} ({record.kind.label}) of {record.org_name}, "
        f"valid until {record.valid_end:%Y-%m-%dT%H:%M:%SZ}",
        err=True,
    )
    click.echo(record.es_id)


@seal.command("list")
@click.option("--org", help="Only this organisation (unified social credit code).")
@click.option("--kind", help=SEAL_KINDS_HELP)
@click.option("--status", type=click.Choice(("active", "suspended", "revoked", "expired")))
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@pass_ctx
def seal_list(obj: _Context, org: str | None, kind: str | None, status: str | None, limit: int) -> None:
    """List seals, newest first."""
    seals = obj.service.seals.list(org=org, kind=kind, status=status, limit=limit)
    _table(
        ("esID", "status", "since", "kind", "valid until", "organisation", "name"),
        [
            (
                s.es_id,
                s.status.value,
                s.since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                s.kind.name.lower().replace("_", "-"),
                _day(s.valid_end),
                s.org_uscc,
                s.name,
            )
            for s in seals
        ],
    )


@seal.command("show")
@click.argument("es_id")
@click.option("--picture", "picture_out", type=click.File("wb"), help="Write the seal picture here.")
@click.option("--out", "seal_out", type=click.File("wb"), help="Write the SESeal (DER) here.")
@pass_ctx
def seal_show(obj: _Context, es_id: str, picture_out: Any, seal_out: Any) -> None:
    """Show a seal: status, signers, grants, versions and history."""
    details = obj.service.seals.get(es_id)
    s = details.seal
    lines = [
        ("esID", s.es_id),
        ("name", s.name),
        ("kind", f"{int(s.kind)} {s.kind.name.lower().replace('_', '-')} ({s.kind.label})"),
        ("organisation", f"{s.org_name} ({s.org_uscc})"),
        (
            "status",
            f"{s.status.value} since {s.since:%Y-%m-%dT%H:%M:%SZ}" + (f": {s.reason}" if s.reason else ""),
        ),
        ("valid", f"{s.valid_start:%Y-%m-%dT%H:%M:%SZ} to {s.valid_end:%Y-%m-%dT%H:%M:%SZ}"),
        ("cert list type", str(s.cert_list_type)),
        ("version", f"{s.version} (SM3 {s.seal_sm3})"),
        ("picture", f"{details.picture_type}, {details.picture_width_mm}x{details.picture_height_mm} mm"),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<16}{value}")
    click.echo("signers:")
    for signer in details.signers:
        if signer.removed_at is None:
            where = "key in store" if signer.key_in_store else "external key"
            click.echo(f"  {signer.serial} until {_day(signer.not_after)}, {where}: {signer.subject}")
    click.echo("grants:")
    for grant in details.grants:
        if grant.revoked_at is None:
            click.echo(f"  {grant.principal} {grant.role.value}")
    click.echo("history:")
    for event in details.events:
        change = f"{event.from_status or '-'} -> {event.to_status}"
        click.echo(
            f"  {event.at:%Y-%m-%dT%H:%M:%SZ} {change} by {event.actor}"
            + (f": {event.reason}" if event.reason else "")
        )
    if picture_out is not None:
        picture_out.write(details.picture_data)
    if seal_out is not None:
        seal_out.write(s.seal_der)


@seal.command("suspend")
@click.argument("es_id")
@click.option("--reason", required=True)
@pass_ctx
def seal_suspend(obj: _Context, es_id: str, reason: str) -> None:
    """Suspend a seal: it cannot be applied until resumed."""
    record = obj.service.seals.suspend(es_id, reason, actor=cli_actor()).seal
    click.echo(f"{record.es_id}: {record.status.value} since {record.since:%Y-%m-%dT%H:%M:%SZ}")


@seal.command("resume")
@click.argument("es_id")
@click.option("--reason")
@pass_ctx
def seal_resume(obj: _Context, es_id: str, reason: str | None) -> None:
    """Resume a suspended seal."""
    record = obj.service.seals.resume(es_id, reason, actor=cli_actor()).seal
    click.echo(f"{record.es_id}: {record.status.value} since {record.since:%Y-%m-%dT%H:%M:%SZ}")


@seal.command("revoke")
@click.argument("es_id")
@click.option("--reason", required=True)
@pass_ctx
def seal_revoke(obj: _Context, es_id: str, reason: str) -> None:
    """Revoke a seal (final)."""
    record = obj.service.seals.revoke(es_id, reason, actor=cli_actor()).seal
    click.echo(f"{record.es_id}: {record.status.value} since {record.since:%Y-%m-%dT%H:%M:%SZ}")


@seal.command("grant")
@click.argument("es_id")
@click.argument("principal")
@click.option("--role", type=click.Choice(("sign", "view")), default="sign", show_default=True)
@click.option("--revoke", "withdraw", is_flag=True, help="Withdraw the grant instead.")
@pass_ctx
def seal_grant(obj: _Context, es_id: str, principal: str, role: str, withdraw: bool) -> None:
    """Allow PRINCIPAL (API key name or prefix, apikey:<prefix>, user:<name>) to use a seal."""
    seals = obj.service.seals
    who = seals.principal_for(principal)
    if withdraw:
        seals.revoke_grant(es_id, who, role, actor=cli_actor())
        click.echo(f"{es_id}: {who} no longer holds {role}")
    else:
        seals.grant(es_id, who, role, actor=cli_actor())
        click.echo(f"{es_id}: {who} holds {role}")


@seal.group("signer")
def seal_signer() -> None:
    """The signer certificates a seal lists; a change re-makes the seal (same esID, next version)."""


@seal_signer.command("list")
@click.argument("es_id")
@click.option("--all", "show_all", is_flag=True, help="Also list removed signers.")
@pass_ctx
def seal_signer_list(obj: _Context, es_id: str, show_all: bool) -> None:
    """List the signer certificates of a seal (the SM3 names a signer for `seal signer remove`)."""
    details = obj.service.seals.get(es_id)
    _table(
        ("cert SM3", "serial", "until", "key", "issuer", "added", "removed", "subject"),
        [
            (
                signer.cert_sm3,
                signer.serial,
                _day(signer.not_after),
                "in-store" if signer.key_in_store else "external",
                "ours" if signer.issued_by_us else "other",
                f"{signer.added_at:%Y-%m-%dT%H:%M:%SZ}",
                "-" if signer.removed_at is None else f"{signer.removed_at:%Y-%m-%dT%H:%M:%SZ}",
                signer.subject,
            )
            for signer in details.signers
            if show_all or signer.removed_at is None
        ],
    )


@seal_signer.command("add")
@click.argument("es_id")
@click.option(
    "--cert",
    "cert_file",
    type=click.File("rb"),
    help="Signer certificate to list (PEM or DER); default: issue a seal-signer one for a new SM2 key.",
)
@click.option("--department", help="OU of the signer certificate issued when --cert is not given.")
@pass_ctx
def seal_signer_add(obj: _Context, es_id: str, cert_file: Any, department: str | None) -> None:
    """Add a signer to a seal; prints the new signer's certificate SM3."""
    if cert_file is not None and department is not None:
        raise InvalidInput("--department applies only to a certificate issued now, not with --cert")
    seals = obj.service.seals
    before = {s.cert_sm3 for s in seals.get(es_id).signers if s.removed_at is None}
    certificate = _der_certificate(cert_file.read()) if cert_file is not None else None
    details = seals.add_signer(es_id, actor=cli_actor(), signer_cert=certificate, department=department)
    added = [s for s in details.signers if s.removed_at is None and s.cert_sm3 not in before]
    for signer in added:
        click.echo(
            f"{es_id}: version {details.seal.version}, added signer {signer.serial}: {signer.subject}",
            err=True,
        )
        click.echo(signer.cert_sm3)


@seal_signer.command("remove")
@click.argument("es_id")
@click.option("--cert-sm3", help="SM3 (hex) of the signer's certificate, as `seal signer list` shows it.")
@click.option(
    "--cert", "cert_file", type=click.File("rb"), help="Or the signer certificate itself (PEM/DER)."
)
@click.option("--revoke-certificate", is_flag=True, help="Also revoke the certificate if our CA issued it.")
@pass_ctx
def seal_signer_remove(
    obj: _Context, es_id: str, cert_sm3: str | None, cert_file: Any, revoke_certificate: bool
) -> None:
    """Remove a signer from a seal (not the last one: revoke the seal instead)."""
    if (cert_sm3 is None) == (cert_file is None):
        raise InvalidInput("name the signer with exactly one of --cert-sm3 or --cert")
    if cert_file is not None:
        from trustsvc.keys.sm3 import sm3

        cert_sm3 = sm3(_der_certificate(cert_file.read())).hex()
    assert cert_sm3 is not None
    details = obj.service.seals.remove_signer(
        es_id, cert_sm3, actor=cli_actor(), revoke_certificate=revoke_certificate
    )
    remaining = sum(1 for s in details.signers if s.removed_at is None)
    click.echo(f"{es_id}: version {details.seal.version}, {remaining} signer(s) left")


@seal.command("status")
@click.argument("es_id")
@click.option("--json", "as_json", is_flag=True, help="Print the signed status answer (JSON) as served.")
@click.option("--nonce", help="Ask for a fresh answer carrying this nonce.")
@pass_ctx
def seal_status(obj: _Context, es_id: str, as_json: bool, nonce: str | None) -> None:
    """Print the status of a seal (from the signed answer anyone can fetch over HTTP)."""
    from trustsvc.seal.status import verify_status_answer

    answer, _ = obj.service.seals.signed_status(es_id, nonce=nonce)
    if as_json:
        click.echo(answer.decode("utf-8"), nl=False)
        return
    statement = verify_status_answer(answer).statement
    click.echo(
        f"{statement['es_id']}: {statement['status']} since {statement['since']} "
        f"(valid {statement['valid_start']} to {statement['valid_end']}; "
        f"answer produced {statement['produced_at']})"
    )


# --- sealing documents ---------------------------------------------------------------------------


@main.command("sign")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--seal", "es_id", required=True, help="esID of the seal to apply.")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False), required=True, help="Where to write the sealed document."
)
@as_principal
@click.option("--page", type=click.IntRange(min=1), help="Page of the box, 1 for the first (default 1).")
@click.option("--x", "x", type=float, help="Left edge of the seal, mm from the left of the page.")
@click.option("--y", "y", type=float, help="Top edge of the seal, mm from the top of the page.")
@click.option("--width", type=float, help="Seal width in mm (default: the seal picture's).")
@click.option("--height", type=float, help="Seal height in mm (default: the seal picture's).")
@click.option("--keyword", help="Centre the seal on this text instead of --page/--x/--y.")
@click.option("--occurrence", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--across-pages", is_flag=True, help="OFD: a slice of the seal on every page's edge (骑缝章).")
@click.option("--level", type=click.Choice(("B-B", "B-T", "B-LT")), default="B-T", show_default=True)
@click.option("--format", "document_format", type=click.Choice(("pdf", "ofd")), help="Default: recognised.")
@click.option("--reason", help="PDF /Reason (recorded in the audit log).")
@click.option("--location", help="PDF /Location (recorded in the audit log).")
@pass_ctx
def sign(
    obj: _Context,
    file: str,
    es_id: str,
    out: str,
    principal: str,
    page: int | None,
    x: float | None,
    y: float | None,
    width: float | None,
    height: float | None,
    keyword: str | None,
    occurrence: int,
    across_pages: bool,
    level: str,
    document_format: str | None,
    reason: str | None,
    location: str | None,
) -> None:
    """Seal FILE (PDF or OFD) with a seal and write the sealed document to OUT.

    The operator acts for a principal that holds the seal's sign grant (--as): the command line holds no
    grant of its own, so it cannot be used to apply a seal nobody was authorised for. The audit record
    (seal.apply) names the operator (cli:<user>) as actor and the principal whose grant was used.
    """
    from trustsvc.errors import PayloadTooLarge
    from trustsvc.sealing import SealPlacement

    sealer = obj.service.sealer
    try:
        size = os.path.getsize(file)
        if size > sealer.max_size:
            raise PayloadTooLarge(f"{file} is {size} bytes; the limit is {sealer.max_size}")
        with open(file, "rb") as source:
            data = source.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror or exc}") from None
    placement = SealPlacement(
        page=page,
        x=x,
        y=y,
        width=width,
        height=height,
        keyword=keyword,
        occurrence=occurrence,
        across_pages=across_pages,
    )
    sealed = sealer.seal_document(
        data,
        es_id=es_id,
        principal=obj.service.seals.principal_for(principal),
        placement=placement,
        format=document_format,
        level=level,
        reason=reason,
        location=location,
        actor=cli_actor(),
    )
    temporary = f"{out}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as target:
            target.write(sealed.data)
        os.replace(temporary, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
    pages = ",".join(str(p) for p in sealed.pages)
    click.echo(
        f"sealed {file} with {sealed.es_id} ({sealed.format}, {sealed.level}, page {pages}, signer "
        f"{sealed.signer_serial}) -> {out}, SM3 {sealed.sm3}"
    )


# --- e-licences ----------------------------------------------------------------------------------


@main.group("license")
def license_group() -> None:
    """E-licences (电子证照): issue, change, revoke, status, export, bulk import, licence types."""


# (license issue / show / revoke / status / import commands go here)

LICENCE_FIELDS_MAX = 1024 * 1024  # bytes of the --fields JSON document


@license_group.command("issue")
@click.option("--type", "type_code", required=True, help="Licence type code (21 characters).")
@click.option("--case-id", required=True, help="The case's id in the business system (idempotency key).")
@click.option("--matter-code", required=True, help="Code of the government service matter (事项编码).")
@click.option(
    "--fields",
    "fields_source",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="JSON object of the type's fields: FILE.json, or - for standard input.",
)
@click.option("--holder-name", help="Holder name (default: the name the type's fields give).")
@click.option("--seal", "es_id", help="esID of the issuing seal (default: the one the principal may apply).")
@click.option("--system", required=True, help="The business system the case belongs to (its API key name).")
@as_principal
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where <identifier>.pdf and <identifier>.ofd are written.",
)
@pass_ctx
def license_issue(
    obj: _Context,
    type_code: str,
    case_id: str,
    matter_code: str,
    fields_source: str,
    holder_name: str | None,
    es_id: str | None,
    system: str,
    principal: str,
    out_dir: str,
) -> None:
    """Issue the licence of a completed case (办结出证) and write its sealed PDF and OFD.

    The same case again (same --system and --case-id, same content) gives the stored licence back: nothing
    is issued twice. As for ``trustsvc sign``, the operator acts for a principal holding the seal's grant.
    """
    fields = _read_json_object(fields_source, "fields", LICENCE_FIELDS_MAX)
    service = obj.service
    record, created = service.licences.issue(
        system,
        case_id,
        matter_code,
        type_code,
        {"name": holder_name} if holder_name is not None else None,
        fields,
        es_id,
        principal=service.seals.principal_for(principal),
        actor=cli_actor(),
    )
    pdf, ofd = _write_licence_files(record, out_dir)
    what = "issued" if created else "already issued (the stored licence)"
    click.echo(f"{what}: {record.type_name} for case {record.case_id} of {record.system}", err=True)
    click.echo(f"identifier: {record.identifier}")
    click.echo(f"status:     {service.licences.status_url(record.identifier)}")
    click.echo(f"pdf:        {pdf} (SM3 {record.pdf_sm3})")
    click.echo(f"ofd:        {ofd} (SM3 {record.ofd_sm3})")


@license_group.command("show")
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True, help="Print the licence as JSON (without the files).")
@click.option(
    "--holder-links",
    is_flag=True,
    help="Also print the holder's download links (capabilities: give them only to the holder).",
)
@pass_ctx
def license_show(obj: _Context, identifier: str, as_json: bool, holder_links: bool) -> None:
    """Show a licence: type, issuer, holder, case, status, validity, seal, fields and its files' SM3.

    --holder-links prints the holder's download links too, for an operator re-sending them to a holder who
    lost them; the links open the files without an account, so they are not shown by default.
    """
    import json

    from trustsvc.seal.status import iso

    licences = obj.service.licences
    record = licences.get(identifier)
    status = licences.status(record.identifier)
    body = _licence_summary(record, status, licences.status_url(record.identifier))
    if holder_links:
        body["holder_downloads"] = licences.holder_download_urls(record)
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    state = f"{status.status.value} since {iso(status.since)}"
    if status.revocation_kind is not None:
        state += f" ({status.revocation_kind.value}: {status.reason or '-'})"
    if status.superseded_by:
        state += f" by {status.superseded_by}"
    lines = [
        ("identifier", record.identifier),
        ("type", f"{record.type_name or '-'} ({record.type_code})"),
        ("issuer", f"{record.issuer_name} ({record.issuer_code})"),
        ("holder", f"{record.holder_name} ({record.holder_code}, code type {record.holder_code_type})"),
        ("case", f"{record.case_id} of {record.system}, matter {record.matter_code}"),
        ("version", str(record.version)),
        ("status", state),
        ("issued on", record.issued_on.isoformat()),
        ("valid", f"{record.valid_from.isoformat()} to {body['valid_to'] or '长期 (open-ended)'}"),
        ("seal", record.es_id),
        ("pdf", f"{len(record.pdf)} bytes, SM3 {record.pdf_sm3}"),
        ("ofd", f"{len(record.ofd)} bytes, SM3 {record.ofd_sm3}"),
        ("status URL", body["status_url"]),
        *((f"holder {fmt}", url) for fmt, url in body.get("holder_downloads", {}).items()),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<12}{value}")
    click.echo("fields:")
    for key, value in record.fields.items():
        click.echo(f"  {key}: {value}")


@license_group.command("revoke")
@click.argument("identifier")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(("注销", "吊销", "cancel", "revoke")),
    help="注销 (cancel: the holder gives it up) or 吊销 (revoke: a sanction).",
)
@click.option("--reason", required=True, help="Why (kept in the audit log; not published).")
@pass_ctx
def license_revoke(obj: _Context, identifier: str, kind: str, reason: str) -> None:
    """End a licence (注销 or 吊销); final, audited."""
    from trustsvc.seal.status import iso

    record = obj.service.licences.revoke(identifier, reason, kind=kind, actor=cli_actor())
    kind_text = record.revocation_kind.value if record.revocation_kind else kind
    click.echo(f"{record.identifier}: revoked ({kind_text}) since {iso(record.status_changed_at)}")


@license_group.command("rotate-holder-token")
@click.argument("identifier")
@pass_ctx
def license_rotate_holder_token(obj: _Context, identifier: str) -> None:
    """Give a licence version a new holder token (its old links stop working); print the new links.

    For a leaked link: hand the new links to the holder only. Audited (without the token).
    """
    licences = obj.service.licences
    record = licences.rotate_holder_token(identifier, system=None, actor=cli_actor())
    click.echo(f"{record.identifier}: new holder links (the old ones no longer work)", err=True)
    for fmt, url in licences.holder_download_urls(record).items():
        click.echo(f"holder {fmt}: {url}")


@license_group.command("status")
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True, help="Print the signed status answer (JSON) as served.")
@click.option("--nonce", help="Ask for a fresh answer carrying this nonce.")
@pass_ctx
def license_status(obj: _Context, identifier: str, as_json: bool, nonce: str | None) -> None:
    """Print the status of a licence (from the signed answer anyone can fetch over HTTP)."""
    from trustsvc.license.issuance import STATEMENT_TYPE
    from trustsvc.seal.status import verify_status_answer

    service = obj.service
    answer, _ = service.licences.signed_status(identifier, nonce=nonce)
    # Check what we hand out as a relying party would: signature, the maker's purpose, the statement type.
    statement = verify_status_answer(
        answer, required_purpose=service.settings.seal_making_oid, statement_type=STATEMENT_TYPE
    ).statement
    if as_json:
        click.echo(answer.decode("utf-8"), nl=False)
        return
    extra = ""
    if statement.get("revocation_kind"):
        extra += f" ({statement['revocation_kind']})"
    if statement.get("superseded_by"):
        extra += f" by {statement['superseded_by']}"
    click.echo(
        f"{statement['identifier']}: {statement['status']} since {statement['since']}{extra} "
        f"(valid {statement['valid_from']} to {statement['valid_to']}; issuer {statement['issuer_name']}; "
        f"answer produced {statement['produced_at']})"
    )


@license_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--csv", "bulk_format", flag_value="csv", help="FILE is CSV (default for *.csv).")
@click.option("--jsonl", "bulk_format", flag_value="jsonl", help="FILE is JSON Lines (default for *.jsonl).")
@click.option("--type", "type_code", required=True, help="Licence type code of every row.")
@click.option("--system", required=True, help="The business system the cases belong to (its API key name).")
@as_principal
@click.option("--seal", "es_id", help="esID of the issuing seal (default: the one the principal may apply).")
@click.option(
    "--out-dir", type=click.Path(file_okay=False), help="Also write each licence's PDF and OFD here."
)
@click.option(
    "--errors",
    "errors_file",
    type=click.Path(dir_okay=False),
    help="Write failed rows here (JSON lines) instead of to stderr.",
)
@pass_ctx
def license_import(
    obj: _Context,
    file: str,
    bulk_format: str | None,
    type_code: str,
    system: str,
    principal: str,
    es_id: str | None,
    out_dir: str | None,
    errors_file: str | None,
) -> None:
    """Issue one licence per row of FILE (CSV or JSON Lines): a backlog of completed cases.

    Each row is issued on its own, idempotent on its case id: run the same file again after an interruption
    and the rows done are reported "already issued". A bad row is reported (line, field, rule) and the others
    go on; exit status 1 when any row failed. See docs/LICENCES.md for the columns.
    """
    import json

    from tqdm import tqdm

    from trustsvc.errors import NotFound, PayloadTooLarge
    from trustsvc.license import bulk

    chosen = bulk.format_for(file, bulk_format)
    try:
        size = os.path.getsize(file)
        if size > bulk.MAX_FILE_BYTES:
            raise PayloadTooLarge(f"{file} is {size} bytes; the limit is {bulk.MAX_FILE_BYTES}: split it")
        with open(file, "rb") as source:
            data = source.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror or exc}") from None
    service = obj.service
    try:
        licence_type = service.licence_types.get(type_code).licence_type
    except NotFound as exc:
        raise InvalidInput(exc.detail, field="type_code", rule="unknown type") from None
    rows = bulk.parse_bulk(data, licence_type, format=chosen)
    who = service.seals.principal_for(principal)
    counts = dict.fromkeys(bulk.Outcome, 0)
    stopped: bulk.RowResult | None = None
    with contextlib.ExitStack() as stack:
        errors = stack.enter_context(open(errors_file, "w", encoding="utf-8")) if errors_file else None
        progress = stack.enter_context(
            tqdm(total=len(rows), desc="issuing licences", unit="licence", file=sys.stderr, disable=None)
        )
        results = bulk.issue_rows(
            service.licences,
            rows,
            system=system,
            type_code=licence_type.type_code,
            principal=who,
            actor=cli_actor(),
            es_id=es_id,
        )
        for result in results:
            counts[result.outcome] += 1
            progress.update(1)
            if result.record is not None:
                if out_dir is not None:
                    _write_licence_files(result.record, out_dir)
                progress.write(
                    f"line {result.line}: {result.outcome.value} {result.record.identifier} "
                    f"(case {result.case_id})",
                    file=sys.stdout,
                )
                continue
            line = json.dumps(result.error_json(), ensure_ascii=False)
            if errors is not None:
                errors.write(line + "\n")
            else:
                progress.write(line, file=sys.stderr)
            if result.stops:
                stopped = result
    summary = (
        f"{counts[bulk.Outcome.ISSUED]} issued, {counts[bulk.Outcome.ALREADY_ISSUED]} already issued, "
        f"{counts[bulk.Outcome.FAILED]} failed"
    )
    if stopped is not None:
        assert stopped.error is not None
        left = len(rows) - sum(counts.values())
        summary += f", {left} not attempted: stopped at line {stopped.line}: {stopped.error.detail}"
    click.echo(summary)
    if counts[bulk.Outcome.FAILED]:
        raise click.exceptions.Exit(1)


def _read_json_object(source: str, field: str, limit: int) -> dict[str, Any]:
    """Return the JSON object in file ``source`` (``-``: standard input); InvalidInput naming ``field``."""
    import json

    try:
        with click.open_file(source, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror or exc}", field=field) from None
    if len(data) > limit:
        raise InvalidInput(f"--{field}: more than {limit} bytes", field=field, rule="size limit")
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"--{field} is not UTF-8 JSON: {exc}", field=field, rule="json") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"--{field} must be a JSON object", field=field, rule="type")
    return value


def _write_licence_files(record: Any, out_dir: str) -> tuple[str, str]:
    """Write ``<identifier>.pdf`` and ``.ofd`` into ``out_dir`` (each atomically); return their paths."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    paths = []
    for fmt, data in (("pdf", record.pdf), ("ofd", record.ofd)):
        path = os.path.join(out_dir, f"{record.identifier}.{fmt}")
        _write_atomically(path, data)
        paths.append(path)
    return paths[0], paths[1]


def _write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never a half-written file."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as target:
            target.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None


def _licence_summary(record: Any, status: Any, status_url: str) -> dict[str, Any]:
    """Return what ``license show --json`` prints: the licence's metadata and status, never its files."""
    from trustsvc.seal.status import iso

    body: dict[str, Any] = {
        "identifier": record.identifier,
        "type_code": record.type_code,
        "type_name": record.type_name,
        "issuer": {"code": record.issuer_code, "name": record.issuer_name},
        "holder": {
            "name": record.holder_name,
            "code": record.holder_code,
            "code_type": record.holder_code_type,
        },
        "system": record.system,
        "case_id": record.case_id,
        "matter_code": record.matter_code,
        "version": record.version,
        "status": status.status.value,
        "since": iso(status.since),
        "issued_on": record.issued_on.isoformat(),
        "valid_from": record.valid_from.isoformat(),
        "valid_to": record.valid_to.isoformat() if record.valid_to is not None else None,
        "es_id": record.es_id,
        "status_url": status_url,
        "files": {
            "pdf": {"bytes": len(record.pdf), "sm3": record.pdf_sm3},
            "ofd": {"bytes": len(record.ofd), "sm3": record.ofd_sm3},
        },
        "fields": record.fields,
    }
    if status.revocation_kind is not None:
        body["revocation_kind"] = status.revocation_kind.value
        body["reason"] = status.reason
    if status.superseded_by is not None:
        body["superseded_by"] = status.superseded_by
    return body


@main.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when any licence exists (what `make run` uses).")
@click.option("--force", is_flag=True, help="Run even on a home with a real organisation (org_code) set.")
@pass_ctx
def demo_command(obj: _Context, if_empty: bool, force: bool) -> None:
    """Issue one demo licence of each licence type, with a demo seal and business system (idempotent).

    Needs `trustsvc init` first. Prints each licence's identifier, the holder's download links, its status
    URL and commands to verify it; the demo API key's token is printed once, when the key is made. Refused
    on a home with a real organisation configured (the demo organisation would enter the signed trust
    list) unless --force; with --if-empty it then does nothing.
    """
    from trustsvc.demo import run_demo

    report = run_demo(obj.service, actor=cli_actor(), if_empty=if_empty, force=force)
    for line in report.lines():
        click.echo(line)


# (license change / export commands go here)


@license_group.command("change")
@click.argument("identifier")
@click.option("--case-id", required=True, help="The change case's id in the business system (idempotency).")
@click.option("--matter-code", required=True, help="Code of the government service matter (事项编码).")
@click.option(
    "--fields",
    "fields_source",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="JSON object of the type's fields as they are now: FILE.json, or - for standard input.",
)
@click.option("--reason", required=True, help="Why the licence changes (变更原因); stored and audited.")
@click.option("--holder-name", help="Holder name (default: the name the type's fields give).")
@click.option("--seal", "es_id", help="esID of the issuing seal (default: the seal of the version changed).")
@click.option("--system", required=True, help="The business system that issued the licence (API key name).")
@as_principal
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where <identifier>.pdf and <identifier>.ofd of the new version are written.",
)
@pass_ctx
def license_change(
    obj: _Context,
    identifier: str,
    case_id: str,
    matter_code: str,
    fields_source: str,
    reason: str,
    holder_name: str | None,
    es_id: str | None,
    system: str,
    principal: str,
    out_dir: str,
) -> None:
    """Change licence IDENTIFIER (变更): issue its next version with new fields; the old one is superseded.

    Only the latest version of a licence that is not revoked can be changed, by the system that issued it;
    the holder stays the same. The same change case again gives the stored version back.
    """
    fields = _read_json_object(fields_source, "fields", LICENCE_FIELDS_MAX)
    service = obj.service
    record, created = service.licences.change(
        identifier,
        system,
        case_id,
        matter_code,
        fields,
        {"name": holder_name} if holder_name is not None else None,
        reason=reason,
        principal=service.seals.principal_for(principal),
        actor=cli_actor(),
        es_id=es_id,
    )
    pdf, ofd = _write_licence_files(record, out_dir)
    what = "changed" if created else "already changed (the stored version)"
    click.echo(f"{what}: {record.type_name} version {record.version} for case {record.case_id}", err=True)
    click.echo(f"identifier: {record.identifier}")
    click.echo(f"status:     {service.licences.status_url(record.identifier)}")
    click.echo(f"pdf:        {pdf} (SM3 {record.pdf_sm3})")
    click.echo(f"ofd:        {ofd} (SM3 {record.ofd_sm3})")
    for fmt, url in service.licences.holder_download_urls(record).items():
        click.echo(f"holder {fmt}: {url}")


@license_group.command("export")
@click.option(
    "--since",
    help="Only versions created, revoked, superseded or expired at or after this ISO date-time "
    "(use the next_since the previous export printed).",
)
@click.option("--type", "type_code", help="Only this licence type code.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="Where the JSON lines go (- is standard output).",
)
@pass_ctx
def license_export(obj: _Context, since: str | None, type_code: str | None, out: str) -> None:
    """Export every licence version's catalogue record (GB/T 36903 metadata and status) as JSON lines.

    One UTF-8 JSON object per line, in database order; streamed, so any number of licences fits. The last
    line is the trailer {"export_end": true, "count", "started_at", "next_since"}: without it the export was
    cut off. A file is written through a temporary file and renamed when complete, with a progress bar on
    stderr. stderr names the --since of the next incremental export (this one's start less a margin).
    """
    from trustsvc.license.issuance import export_line, parse_since
    from trustsvc.seal.status import iso

    records = obj.service.licences.export(actor=cli_actor(), since=parse_since(since), type_code=type_code)

    def lines() -> Iterator[str]:
        try:
            yield from (export_line(r) for r in records)
            yield export_line(records.trailer())
        finally:
            records.close()

    if out == "-":
        for line in lines():
            click.echo(line, nl=False)
    else:
        _write_lines_atomically(out, lines())
        click.echo(f"exported {records.count} licence versions to {out}", err=True)
    click.echo(f"next incremental export: --since {iso(records.next_since)}", err=True)


def _write_lines_atomically(path: str, lines: Iterator[str]) -> int:
    """Write ``lines`` (UTF-8) to ``path`` through a temporary file, with a progress bar; return the count."""
    from tqdm import tqdm

    temporary = f"{path}.{os.getpid()}.tmp"
    count = 0
    try:
        with (
            open(temporary, "w", encoding="utf-8") as target,
            tqdm(desc="export", unit="licence", disable=None, file=sys.stderr) as bar,
        ):
            for line in lines:
                target.write(line)
                count += 1
                bar.update()
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return count


# (license type commands go here)


@license_group.group("type")
def license_type() -> None:
    """Licence types: add one from its JSON definition, list them, show one (types are never deleted)."""


@license_type.command("add")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@pass_ctx
def license_type_add(obj: _Context, file: str) -> None:
    """Add the licence type defined by FILE (JSON as the shipped ones; - is stdin); print code and name."""
    from trustsvc.license.models import MAX_TYPE_DEFINITION

    try:
        with click.open_file(file, "rb") as stream:
            data = stream.read(MAX_TYPE_DEFINITION + 1)  # the registry refuses more; never read a huge file
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    licence_type = obj.service.licence_types.add(data, actor=cli_actor())
    click.echo(f"{licence_type.type_code} {licence_type.name}")


@license_type.command("list")
@pass_ctx
def license_type_list(obj: _Context) -> None:
    """List the licence types: shipped and added."""
    _table(
        ("code", "source", "holder", "name", "defining organisation"),
        [
            (
                e.type_code,
                e.source.value,
                e.licence_type.holder_kind.value,
                e.licence_type.name,
                e.licence_type.defining_organisation_name,
            )
            for e in obj.service.licence_types.list()
        ],
    )


@license_type.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print the definition (JSON) instead.")
@pass_ctx
def license_type_show(obj: _Context, code: str, as_json: bool) -> None:
    """Show licence type CODE: names, holder, fields, validity, seal kind, where it comes from."""
    entry = obj.service.licence_types.get(code)
    if as_json:
        click.echo(entry.definition)
        return
    t = entry.licence_type
    validity = t.validity.kind + (f" {t.validity.years} years" if t.validity.years else "")
    origin = entry.source.value
    if entry.created_at is not None:
        origin += f" by {entry.created_by} on {entry.created_at:%Y-%m-%dT%H:%M:%SZ}"
    for label, value in (
        ("code", t.type_code),
        ("name", f"{t.name} ({t.name_en})"),
        ("defined by", f"{t.defining_organisation_name} ({t.defining_organisation_uscc})"),
        ("holder", f"{t.holder_kind.value}, field {t.holder_field}"),
        ("validity", validity),
        ("seal kind", f"{int(t.seal_kind)} {t.seal_kind.name.lower().replace('_', '-')}"),
        ("source", origin),
        ("definition SM3", entry.definition_sm3),
    ):
        click.echo(f"{label + ':':<16}{value}")
    _table(
        ("field", "type", "required", "label"),
        [(f.key, f.type.value, "yes" if f.required else "no", f.label) for f in t.fields],
    )


@main.group()
def trust() -> None:
    """Trust lists: export ours; import, refresh and list those of other territories."""


@trust.command("export")
@click.option("--out", type=click.File("wb"), default="-", show_default=True, help="Where to write the list.")
@click.option(
    "--alg",
    "hierarchy",
    default="sm2",
    show_default=True,
    type=click.Choice(("sm2", "ecdsa", "rsa")),
    help="Which hierarchy's signer signs it.",
)
@click.option("--signer-out", type=click.File("wb"), help="Also write the signer certificate (PEM): the pin.")
@pass_ctx
def trust_export(obj: _Context, out: Any, hierarchy: str, signer_out: Any) -> None:
    """Write our signed trust list (re-signed first if it is due)."""
    publication = obj.service.trust.current(hierarchy, actor=cli_actor())
    out.write(publication.document)
    if signer_out is not None:
        signer_out.write(_pem(publication.signer_certificate))
    click.echo(
        f"trust list sequence {publication.sequence} ({hierarchy}), "
        f"issued {publication.issued_at:%Y-%m-%d %H:%M:%S}Z, "
        f"next update {publication.next_update:%Y-%m-%d %H:%M:%S}Z",
        err=True,
    )


@trust.command("import")
@click.option("--name", required=True, help="Local name of the list (lowercase letters, digits, . _ -).")
@click.argument("source")
@click.option(
    "--signer-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="Pin the signer to exactly this certificate (PEM or DER).",
)
@click.option(
    "--signer-spki-sha256", help="Pin the signer's key instead: sha256:<hex of its SubjectPublicKeyInfo>."
)
@pass_ctx
def trust_import(
    obj: _Context, name: str, source: str, signer_cert: str | None, signer_spki_sha256: str | None
) -> None:
    """Import another territory's trust list from SOURCE (a file, or an http(s) URL kept for refreshes)."""
    from pathlib import Path

    from trustsvc.verify.trustlist import Pin

    if (signer_cert is None) == (signer_spki_sha256 is None):
        raise InvalidInput("pin the signer with either --signer-cert or --signer-spki-sha256")
    if signer_cert is not None:
        pin = Pin.from_certificate(Path(signer_cert).read_bytes())
    else:
        assert signer_spki_sha256 is not None
        pin = Pin.from_spki_sha256(signer_spki_sha256)
    trust_lists = obj.service.trust
    if source.startswith(("http://", "https://")):
        result = trust_lists.import_url(name, source, pin=pin, actor=cli_actor())
    else:
        try:
            document = Path(source).read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {source}: {exc.strerror}") from None
        result = trust_lists.import_list(name, document, pin=pin, actor=cli_actor())
    listed = result.list
    click.echo(
        f"{result.outcome} {listed.name}: {listed.territory_name or listed.territory_code or '-'} "
        f"({listed.operator_name}), sequence {listed.sequence}, next update {_day(listed.next_update)}, "
        f"{listed.entries} entries"
    )


@trust.command("list")
@pass_ctx
def trust_list(obj: _Context) -> None:
    """List our published list and the imported ones with their status (fresh, stale, expired)."""
    trust_lists = obj.service.trust
    rows = []
    own = trust_lists.published()
    if own is not None:
        rows.append(
            (
                "(own)",
                obj.settings.region_name or obj.settings.region_code or "-",
                str(own.sequence),
                _day(own.issued_at),
                _day(own.next_update),
                "published",
                ", ".join(trust_lists.hierarchies()),
            )
        )
    for item in trust_lists.lists():
        rows.append(
            (
                item.name,
                item.territory_name or item.territory_code or "-",
                str(item.sequence),
                _day(item.issued_at),
                _day(item.next_update),
                str(item.status),
                item.source_url or "(file)",
            )
        )
    _table(("name", "territory", "sequence", "issued", "next update", "status", "source"), rows)


@trust.command("show")
@click.argument("name")
@pass_ctx
def trust_show(obj: _Context, name: str) -> None:
    """Show the entries of imported list NAME."""
    item = obj.service.trust.get(name)
    click.echo(
        f"{item.name}: {item.territory_name or item.territory_code or '-'} ({item.operator_name}), sequence "
        f"{item.sequence}, {item.status}, pin {item.pin.describe()}"
    )
    if item.last_error:
        click.echo(f"last refresh failed: {item.last_error}")
    _table(
        ("kind", "name", "organisation", "until", "sha256"),
        [
            (
                e.kind.value,
                e.name,
                e.organisation_uscc or "",
                _day(e.valid_until) if e.valid_until else "",
                (e.sha256 or "")[:16],
            )
            for e in obj.service.trust.entries(name)
        ],
    )


@trust.command("refresh")
@click.argument("name", required=False)
@pass_ctx
def trust_refresh(obj: _Context, name: str | None) -> None:
    """Fetch list NAME (default: every list imported from a URL) again; failures keep the stored list."""
    from tqdm import tqdm

    trust_lists = obj.service.trust
    names = [name] if name else [item.name for item in trust_lists.lists() if item.source_url]
    failed = 0
    progress = tqdm(
        names, desc="refreshing trust lists", unit="list", file=sys.stderr, disable=len(names) < 2 or None
    )
    for each in progress:
        try:
            result = trust_lists.refresh(each, actor=cli_actor())
        except TrustsvcError as exc:
            failed += 1
            progress.write(f"{each}: failed: {exc.detail}", file=sys.stderr)
            continue
        progress.write(
            f"{each}: {result.outcome}, sequence {result.list.sequence}, "
            f"next update {_day(result.list.next_update)}",
            file=sys.stdout,
        )
    if failed:
        raise click.exceptions.Exit(1)


@trust.command("remove")
@click.argument("name")
@pass_ctx
def trust_remove(obj: _Context, name: str) -> None:
    """Remove imported list NAME (to re-pin a new signer, remove, then import again)."""
    obj.service.trust.remove(name, actor=cli_actor())
    click.echo(f"removed {name}")


def _der_certificate(data: bytes) -> bytes:
    """Return the DER of a certificate file in PEM or DER (refused as the HTTP API refuses it)."""
    from asn1crypto import pem

    from trustsvc.errors import MalformedInput

    if pem.detect(data):
        try:
            kind, _, der = pem.unarmor(data)
        except (ValueError, UnicodeError):
            raise MalformedInput("the PEM certificate cannot be read") from None
        if kind != "CERTIFICATE":
            raise InvalidInput(f"expected a CERTIFICATE, not {kind}")
        return bytes(der)
    return data


def _pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    from asn1crypto import pem

    return bytes(pem.armor(label, der))


def _day(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%d"))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# --- verify --------------------------------------------------------------------------------------

_VERDICT_EXIT = {"VALID": 0, "INVALID": 1, "INDETERMINATE": 3}
_VERDICT_ZH = {"VALID": "有效", "INVALID": "无效", "INDETERMINATE": "无法确定"}


@main.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report (docs/VERIFY-REPORT.md).")
@click.option(
    "--trust-list", "trust_lists", multiple=True, help="A signed trust list (FILE or URL); repeatable."
)
@click.option(
    "--trust-list-pin",
    help="The trust lists' pinned signer: a certificate file (PEM/DER) or sha256:<SPKI hex>.",
)
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A certificate (PEM/DER) trusted for this verification, every purpose; repeatable.",
)
@click.option("--strict", is_flag=True, help="Refuse other vendors' known deviations instead of warning.")
@click.option(
    "--report",
    "report_kind",
    type=click.Choice(["html", "pdf", "json-signed"]),
    help="Write a report: human (HTML, PDF) or the JSON report signed by the service (needs a home).",
)
@click.option("--lang", type=click.Choice(["zh", "en", "zh-en"]), default="zh-en", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Where --report goes (default: stdout).")
@pass_ctx
def verify_command(
    obj: _Context,
    file: str,
    as_json: bool,
    trust_lists: tuple[str, ...],
    trust_list_pin: str | None,
    anchors: tuple[str, ...],
    strict: bool,
    report_kind: str | None,
    lang: str,
    out: str | None,
) -> None:
    """Verify the seals and signatures of FILE (PDF, OFD, or an SES_Signature).

    Exit status: 0 VALID, 1 INVALID, 3 INDETERMINATE, 2 usage or input error. Without an initialised home
    only --anchor and --trust-list are trusted.
    """
    import json
    from pathlib import Path

    from trustsvc.errors import ConfigurationError
    from trustsvc.verify.engine import VerificationEngine, quiet_validation_logs
    from trustsvc.verify.truststore import TrustStore, load_certificates

    # pyHanko logs what it could not validate (e.g. a time-stamp of an untrusted TSA) with a traceback; the
    # report already says so, as a warning or a check: keep the library's tracebacks off the terminal.
    quiet_validation_logs()

    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    anchor_certs = [c for path in anchors for c in load_certificates(Path(path).read_bytes())]
    extra = _trust_list_entries(trust_lists, trust_list_pin)
    try:
        service = obj.service
    except ConfigurationError:
        service = None
    if service is None:
        from trustsvc.verify.engine import VerificationPolicy
        from trustsvc.verify.licence import LicenceStatusCheck

        policy = VerificationPolicy(extra_checks=(LicenceStatusCheck(),))
        engine = VerificationEngine(TrustStore(extra), policy=policy)
    elif extra:
        from trustsvc.verify.status import LocalStatusResolver

        store = TrustStore((*service.trust.store().entries(), *extra))
        engine = VerificationEngine(
            store,
            LocalStatusResolver(service.ca, service.seals),
            service.clock,
            fetcher=service.fetcher,
            policy=service.verification_policy(),
        )
    else:
        engine = service.verifier
    result = engine.verify(data, anchors=anchor_certs, lenient=not strict)
    if report_kind is not None:
        _write_report(service, result, report_kind, lang, Path(file).name, out)
        if out is None:
            sys.exit(_VERDICT_EXIT[result.report])
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_verdict(file, result)
    sys.exit(_VERDICT_EXIT[result.report])


def _write_report(service: Any, result: Any, kind: str, lang: Any, file_name: str, out: str | None) -> None:
    """Write the ``--report`` of ``trustsvc verify`` to ``out`` (or standard output)."""
    from pathlib import Path

    from trustsvc.verify import report

    if kind == "html":
        data = report.render_html(result, lang=lang, file_name=file_name).encode("utf-8")
    elif kind == "pdf":
        data = report.render_pdf(result, lang=lang, file_name=file_name)
    else:
        if service is None:
            raise InvalidInput("--report json-signed is signed by the service: it needs an initialised home")
        signer, chain = service.trust.service_signer()
        data = report.sign_report(report.report_json(result), signer, chain)
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        Path(out).write_bytes(data)


def _trust_list_entries(sources: Sequence[str], pin_text: str | None) -> list[Any]:
    """Return the trust-store entries of signed trust lists given on the command line (pinned signer)."""
    if not sources:
        return []
    from pathlib import Path

    from trustsvc.verify.trustlist import Pin, entry_from_json, http_fetch, verify_trust_list
    from trustsvc.verify.truststore import AnchorSource, ListStatus

    if not pin_text:
        raise InvalidInput(
            "--trust-list needs --trust-list-pin (the list signer's certificate or sha256:<hex>)"
        )
    if pin_text.lower().startswith("sha256:"):
        pin = Pin.from_spki_sha256(pin_text)
    else:
        pin = Pin.from_certificate(Path(pin_text).read_bytes())
    entries: list[Any] = []
    for source in sources:
        if source.startswith(("http://", "https://")):
            envelope = http_fetch(source)
        else:
            try:
                envelope = Path(source).read_bytes()
            except OSError as exc:
                raise InvalidInput(f"cannot read {source}: {exc.strerror}") from None
        document = verify_trust_list(envelope, pin).document
        origin = AnchorSource(
            f"file:{Path(source).name}", document.territory_code, document.sequence, ListStatus.FRESH
        )
        entries.extend(entry_from_json(item, origin) for item in document.entries)
    return entries


def _print_verdict(file: str, result: Any) -> None:
    word = result.report
    sub = f" ({result.sub_indication.value})" if result.sub_indication else ""
    click.echo(f"{file}: {_VERDICT_ZH[word]} / {word}{sub}")
    click.echo(f"  {result.format.upper()}, SM3 {result.sm3}, {len(result.signatures)} 个签名 / signature(s)")
    for sig in result.signatures:
        seal = f" 印章 seal {sig.seal_es_id} {sig.seal_name or ''}" if sig.seal_es_id else ""
        sub = f" ({sig.sub_indication.value})" if sig.sub_indication else ""
        word = sig.indication.report
        click.echo(f"  #{sig.index + 1} {_VERDICT_ZH[word]} / {word}{sub}{seal}")
        click.echo(f"     签章人 signer: {sig.signer_subject or '-'}")
        if sig.signing_time:
            tst = " (时间戳 time-stamped)" if sig.timestamp_time else ""
            click.echo(f"     签章时间 signed at: {sig.signing_time:%Y-%m-%d %H:%M:%S}Z{tst}")
        for check in sig.checks:
            if check.status.value not in ("passed",):
                click.echo(f"     {check.status.value}: {check.name}: {check.detail}")
        for warning in sig.warnings:
            click.echo(f"     警告 warning: {warning}")
    for warning in result.warnings:
        click.echo(f"  警告 warning: {warning}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
