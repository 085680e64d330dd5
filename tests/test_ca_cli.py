"""``trustsvc init`` with the embedded PKI and the ``trustsvc ca`` commands."""

from __future__ import annotations

from pathlib import Path

from asn1crypto import crl, pem, x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import CliRun
from tests.pki import cryptography_csr
from trustsvc.config import Settings
from trustsvc.service import TrustService


def _service(settings: Settings) -> TrustService:
    return TrustService.from_settings(settings)


def test_init_makes_the_sm2_pki_and_adds_an_ecdsa_hierarchy(settings: Settings, run_cli: CliRun) -> None:
    first = run_cli("init")
    assert first.exit_code == 0, first.stderr
    assert "created certificate authority sm2-root" in first.stdout
    assert "created seal-maker certificate of sm2-issuing" in first.stdout
    assert "ecdsa" not in first.stdout
    assert "  sm2-root: root CA, sm2, serial " in first.stdout
    assert "trustsvc: warning: certificate_policy_oid is the documentation placeholder" in first.stderr

    second = run_cli("init", "--algorithm", "ecdsa-p256")
    assert second.exit_code == 0, second.stderr
    assert "created certificate authority ecdsa-root" in second.stdout
    assert "created certificate authority sm2-root" not in second.stdout

    third = run_cli("init", "--algorithm", "ecdsa-p256")
    assert third.stdout.startswith("nothing to do:")
    assert "ecdsa-issuing tsa: serial" in third.stdout

    listing = run_cli("ca", "list")
    assert listing.exit_code == 0, listing.stderr
    names = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    hierarchy = ["root", "issuing", "ocsp-responder", "tsa", "seal-maker"]
    expected = [f"{h}-{n}" if n in ("root", "issuing") else n for h in ("sm2", "ecdsa") for n in hierarchy]
    assert names == expected
    assert run_cli("audit", "verify").exit_code == 0


def test_ca_commands_issue_hold_release_revoke_crl_export(
    settings: Settings, run_cli: CliRun, tmp_path: Path
) -> None:
    assert run_cli("init", "--algorithm", "ecdsa-p256").exit_code == 0
    csr = tmp_path / "req.der"
    csr.write_bytes(cryptography_csr(ec.generate_private_key(ec.SECP256R1())))

    issued = run_cli(
        "ca", "issue", "--ca", "ecdsa-issuing", "--profile", "tls-client", "--csr", str(csr),
        "--out", str(tmp_path / "leaf.pem"),
    )  # fmt: skip
    assert issued.exit_code == 0, issued.stderr
    serial = issued.stdout.strip()
    _, _, der = pem.unarmor((tmp_path / "leaf.pem").read_bytes())
    assert format(x509.Certificate.load(der).serial_number, "x") == serial

    generated = run_cli(
        "ca", "issue", "--ca", "sm2-issuing", "--profile", "seal-signer", "--generate-key", "sm2",
        "--subject-cn", "行政审批专用章", "--subject-o", "某市市场监督管理局",
        "--subject-uscc", "91110000600037341L",
        "--out", str(tmp_path / "seal.der"), "--der",
    )  # fmt: skip
    assert generated.exit_code == 0, generated.stderr
    assert "generated in the key store" in generated.stderr
    seal = x509.Certificate.load((tmp_path / "seal.der").read_bytes())
    assert seal.subject.native["common_name"] == "行政审批专用章"

    assert run_cli("ca", "hold", "--ca", "ecdsa-issuing", serial).stdout.strip() == f"{serial}: hold"
    assert run_cli("ca", "release", "--ca", "ecdsa-issuing", serial).stdout.strip() == f"{serial}: good"
    revoked = run_cli("ca", "revoke", "--ca", "ecdsa-issuing", serial, "--reason", "keyCompromise")
    assert revoked.stdout.strip() == f"{serial}: revoked"
    again = run_cli("ca", "revoke", "--ca", "ecdsa-issuing", serial)
    assert again.exit_code == 1 and "revocation is final" in again.stderr

    out = tmp_path / "crl.der"
    shown = run_cli("ca", "crl", "--ca", "ecdsa-issuing", "--out", str(out))
    assert shown.exit_code == 0, shown.stderr
    assert "ecdsa-issuing: complete CRL" in shown.stderr
    entries = crl.CertificateList.load(out.read_bytes())["tbs_cert_list"]["revoked_certificates"]
    assert [(e["user_certificate"].native, e.crl_reason_value.native) for e in entries] == [
        (int(serial, 16), "key_compromise")
    ]
    refreshed = run_cli("ca", "crl", "--refresh")
    assert refreshed.exit_code == 0, refreshed.stderr
    assert len(refreshed.stdout.splitlines()) == 4  # every CA
    delta = run_cli(
        "ca", "crl", "--ca", "ecdsa-issuing", "--delta", "--pem", "--out", str(tmp_path / "d.pem")
    )
    assert delta.exit_code == 0 and "delta CRL" in delta.stderr
    assert (tmp_path / "d.pem").read_bytes().startswith(b"-----BEGIN X509 CRL-----")

    listed = run_cli("ca", "list", "--ca", "ecdsa-issuing", "--status", "revoked")
    assert serial in listed.stdout and "tls-client" in listed.stdout

    exported = run_cli("ca", "export", "--ca", "ecdsa-root", "--out", str(tmp_path / "root.pem"), "--pem")
    assert exported.exit_code == 0
    _, _, root_der = pem.unarmor((tmp_path / "root.pem").read_bytes())
    service = _service(settings)
    try:
        assert root_der == service.ca.ca("ecdsa-root").certificate_der
        with service.session(read_only=True) as session, session.begin():
            assert service.audit.verify(session) > 0
    finally:
        service.close()


def test_ca_command_errors_are_one_line(settings: Settings, run_cli: CliRun, tmp_path: Path) -> None:
    assert run_cli("init").exit_code == 0
    (tmp_path / "bad.csr").write_bytes(b"garbage")
    cases = [
        (("ca", "issue", "--ca", "sm2-issuing", "--profile", "tls-client", "--out", str(tmp_path / "x")), 2),
        (
            (
                "ca", "issue", "--ca", "sm2-issuing", "--profile", "tls-client",
                "--csr", str(tmp_path / "bad.csr"), "--out", str(tmp_path / "x"),
            ),
            2,
        ),
        (("ca", "revoke", "--ca", "sm2-issuing", "nothex"), 2),
        (("ca", "hold", "--ca", "sm2-issuing", "abcdef"), 1),
        (("ca", "export", "--ca", "nowhere", "--out", str(tmp_path / "x")), 1),
        (("ca", "crl", "--out", str(tmp_path / "x")), 2),
    ]  # fmt: skip
    for args, code in cases:
        result = run_cli(*args)
        assert result.exit_code == code, (args, result.stderr)
        assert result.stderr.startswith("trustsvc: error: "), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
