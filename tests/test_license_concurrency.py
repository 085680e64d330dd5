"""Licence issuance from several processes at once on PostgreSQL: distinct identifiers, idempotent races.

4 OS processes (``spawn``), each with its own :class:`TrustService` over the same home and database,
issue 100 licences each through :meth:`LicenceService.issue` (the flow behind ``POST /api/v1/licenses``:
validate, render, seal PDF and OFD at B-T with our in-process TSA, store), all started together behind a
barrier. Besides its own cases (``P{n}-{i}``) every process sends two case ids that one other process sends
at the same position of its list (``DUP-{k}``, first and in the middle of the run): both senders must get
the one licence.

What the database has to guarantee, and this test checks: one row per case, serials from the locked counter
unique per (type, issuer), identifiers that parse with a valid MOD 37,36 check character, one linear audit
chain. Serials are unique, not gapless: a duplicate sender that passed the "already issued?" check before the
winner committed renders and seals too, allocates a serial, then loses on the (system, case id) constraint
and returns the winner's licence. Such a loser leaves one unused serial and two ``seal.apply`` audit records
without a licence; the test counts those and allows exactly that many gaps, no more.

Runtime: about 0.15 s of CPU per licence (two seals with time-stamps), 408 calls: 45–47 s on a 2-CPU VM.
PostgreSQL only (set ``TRUSTSVC_TEST_DATABASE_URL``): on SQLite every write transaction holds the whole
database, so there is no row locking to test.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from tests.conftest import pg_schema_url
from tests.licences import BUSINESS, FIELDS, HOLDER, ISSUER, ISSUER_NAME, api_key
from trustsvc.audit import AuditRecord
from trustsvc.config import Settings
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.license.identifier import mod_37_36_check, parse
from trustsvc.license.issuance import AUDIT_ISSUE
from trustsvc.license.models import Licence, LicenceCounter
from trustsvc.sealing import AUDIT_ACTION as AUDIT_SEAL
from trustsvc.service import TrustService

PROCESSES = 4
ISSUANCES = 100
SYSTEM = "审批系统"
#: Duplicate case ids: (position in each sender's list, the two senders). Position 0 races right after the
#: barrier; the middle one races while the processes have drifted apart.
DUPLICATES = {
    "DUP-0": (0, (0, 1)),
    "DUP-1": (0, (2, 3)),
    "DUP-2": (ISSUANCES // 2, (0, 3)),
    "DUP-3": (ISSUANCES // 2, (1, 2)),
}
TIMEOUT = 900

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@dataclass(frozen=True)
class Home:
    """What every worker needs to issue: the home's settings, the issuing seal and the granted principal."""

    settings: Settings
    es_id: str
    principal: str


def cases_of(worker: int) -> list[str]:
    """Return the case ids ``worker`` sends, in order: its own 100 with its duplicates slotted in."""
    cases = [f"P{worker}-{i}" for i in range(ISSUANCES)]
    for case, (position, senders) in sorted(DUPLICATES.items(), key=lambda item: -item[1][0]):
        if worker in senders:
            cases.insert(position, case)
    return cases


def _issue_all(home: Home, worker: int, barrier: Any, results: Any) -> None:
    """Issue this worker's cases with a service of its own; put (worker, answers, error) on ``results``."""
    answers: list[tuple[str, str, bool]] = []
    service = TrustService.from_settings(home.settings)
    try:
        licences = service.licences
        barrier.wait(timeout=120)
        for case in cases_of(worker):
            record, created = licences.issue(
                SYSTEM,
                case,
                "M-001",
                BUSINESS,
                {"code": HOLDER},
                FIELDS,
                home.es_id,
                principal=home.principal,
                actor=f"worker:{worker}",
            )
            answers.append((case, record.identifier, created))
        results.put((worker, answers, None))
    except BaseException:
        results.put((worker, answers, traceback.format_exc()))
        raise
    finally:
        service.close()


@pytest.fixture
def home(pg_database: URL, tmp_path: Path) -> Home:
    """A fresh home on its own PostgreSQL schema: SM2 PKI, an issuing seal, a business system granted it."""
    settings = Settings.from_env(
        {"TRUSTSVC_HOME": str(tmp_path / "home"), "TRUSTSVC_DATABASE_URL": pg_schema_url(pg_database)}
    )
    TrustService.init(settings)
    service = TrustService.from_settings(settings)
    try:
        service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
        _, principal = api_key(service, SYSTEM, "business-system")
        made = service.seals.create_seal(ISSUER, ISSUER_NAME, 1, actor="test", authorised=[principal])
    finally:
        service.close()
    return Home(settings, made.seal.es_id, principal)


def _run(home: Home) -> dict[int, list[tuple[str, str, bool]]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=_issue_all, args=(home, w, barrier, results)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    collected: dict[int, list[tuple[str, str, bool]]] = {}
    errors: list[str] = []
    try:
        for _ in procs:
            worker, answers, error = results.get(timeout=TIMEOUT)
            collected[worker] = answers
            if error is not None:
                errors.append(f"worker {worker} after {len(answers)} licences:\n{error}")
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    assert not errors, "\n".join(errors)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    return collected


def test_four_processes_issue_400_licences_with_distinct_serials_and_idempotent_races(home: Home) -> None:
    began = time.perf_counter()
    collected = _run(home)
    elapsed = time.perf_counter() - began

    # Every process got an answer for every case it sent, and made each of its own cases.
    answers = [answer for worker in sorted(collected) for answer in collected[worker]]
    assert len(answers) == PROCESSES * ISSUANCES + 2 * len(DUPLICATES)
    own = [(case, identifier, created) for case, identifier, created in answers if case.startswith("P")]
    assert all(created for _, _, created in own)
    own_identifiers = {identifier for _, identifier, _ in own}
    assert len(own_identifiers) == PROCESSES * ISSUANCES

    # Each duplicate case: both senders hold the same licence; exactly one of them made it.
    by_case: dict[str, list[tuple[str, bool]]] = {}
    for case, identifier, created in answers:
        if case.startswith("DUP-"):
            by_case.setdefault(case, []).append((identifier, created))
    assert sorted(by_case) == sorted(DUPLICATES)
    for case, pair in by_case.items():
        assert len(pair) == 2 and pair[0][0] == pair[1][0], case
        assert sorted(created for _, created in pair) == [False, True], case
    dup_identifiers = {pair[0][0] for pair in by_case.values()}
    assert not dup_identifiers & own_identifiers
    issued = own_identifiers | dup_identifiers
    expected_rows = PROCESSES * ISSUANCES + len(DUPLICATES)
    assert len(issued) == expected_rows

    # Every identifier parses (its check character verified) and names a serial of the one counter.
    parsed = [parse(identifier) for identifier in issued]
    assert all(p.check == mod_37_36_check(p.body) for p in parsed)
    assert {(p.type_code, p.issuer_code, p.version) for p in parsed} == {(BUSINESS, ISSUER, 1)}
    serials = sorted(int(p.serial) for p in parsed)
    assert len(set(serials)) == expected_rows

    service = TrustService.from_settings(home.settings)
    try:
        with service.session(read_only=True) as session, session.begin():
            rows = session.execute(
                select(
                    Licence.identifier,
                    Licence.case_id,
                    Licence.type_code,
                    Licence.issuer_code,
                    Licence.serial,
                )
            ).all()
            last_serial = session.execute(
                select(LicenceCounter.last_serial).where(
                    LicenceCounter.type_code == BUSINESS, LicenceCounter.issuer_code == ISSUER
                )
            ).scalar_one()
            actions = dict(
                session.execute(
                    select(AuditRecord.action, func.count())
                    .where(AuditRecord.action.in_([AUDIT_ISSUE, AUDIT_SEAL]))
                    .group_by(AuditRecord.action)
                ).all()
            )
            issue_subjects = session.execute(
                select(AuditRecord.subject).where(AuditRecord.action == AUDIT_ISSUE)
            ).scalars()
            issue_audited = Counter(issue_subjects)
            checked = service.audit.verify(session)
    finally:
        service.close()

    assert len(rows) == expected_rows
    assert {row.identifier for row in rows} == issued
    assert len({row.case_id for row in rows}) == expected_rows
    assert Counter((row.type_code, row.issuer_code, row.serial) for row in rows).most_common(1)[0][1] == 1

    # Serials run 1..last_serial; the only gaps are the races lost on the case id: each loser sealed both
    # files (two seal.apply records) and then returned the winner's licence.
    lost = actions[AUDIT_SEAL] // 2 - expected_rows
    assert actions[AUDIT_SEAL] % 2 == 0
    assert 0 <= lost <= len(DUPLICATES)
    assert serials[0] >= 1 and serials[-1] <= last_serial
    assert last_serial == expected_rows + lost
    assert len(set(range(1, last_serial + 1)) - set(serials)) == lost

    # One licence.issue record per licence, and the chain verifies end to end.
    assert issue_audited == Counter(f"licence:{identifier}" for identifier in issued)
    assert actions[AUDIT_ISSUE] == expected_rows
    assert checked >= expected_rows * 3 + 2 * lost

    print(
        f"\n{PROCESSES} processes issued {expected_rows} licences ({len(answers)} calls, {lost} duplicate "
        f"races lost after sealing) in {elapsed:.1f} s: {len(answers) / elapsed:.1f} calls/s"
    )
