"""``trustsvc verify``: exit status 0 VALID, 1 INVALID, 3 INDETERMINATE, 2 usage or input error."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import pem

from tests.conftest import CliRun, FakeClock
from tests.test_ofd_signing import document
from tests.test_sealing_service import Setup, make_setup
from tests.test_verify_engine import BOX, files_of, zip_of
from trustsvc.ofd.verification import check_ofd_signatures
from trustsvc.service import TrustService

REAL = Path("/work/shared/testdata/ofd-real/suwell_bank_receipt_b.ofd")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def setup(service: TrustService) -> Setup:
    return make_setup(service)


@pytest.fixture
def sealed(setup: Setup, tmp_path: Path) -> Path:
    path = tmp_path / "sealed.ofd"
    path.write_bytes(setup.seal(document(1).ofd, BOX, level="B-B").data)
    return path


def test_valid_document_exits_0_with_a_bilingual_summary(sealed: Path, run_cli: CliRun, setup: Setup) -> None:
    result = run_cli("verify", str(sealed))
    assert result.exit_code == 0, result.output
    assert "有效 / VALID" in result.output
    assert setup.es_id in result.output


def test_json_report(sealed: Path, run_cli: CliRun) -> None:
    result = run_cli("verify", "--json", str(sealed))
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["schema_version"] == 1 and report["indication"] == "VALID"


def test_invalid_document_exits_1(sealed: Path, run_cli: CliRun, tmp_path: Path) -> None:
    files = files_of(sealed.read_bytes())
    path = next(p for p in files if p.endswith("Signature.xml"))
    files[path] = files[path].replace(b"trustsvc", b"trustsvX", 1)
    tampered = tmp_path / "tampered.ofd"
    tampered.write_bytes(zip_of(files))
    result = run_cli("verify", str(tampered))
    assert result.exit_code == 1, result.output
    assert "无效 / INVALID (HASH_FAILURE)" in result.output


def test_indeterminate_document_exits_3_and_an_anchor_settles_it(
    run_cli: CliRun, service: TrustService, tmp_path: Path
) -> None:
    if not REAL.exists():
        pytest.skip("real test files not present")
    result = run_cli("verify", str(REAL))
    assert result.exit_code == 3, result.output
    assert "NO_CERTIFICATE_CHAIN_FOUND" in result.output

    (found,) = check_ofd_signatures(REAL.read_bytes())
    anchor = tmp_path / "anchor.pem"
    anchor.write_bytes(pem.armor("CERTIFICATE", found.certificates[0]))
    result = run_cli("verify", "--anchor", str(anchor), str(REAL))
    assert result.exit_code == 0, result.output


def test_usage_and_input_errors_exit_2(run_cli: CliRun, service: TrustService, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a document at all")
    assert run_cli("verify", str(garbage)).exit_code == 2
    assert run_cli("verify", str(tmp_path / "missing.ofd")).exit_code == 2
    assert run_cli("verify").exit_code == 2
    broken_zip = tmp_path / "broken.ofd"
    broken_zip.write_bytes(b"PK\x03\x04" + bytes(100))
    assert run_cli("verify", str(broken_zip)).exit_code == 2
    assert run_cli("verify", "--trust-list", str(garbage), str(garbage)).exit_code == 2
