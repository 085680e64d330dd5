"""``trustsvc seal`` commands: create, list, show, suspend, resume, revoke, grant, status."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CliRun
from trustsvc.config import Settings
from trustsvc.seal import ses
from trustsvc.seal.status import verify_status_answer
from trustsvc.service import TrustService

ORG = "91110000600037341L"
ORG_NAME = "北京市某某科技有限公司"


def _init(run_cli: CliRun) -> None:
    result = run_cli("init")
    assert result.exit_code == 0, result.stderr


def _create(run_cli: CliRun, *extra: str) -> str:
    made = run_cli("seal", "create", "--org", ORG, "--org-name", ORG_NAME, "--kind", "contract", *extra)
    assert made.exit_code == 0, made.stderr
    assert "made seal" in made.stderr
    return made.stdout.strip()


def test_seal_create_list_show_and_files(run_cli: CliRun, settings: Settings, tmp_path: Path) -> None:
    _init(run_cli)
    key = run_cli("apikey", "create", "审批系统", "--role", "business-system")
    assert key.exit_code == 0, key.stderr
    es_id = _create(run_cli, "--validity-days", "365", "--cert-list-type", "2", "--grant", "审批系统")
    assert len(es_id) == 15 and es_id.startswith("000000")

    listing = run_cli("seal", "list", "--org", ORG)
    assert listing.exit_code == 0, listing.stderr
    rows = listing.stdout.splitlines()
    assert rows[0].split()[:3] == ["esID", "status", "since"]
    assert rows[1].split()[:2] == [es_id, "active"] and "contract" in rows[1]

    picture, esl = tmp_path / "seal.png", tmp_path / "seal.esl"
    shown = run_cli("seal", "show", es_id, "--picture", str(picture), "--out", str(esl))
    assert shown.exit_code == 0, shown.stderr
    assert f"{ORG_NAME}合同专用章" in shown.stdout and "cert list type: 2" in shown.stdout
    assert "key in store" in shown.stdout and " sign" in shown.stdout
    assert picture.read_bytes().startswith(b"\x89PNG")
    parsed = ses.parse_seal(esl.read_bytes(), lenient=False)
    assert parsed.es_id == es_id and parsed.cert_list_type == 2
    assert ses.verify_seal(parsed) == ()

    service = TrustService.from_settings(settings)
    try:
        grants = service.seals.get(es_id).grants
    finally:
        service.close()
    assert len(grants) == 1 and grants[0].principal.startswith("apikey:")


def test_seal_lifecycle_and_status_on_the_command_line(run_cli: CliRun, tmp_path: Path) -> None:
    _init(run_cli)
    es_id = _create(run_cli)

    suspended = run_cli("seal", "suspend", es_id, "--reason", "印章保管人离职")
    assert suspended.exit_code == 0, suspended.stderr
    assert suspended.stdout.startswith(f"{es_id}: suspended since ")
    status = run_cli("seal", "status", es_id)
    assert status.exit_code == 0 and f"{es_id}: suspended since" in status.stdout

    again = run_cli("seal", "suspend", es_id, "--reason", "x")
    assert again.exit_code == 1 and "already suspended" in again.stderr

    assert run_cli("seal", "resume", es_id).stdout.startswith(f"{es_id}: active since ")
    revoked = run_cli("seal", "revoke", es_id, "--reason", "注销")
    assert revoked.stdout.startswith(f"{es_id}: revoked since ")
    refused = run_cli("seal", "resume", es_id)
    assert refused.exit_code == 1 and "revocation is final" in refused.stderr

    answer = run_cli("seal", "status", es_id, "--json", "--nonce", "cli-1")
    assert answer.exit_code == 0, answer.stderr
    statement = verify_status_answer(answer.stdout.encode()).statement
    assert statement["status"] == "revoked" and statement["nonce"] == "cli-1"
    assert json.loads(answer.stdout)["format"] == "trustsvc-signed-json/1"

    assert run_cli("audit", "verify").exit_code == 0


def test_seal_grant_and_bad_input_exit_codes(run_cli: CliRun) -> None:
    _init(run_cli)
    es_id = _create(run_cli)
    granted = run_cli("seal", "grant", es_id, "user:张三")
    assert granted.exit_code == 0 and "user:张三 holds sign" in granted.stdout
    withdrawn = run_cli("seal", "grant", es_id, "user:张三", "--revoke")
    assert withdrawn.exit_code == 0 and "no longer holds sign" in withdrawn.stdout
    unknown_key = run_cli("seal", "grant", es_id, "nobody")
    assert unknown_key.exit_code == 2 and "no active API key" in unknown_key.stderr
    bad_kind = run_cli("seal", "create", "--org", ORG, "--org-name", ORG_NAME, "--kind", "stamp")
    assert bad_kind.exit_code == 2 and "unknown seal kind" in bad_kind.stderr
    missing = run_cli("seal", "show", "110000000000017")
    assert missing.exit_code == 1 and "no seal with esID" in missing.stderr
