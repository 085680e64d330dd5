"""The trustsvc command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import CliRun
from trustsvc import db
from trustsvc.auth import authenticate
from trustsvc.cli import cli_actor
from trustsvc.config import Settings
from trustsvc.service import TrustService

SCRIPT = Path(sys.executable).parent / "trustsvc"


def _records(settings: Settings) -> list[tuple[str, str, str, dict]]:
    from sqlalchemy import select

    from trustsvc.audit import AuditRecord

    service = TrustService.from_settings(settings)
    try:
        with service.session() as session:
            rows = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
            return [(r.actor, r.action, r.subject, r.details) for r in rows]
    finally:
        service.close()


def test_init_creates_a_home_and_is_idempotent(settings: Settings, run_cli: CliRun) -> None:
    first = run_cli("init")
    assert first.exit_code == 0, first.stderr
    out = first.stdout
    assert f"created home directory {settings.home}" in out
    assert f"created master key file {settings.master_key_file}" in out
    assert f"created software key store {settings.keys_dir}" in out
    assert f"created database schema (empty) -> {db.head_revision()}" in out
    assert "created certificate authority sm2-root" in out
    assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700
    assert stat.S_IMODE(settings.master_key_file.stat().st_mode) == 0o600
    master_key = settings.master_key_file.read_bytes()

    second = run_cli("init")
    assert second.exit_code == 0, second.stderr
    assert second.stdout.startswith("nothing to do:")
    assert settings.master_key_file.read_bytes() == master_key

    records = _records(settings)
    # the embedded PKI's records (ca.create, certificate.issue), then service.init
    assert {action for _, action, _, _ in records[:-1]} == {"ca.create", "certificate.issue"}
    actor, action, subject, details = records[-1]
    assert (actor, action, subject) == (cli_actor(), "service.init", f"home:{settings.home}")
    assert actor.startswith("cli:")
    assert f"master key file {settings.master_key_file}" in details["created"]
    assert run_cli("audit", "verify").stdout.strip() == f"audit chain OK: {len(records)} records"


def test_init_takes_the_master_key_from_the_environment(settings: Settings, cli_env: dict[str, str]) -> None:
    result = CliRun({**cli_env, "TRUSTSVC_MASTER_KEY": "11" * 32})("init")
    assert result.exit_code == 0, result.stderr
    assert not settings.master_key_file.exists()
    assert "master key" not in result.stdout


def test_home_option_overrides_the_environment(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    result = CliRun({"TRUSTSVC_HOME": str(tmp_path / "ignored")})("--home", str(home), "init")
    assert result.exit_code == 0, result.stderr
    assert (home / "trustsvc.db").exists()
    assert not (tmp_path / "ignored").exists()


def test_commands_on_an_uninitialised_home_say_to_run_init(run_cli: CliRun) -> None:
    result = run_cli("audit", "verify")
    assert result.exit_code == 1
    assert "run `trustsvc init`" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_configuration_is_one_line_and_exit_1(cli_env: dict[str, str]) -> None:
    result = CliRun({**cli_env, "TRUSTSVC_KEYSTORE": "vault"})("init")
    assert result.exit_code == 1
    assert result.stderr.startswith("trustsvc: error: keystore must be one of")
    assert len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2(service: TrustService, run_cli: CliRun) -> None:
    assert run_cli("keys", "generate", "--algorithm", "dsa").exit_code == 2
    assert run_cli("no-such-command").exit_code == 2


def test_apikey_create_prints_the_token_once_and_audits(
    service: TrustService, settings: Settings, run_cli: CliRun
) -> None:
    result = run_cli("apikey", "create", "审批系统", "--role", "business-system", "--role", "clerk")
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("tsk_")
    assert "shown only now" in result.stderr
    with service.session() as session:
        key = authenticate(session, token)
        assert (key.name, key.roles) == ("审批系统", ["business-system", "clerk"])

    listing = run_cli("apikey", "list")
    assert key.prefix in listing.stdout
    assert token not in listing.stdout

    revoked = run_cli("apikey", "revoke", key.prefix)
    assert revoked.exit_code == 0, revoked.stderr

    actions = [(a, s) for _, a, s, _ in _records(settings)]
    assert actions == [("apikey.create", f"apikey:{key.prefix}"), ("apikey.revoke", f"apikey:{key.prefix}")]
    assert token not in json.dumps(_records(settings), ensure_ascii=False)


def test_a_second_key_with_a_name_in_use_is_said_to_act_as_the_same_caller(
    service: TrustService, run_cli: CliRun
) -> None:
    first = run_cli("apikey", "create", "审批系统", "--role", "business-system")
    assert first.exit_code == 0 and "note:" not in first.stderr
    second = run_cli("apikey", "create", "审批系统", "--role", "business-system")
    assert second.exit_code == 0 and "note: 1 active key(s) already named '审批系统'" in second.stderr
    with service.session() as session:
        prefix = authenticate(session, first.stdout.strip()).prefix
    assert run_cli("apikey", "revoke", prefix).exit_code == 0
    third = run_cli("apikey", "create", "审批系统", "--role", "business-system")
    assert "note: 1 active key(s)" in third.stderr  # the revoked first key no longer counts


def test_apikey_with_an_unknown_role_is_an_input_error(service: TrustService, run_cli: CliRun) -> None:
    result = run_cli("apikey", "create", "x", "--role", "root")
    assert result.exit_code == 2
    assert result.stderr.startswith("trustsvc: error: unknown role(s): root")
    assert result.stdout == ""


def test_keys_generate_and_list(service: TrustService, settings: Settings, run_cli: CliRun) -> None:
    ids = {}
    for algorithm in ("sm2", "ecdsa-p256"):
        result = run_cli("keys", "generate", "--algorithm", algorithm, "--label", f"{algorithm} key")
        assert result.exit_code == 0, result.stderr
        ids[algorithm] = result.stdout.strip()

    listing = run_cli("keys", "list")
    assert listing.exit_code == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["id", "algorithm", "label", "store", "created"]
    for algorithm, key_id in ids.items():
        (line,) = [line for line in lines if line.startswith(key_id)]
        assert algorithm in line
        assert f"{algorithm} key" in line
        assert "software" in line

    records = _records(settings)
    assert [(a, s) for _, a, s, _ in records] == [("key.generate", f"key:{i}") for i in ids.values()]
    assert records[0][3] == {"algorithm": "sm2", "label": "sm2 key", "store": "software"}


def test_keys_with_a_wrong_master_key_is_one_line(
    service: TrustService, run_cli: CliRun, cli_env: dict[str, str]
) -> None:
    assert run_cli("keys", "list").exit_code == 0  # the store now exists under the file's master key
    result = CliRun({**cli_env, "TRUSTSVC_MASTER_KEY": "22" * 32})("keys", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("trustsvc: error: the master key does not open")


# --- serve ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_answers_health_until_terminated(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TRUSTSVC_HOME": str(tmp_path / "home")}
    init = subprocess.run([SCRIPT, "init"], env=env, capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr

    port = _free_port()
    server = subprocess.Popen(
        [SCRIPT, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        body = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200
                    body = json.loads(response.read())
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert body is not None, "server did not answer /health within 20 s"
        assert body["status"] == "ok"
        assert body["database"] == "ok"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert server.returncode == 0, output.decode(errors="replace")
    assert b"GET /health" in output  # access log on stdout
