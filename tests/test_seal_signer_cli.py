"""``trustsvc seal signer list|add|remove``: the command-line way to change who a seal lists as signer.

Each change must re-make the seal under the same esID as the next version, write the same audit record as
the HTTP path (actor ``cli:<user>``) and refuse what the HTTP API refuses, with the same message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import pem
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import CliRun, FakeClock
from tests.pki import csr_from_signer, sm2_signer
from trustsvc.audit import AuditRecord
from trustsvc.auth import create_api_key
from trustsvc.ca.models import IssuedCertificate
from trustsvc.cli import cli_actor
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.sm3 import sm3
from trustsvc.seal import ses
from trustsvc.service import TrustService

ORG = "91110000600037341L"
ORG_NAME = "北京市某某科技有限公司"


@pytest.fixture
def clock() -> FakeClock:
    """The service fixture's clock at the real time: the command line runs on the system clock."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    return service


def _seal(pki: TrustService) -> str:
    return pki.seals.create_seal(ORG, ORG_NAME, "contract", actor="test").seal.es_id


def _our_signer(
    pki: TrustService, tmp_path: Path, name: str = "ukey.pem", profile: str = "seal-signer"
) -> tuple[Path, IssuedCertificate]:
    """Return a PEM file of a certificate our CA issued from a CSR (the key stays with its holder)."""
    subject: dict[str, str] = {"organization": ORG_NAME, "uscc": ORG, "common_name": f"UKey {name}"}
    if profile == "person-signer":
        subject = {"common_name": "张三", "organization": ORG_NAME, "citizen_id": "11010519491231002X"}
    issued = pki.ca.issue_from_csr(
        "sm2-issuing", csr_from_signer(sm2_signer()), profile, subject=subject, actor="test"
    )
    path = tmp_path / name
    path.write_bytes(pem.armor("CERTIFICATE", issued.der))
    return path, issued


def _audit(pki: TrustService, es_id: str) -> list[AuditRecord]:
    with pki.session() as session, session.begin():
        return list(
            session.execute(
                select(AuditRecord).where(AuditRecord.subject == f"seal:{es_id}").order_by(AuditRecord.seq)
            ).scalars()
        )


def test_adding_and_removing_signers_re_makes_the_seal_as_a_new_version_and_is_audited(
    pki: TrustService, run_cli: CliRun, tmp_path: Path
) -> None:
    es_id = _seal(pki)
    first = pki.seals.get(es_id).signers[0]
    ukey, _ = _our_signer(pki, tmp_path)
    ukey_sm3 = sm3(pem.unarmor(ukey.read_bytes())[2]).hex()

    added = run_cli("seal", "signer", "add", es_id, "--cert", str(ukey))
    assert added.exit_code == 0, added.stderr
    assert added.stdout.strip() == ukey_sm3
    assert f"{es_id}: version 2, added signer" in added.stderr

    details = pki.seals.get(es_id)
    assert details.seal.es_id == es_id and details.seal.version == 2
    assert [s.cert_sm3 for s in details.signers if s.removed_at is None] == [first.cert_sm3, ukey_sm3]
    made = ses.parse_seal(details.seal.seal_der, lenient=False)
    assert made.es_id == es_id and ses.verify_seal(made) == ()
    assert len(made.signer_certs) == 2

    listing = run_cli("seal", "signer", "list", es_id)
    assert listing.exit_code == 0, listing.stderr
    rows = listing.stdout.splitlines()
    assert rows[0].split()[:2] == ["cert", "SM3"]
    by_sm3 = {row.split()[0]: row.split() for row in rows[1:]}
    assert by_sm3[first.cert_sm3][3:5] == ["in-store", "ours"]
    assert by_sm3[ukey_sm3][3:5] == ["external", "ours"]

    issued = run_cli("seal", "signer", "add", es_id, "--department", "财务部")
    assert issued.exit_code == 0, issued.stderr
    third = issued.stdout.strip()
    assert pki.seals.get(es_id).seal.version == 3
    assert next(s for s in pki.seals.get(es_id).signers if s.cert_sm3 == third).key_in_store

    removed = run_cli("seal", "signer", "remove", es_id, "--cert-sm3", ukey_sm3.upper())
    assert removed.exit_code == 0, removed.stderr
    assert removed.stdout.strip() == f"{es_id}: version 4, 2 signer(s) left"
    withdrawn = run_cli("seal", "signer", "remove", es_id, "--cert-sm3", third, "--revoke-certificate")
    assert withdrawn.exit_code == 0, withdrawn.stderr
    revoked = next(s for s in pki.seals.get(es_id).signers if s.cert_sm3 == third)
    assert pki.ca.get("sm2-issuing", int(revoked.serial, 16)).status == "revoked"

    details = pki.seals.get(es_id)
    assert details.seal.version == 5
    assert [v.superseded_at is None for v in details.versions] == [False] * 4 + [True]
    assert [s.cert_sm3 for s in details.signers if s.removed_at is None] == [first.cert_sm3]
    all_rows = run_cli("seal", "signer", "list", es_id, "--all").stdout.splitlines()[1:]
    assert len(all_rows) == 3 and sum(row.split()[6] != "-" for row in all_rows) == 2

    records = [r for r in _audit(pki, es_id) if r.action.startswith("seal.signer.")]
    assert [(r.action, r.actor) for r in records] == [
        ("seal.signer.add", cli_actor()),
        ("seal.signer.add", cli_actor()),
        ("seal.signer.remove", cli_actor()),
        ("seal.signer.remove", cli_actor()),
    ]
    assert records[0].details["signer"]["cert_sm3"] == ukey_sm3 and records[0].details["version"] == 2
    assert cli_actor().startswith("cli:")
    assert run_cli("audit", "verify").exit_code == 0


def test_a_person_signer_certificate_is_added_and_removed_by_giving_the_file(
    pki: TrustService, run_cli: CliRun, tmp_path: Path
) -> None:
    es_id = _seal(pki)
    person, _ = _our_signer(pki, tmp_path, "person.pem", profile="person-signer")
    der = tmp_path / "person.der"
    der.write_bytes(pem.unarmor(person.read_bytes())[2])

    assert run_cli("seal", "signer", "add", es_id, "--cert", str(der)).exit_code == 0
    assert pki.seals.get(es_id).seal.version == 2
    removed = run_cli("seal", "signer", "remove", es_id, "--cert", str(person))
    assert removed.exit_code == 0, removed.stderr
    assert removed.stdout.strip() == f"{es_id}: version 3, 1 signer(s) left"


def test_the_last_signer_cannot_be_removed_and_nothing_changes(pki: TrustService, run_cli: CliRun) -> None:
    es_id = _seal(pki)
    only = pki.seals.get(es_id).signers[0]
    refused = run_cli("seal", "signer", "remove", es_id, "--cert-sm3", only.cert_sm3)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        f"trustsvc: error: {only.subject} is the only signer of seal {es_id}: add another signer first, "
        "or revoke the seal"
    )
    assert pki.seals.get(es_id).seal.version == 1
    assert not any(r.action.startswith("seal.signer.") for r in _audit(pki, es_id))


def test_command_line_input_errors_exit_2_and_state_errors_exit_1(
    pki: TrustService, run_cli: CliRun, tmp_path: Path
) -> None:
    es_id = _seal(pki)
    first = pki.seals.get(es_id).signers[0]
    garbage = tmp_path / "garbage.der"
    garbage.write_bytes(b"\x30\x03\x02\x01\x01 not a certificate")
    key_pem = tmp_path / "key.pem"
    key_pem.write_bytes(pem.armor("PRIVATE KEY", b"\x30\x00"))
    broken_pem = tmp_path / "broken.pem"
    broken_pem.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n")  # no END line
    first_pem = tmp_path / "first.pem"
    first_pem.write_bytes(pem.armor("CERTIFICATE", first.certificate_der))

    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("add", es_id, "--cert", str(garbage)), 2, "not a DER X.509 certificate"),
        (("add", es_id, "--cert", str(key_pem)), 2, "expected a CERTIFICATE, not PRIVATE KEY"),
        (("add", es_id, "--cert", str(broken_pem)), 2, "the PEM certificate cannot be read"),
        (("add", es_id, "--cert", str(first_pem), "--department", "x"), 2, "--department applies only"),
        (("add", es_id, "--cert", str(first_pem)), 1, f"already a signer of seal {es_id}"),
        (("add", "110000000000017", "--cert", str(first_pem)), 1, "no seal with esID"),
        (("remove", es_id, "--cert-sm3", "abc"), 2, "64 hex digits"),
        (("remove", es_id), 2, "exactly one of --cert-sm3 or --cert"),
        (("remove", es_id, "--cert-sm3", first.cert_sm3, "--cert", str(first_pem)), 2, "exactly one of"),
        (("remove", es_id, "--cert-sm3", "0" * 64), 1, "lists no signer certificate"),
    ]
    for args, code, message in cases:
        result = run_cli("seal", "signer", *args)
        assert result.exit_code == code, (args, result.stderr)
        assert result.stderr.startswith("trustsvc: error: ") and message in result.stderr, args
        assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    assert pki.seals.get(es_id).seal.version == 1


def test_a_certificate_our_ca_revoked_or_a_revoked_seal_is_refused(
    pki: TrustService, run_cli: CliRun, tmp_path: Path
) -> None:
    es_id = _seal(pki)
    held, row = _our_signer(pki, tmp_path, "held.pem")
    pki.ca.hold("sm2-issuing", int(row.serial, 16), actor="test")
    refused = run_cli("seal", "signer", "add", es_id, "--cert", str(held))
    assert refused.exit_code == 1 and f"the signer certificate {row.serial} is hold" in refused.stderr

    pki.seals.revoke(es_id, "注销", actor="test")
    fresh, _ = _our_signer(pki, tmp_path, "fresh.pem")
    after = run_cli("seal", "signer", "add", es_id, "--cert", str(fresh))
    assert after.exit_code == 1 and "revoked" in after.stderr
    assert pki.seals.get(es_id).seal.version == 1


def test_the_command_line_refuses_what_http_refuses_with_the_same_message(
    pki: TrustService, client: FlaskClient, run_cli: CliRun, tmp_path: Path
) -> None:
    with pki.session() as session, session.begin():
        _, token = create_api_key(session, "test", ["seal-admin"])
    admin = {"Authorization": f"Bearer {token}"}
    es_id = _seal(pki)
    first = pki.seals.get(es_id).signers[0]
    revoked, row = _our_signer(pki, tmp_path, "revoked.pem")
    pki.ca.revoke("sm2-issuing", int(row.serial, 16), "keyCompromise", actor="test")
    listed = tmp_path / "listed.pem"
    listed.write_bytes(pem.armor("CERTIFICATE", first.certificate_der))

    for path, status, exit_code in ((revoked, 409, 1), (listed, 409, 1)):
        text = path.read_text(encoding="ascii")
        over_http = client.post(f"/api/v1/seals/{es_id}/signers", json={"certificate": text}, headers=admin)
        assert over_http.status_code == status, over_http.get_data(as_text=True)
        on_cli = run_cli("seal", "signer", "add", es_id, "--cert", str(path))
        assert on_cli.exit_code == exit_code
        assert on_cli.stderr.strip() == f"trustsvc: error: {over_http.get_json()['detail']}"

    only_one = client.delete(f"/api/v1/seals/{es_id}/signers/{first.cert_sm3}", headers=admin)
    on_cli = run_cli("seal", "signer", "remove", es_id, "--cert-sm3", first.cert_sm3)
    assert only_one.status_code == 409 and on_cli.exit_code == 1
    assert on_cli.stderr.strip() == f"trustsvc: error: {only_one.get_json()['detail']}"
    bad_sm3 = client.delete(f"/api/v1/seals/{es_id}/signers/xyz", headers=admin)
    on_cli = run_cli("seal", "signer", "remove", es_id, "--cert-sm3", "xyz")
    assert bad_sm3.status_code == 400 and on_cli.exit_code == 2
    assert on_cli.stderr.strip() == f"trustsvc: error: {bad_sm3.get_json()['detail']}"
    assert pki.seals.get(es_id).seal.version == 1
