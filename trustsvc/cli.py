"""The ``trustsvc`` command: set up a home, serve the API, verify the audit log, manage keys and API keys.

Errors trustsvc raises on purpose end the command with one line on stderr, never a traceback: exit
code 2 for bad input, 1 for everything else. Every command that changes state writes an audit record
with the actor ``cli:<os user>``.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
from collections.abc import Sequence
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


@main.command()
@click.option("--bind", default="127.0.0.1:8080", show_default=True, help="HOST:PORT to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Worker processes.")
@click.option(
    "--dev", is_flag=True, help="Use the Flask development server (one process, never in production)."
)
@pass_ctx
def serve(obj: _Context, bind: str, workers: int, dev: bool) -> None:
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
    _run_gunicorn(settings, bind=bind, workers=workers)


def _run_gunicorn(settings: Settings, *, bind: str, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    from trustsvc.api import create_app

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", [bind])
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("proc_name", "trustsvc")

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
    """Create an API key and print its token (shown this once only)."""
    from trustsvc.auth import create_api_key

    service = obj.service
    with service.session() as session, session.begin():
        key, token = create_api_key(session, name, roles, now=service.clock())
        service.audit.append(
            session,
            actor=cli_actor(),
            action="apikey.create",
            subject=f"apikey:{key.prefix}",
            details={"name": key.name, "roles": key.roles},
        )
    click.echo(f"created API key {key.prefix} ({key.name}; roles: {', '.join(key.roles)})", err=True)
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


def _pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    from asn1crypto import pem

    return bytes(pem.armor(label, der))


def _day(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%d"))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
