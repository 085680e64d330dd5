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
@pass_ctx
def init(obj: _Context) -> None:
    """Create the home directory, master key and database schema (safe to run again; also upgrades)."""
    settings = obj.settings
    report = TrustService.init(settings)
    for line in report.created:
        click.echo(f"created {line}")
    if report.changed:
        obj.audit("service.init", f"home:{settings.home}", {"created": report.created})
    else:
        click.echo(f"nothing to do: {settings.home} is ready (schema {report.schema_to})")


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


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
