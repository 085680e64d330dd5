"""Licences issued per second end to end, against pyHanko's plain ``sign_pdf`` of the same licence PDF.

    .venv/bin/python bench/issue.py [--seconds 10] [--rounds 2] [--workers 2] [--split 20]
                                    [--database-url URL | --no-postgres]

Counts complete :meth:`LicenceService.issue` calls per second — the flow behind ``POST /api/v1/licenses``:
request and field checks, idempotency look-up, the issuing seal and its grant, the serial from the locked
counter, the licence rendered to PDF and OFD (layout, fonts, QR code), both sealed at level B-T with our TSA
in-process (each sealing writes its ``seal.apply`` audit record), the row with both files and the
``licence.issue`` audit record stored in one transaction. A fresh case id every call: every call issues.

- ours on SQLite, one process (a home in a temporary directory: the embedded default);
- ours on PostgreSQL, ``--workers`` (2) processes, each with its own ``TrustService`` over one home, as
  gunicorn workers run it. The database is made for the run in the server of ``--database-url`` (default
  ``TRUSTSVC_TEST_DATABASE_URL``, else ``postgresql://postgres@127.0.0.1:5432/test``) as
  ``trustsvc_bench_<pid>_<random>`` and dropped at the end; no other database is touched;
- the reference: pyHanko's ``signers.sign_pdf`` with an in-memory ECDSA P-256 ``SimpleSigner`` (as in
  bench/seal.py), invisible field, default settings, of the *same rendered, unsealed licence PDF* that
  issuance seals — in one process beside the SQLite figure and in ``--workers`` processes beside the
  PostgreSQL one. It is what one bare signature of the document costs; an issuance seals two documents
  (with time-stamps and seal pictures), renders them and stores them: 1/ratio is how many bare
  signatures one licence costs.

Each figure runs ``--seconds``; the set runs ``--rounds`` times, interleaved, and each side's best round
counts (other load only ever slows a run down); beside each figure, how many CPUs the whole machine and the
bench's own processes kept busy. Then ``--split`` issuances on each home are timed part by part in this
process (render, seal PDF, seal OFD, the rest by difference: checks, look-ups, serial, store; and the time
spent making time-stamp tokens and in SQL statements), best of ``--rounds``, so a reader sees where the time
goes. A database on this machine shares the CPUs with the workers, as in bench/ocsp.py.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import multiprocessing
import os
import platform
import queue
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from asn1crypto import keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from seal import idle_cpus, issue, per_second
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url

import trustsvc.license.issuance as issuance
from trustsvc.auth import create_api_key
from trustsvc.ca.profiles import ProfileKind
from trustsvc.config import Settings
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.license.render import RenderedLicence
from trustsvc.service import TrustService

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
SYSTEM = "审批系统"
ISSUER = "11430000006122244L"
ISSUER_NAME = "长沙市岳麓区市场监督管理局"
BUSINESS = "11100000MB03271699901"  # 营业执照, a shipped type
HOLDER = "91110000600037341L"
FIELDS: dict[str, Any] = {
    "name": "长沙市岳麓区湘江示范科技有限公司",
    "uscc": HOLDER,
    "entity_type": "有限责任公司（自然人投资或控股）",
    "legal_representative": "张三",
    "business_scope": "软件开发；信息技术咨询服务。",
    "registered_capital": "1000000",
    "established_on": "2020-05-01",
    "business_term": "2020年05月01日至长期",
    "domicile": "湖南省长沙市岳麓区麓谷大道100号",
    "registration_authority": ISSUER_NAME,
}


@dataclass(frozen=True)
class Home:
    """A home ready to issue: SM2 PKI, the issuing organisation's seal, a business system granted it."""

    settings: Settings
    es_id: str
    principal: str


def make_home(directory: Path, database_url: str | None) -> Home:
    """Return a new home in ``directory`` (SQLite there, or ``database_url``) made as the licence tests do."""
    env = {"TRUSTSVC_HOME": str(directory)}
    if database_url:
        env["TRUSTSVC_DATABASE_URL"] = database_url
    settings = Settings.from_env(env)
    TrustService.init(settings)
    service = TrustService.from_settings(settings)
    try:
        service.ca.init_pki(KeyAlgorithm.SM2, actor="bench")
        with service.session() as session, session.begin():
            key, _ = create_api_key(session, SYSTEM, ["business-system"])
            principal = f"apikey:{key.prefix}"
        made = service.seals.create_seal(ISSUER, ISSUER_NAME, 1, actor="bench", authorised=[principal])
    finally:
        service.close()
    return Home(settings, made.seal.es_id, principal)


@contextlib.contextmanager
def own_database(base_url: str) -> Iterator[tuple[str, str]]:
    """Yield (URL, server version) of a database made for this run in ``base_url``'s server; dropped after."""
    url = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"trustsvc_bench_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            server = str(conn.exec_driver_sql("SHOW server_version").scalar_one())
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False), server
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


class Issuing:
    """Issues licences for fresh case ids through one TrustService over ``home``."""

    def __init__(self, home: Home, tag: str) -> None:
        self.home = home
        self.service = TrustService.from_settings(home.settings)
        self.prefix = f"{tag}-{secrets.token_hex(3)}"
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        record, created = self.service.licences.issue(
            SYSTEM,
            f"{self.prefix}-{self.count}",
            "M-001",
            BUSINESS,
            {"code": HOLDER},
            FIELDS,
            self.home.es_id,
            principal=self.home.principal,
        )
        assert created
        return record.identifier

    def close(self) -> None:
        self.service.close()


def reference_signer() -> Callable[[bytes], bytes]:
    """Return pyHanko's bare ``sign_pdf`` with an in-memory ECDSA P-256 key (bench/seal.py's reference)."""
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.ECDSA_P256, "某省电子印章根CA")
    issuing = issue(ProfileKind.ISSUING_CA, root, KeyAlgorithm.ECDSA_P256, "某省电子印章签发CA")
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue(ProfileKind.SEAL_SIGNER, issuing, KeyAlgorithm.ECDSA_P256, ISSUER_NAME, key=key).certificate
    simple = signers.SimpleSigner(
        signing_cert=leaf,
        signing_key=keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([issuing.certificate, root.certificate]),
    )

    def sign(pdf: bytes) -> bytes:
        out = signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)),
            signers.PdfSignatureMetadata(field_name="Signature1"),
            signer=simple,
        )
        return out.getvalue()

    return sign


# --- measuring ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One timed run: operations per second, CPUs the whole machine kept busy, CPUs the bench's own
    processes used (a database server counts in the first only)."""

    rate: float
    machine: float
    bench: float


def _cpu_ticks() -> tuple[int, int]:
    """Return (busy, total) clock ticks of all CPUs so far, from /proc/stat ((0, 0) off Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]  # guest time is counted in user already
    except (OSError, ValueError):
        return 0, 0
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def _busy_since(before: tuple[int, int]) -> float:
    """Return how many CPUs the machine kept busy, on average, since ``before``."""
    busy, total = _cpu_ticks()
    return (os.cpu_count() or 1) * (busy - before[0]) / max(total - before[1], 1)


def measure(op: Callable[[], object], seconds: float) -> Measured:
    """Return ``op``'s rate in this process over ``seconds`` (bench/seal.py's per_second), CPUs used."""
    ticks, cpu, began = _cpu_ticks(), time.process_time(), time.perf_counter()
    rate = per_second(op, seconds)
    wall = time.perf_counter() - began
    return Measured(rate, _busy_since(ticks), (time.process_time() - cpu) / wall)


# --- where the time goes ---------------------------------------------------------------------------------


@dataclass
class Split:
    """Seconds spent in each part of the issuances timed (and calls made), and the last rendered licence."""

    seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("render", "pdf", "ofd", "tsa", "sql"), 0.0)
    )
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("tsa", "sql"), 0))
    rendered: RenderedLicence | None = None
    machine: float = 0.0  # CPUs the whole machine kept busy meanwhile


@contextlib.contextmanager
def timed_parts(service: TrustService) -> Iterator[Split]:
    """Yield a Split filled by every issuance of ``service`` meanwhile: rendering, each sealing, the TSA's
    answers and the SQL statements timed.

    Wraps the module's ``render_licence`` and this service's sealer and TSA objects only (and listens to its
    engine); everything is put back after.
    """
    split = Split()
    render = issuance.render_licence
    sealer, tsa = service.sealer, service.tsa
    seal_document, respond = sealer.seal_document, tsa.respond
    started: list[float] = []

    def timed_render(*args: Any, **kwargs: Any) -> RenderedLicence:
        began = time.perf_counter()
        split.rendered = render(*args, **kwargs)
        split.seconds["render"] += time.perf_counter() - began
        return split.rendered

    def timed_seal(data: bytes, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return seal_document(data, **kwargs)
        finally:
            split.seconds[str(kwargs["format"])] += time.perf_counter() - began

    def timed_respond(body: bytes, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return respond(body, **kwargs)
        finally:
            split.seconds["tsa"] += time.perf_counter() - began
            split.calls["tsa"] += 1

    def before_sql(*_: Any) -> None:
        started.append(time.perf_counter())

    def after_sql(*_: Any) -> None:
        split.seconds["sql"] += time.perf_counter() - started.pop()
        split.calls["sql"] += 1

    issuance.render_licence = timed_render
    # Instance attributes shadow the methods of these two objects only; removing them restores the methods.
    vars(sealer)["seal_document"] = timed_seal
    vars(tsa)["respond"] = timed_respond
    event.listen(service.engine, "before_cursor_execute", before_sql)
    event.listen(service.engine, "after_cursor_execute", after_sql)
    try:
        yield split
    finally:
        event.remove(service.engine, "after_cursor_execute", after_sql)
        event.remove(service.engine, "before_cursor_execute", before_sql)
        issuance.render_licence = render
        del vars(sealer)["seal_document"], vars(tsa)["respond"]


def split_run(issuing: Issuing, count: int) -> tuple[Split, float]:
    """Return the parts of ``count`` issuances and their total seconds."""
    with timed_parts(issuing.service) as split:
        ticks, began = _cpu_ticks(), time.perf_counter()
        for _ in range(count):
            issuing()
        split.machine = _busy_since(ticks)
        return split, time.perf_counter() - began


# --- several processes ---------------------------------------------------------------------------------


def _worker(home: Home, pdf: bytes, barrier: Any, commands: Any, results: Any) -> None:
    """Issue (or reference-sign) for the seconds each command says, after the barrier; report the count."""
    ours = Issuing(home, f"W{os.getpid()}")
    reference = reference_signer()
    try:
        ours()  # warm up: fonts, seal picture, key store, connections
        reference(pdf)
        results.put((0, 0.0, 0.0))
        while (command := commands.get()) is not None:
            kind, seconds = command
            op: Callable[[], object] = ours if kind == "ours" else lambda: reference(pdf)
            barrier.wait(timeout=120)
            began, cpu = time.perf_counter(), time.process_time()
            n = 0
            while time.perf_counter() - began < seconds:
                op()
                n += 1
            results.put((n, time.perf_counter() - began, time.process_time() - cpu))
    finally:
        ours.close()


class Pool:
    """``workers`` processes that run a measurement together; the rate is their total over the longest run."""

    def __init__(self, home: Home, pdf: bytes, workers: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barrier = ctx.Barrier(workers)
        self.results = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(workers)]
        self.procs = [
            ctx.Process(target=_worker, args=(home, pdf, self.barrier, q, self.results), daemon=True)
            for q in self.commands
        ]
        for p in self.procs:
            p.start()
        for _ in self.procs:
            self._get()

    def _get(self) -> tuple[int, float, float]:
        while True:
            try:
                answer: tuple[int, float, float] = self.results.get(timeout=5)
                return answer
            except queue.Empty:  # check that nobody died
                if any(p.exitcode not in (None, 0) for p in self.procs):
                    raise SystemExit("a worker process failed (see its traceback above)") from None

    def rate(self, kind: str, seconds: float) -> Measured:
        ticks = _cpu_ticks()
        for q in self.commands:
            q.put((kind, seconds))
        runs = [self._get() for _ in self.procs]
        wall = max(elapsed for _, elapsed, _ in runs)
        return Measured(
            sum(n for n, _, _ in runs) / wall, _busy_since(ticks), sum(cpu for _, _, cpu in runs) / wall
        )

    def close(self) -> None:
        for q in self.commands:
            q.put(None)
        for p in self.procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()


# --- the run -------------------------------------------------------------------------------------------


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="seconds per measurement (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the best counts (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="processes on PostgreSQL (default 2)")
    parser.add_argument("--split", type=int, default=20, help="issuances timed part by part (default 20)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TRUSTSVC_TEST_DATABASE_URL") or DEFAULT_PG,
        help="PostgreSQL server to make the bench database in (default $TRUSTSVC_TEST_DATABASE_URL or "
        f"{DEFAULT_PG}); only the database made for the run is touched",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)

    print("trustsvc licence issuance bench")
    print(f"  date       {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"  machine    {platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"  python     {platform.python_implementation()} {platform.python_version()}")
    libraries = ", ".join(f"{n} {version(n)}" for n in ("pyHanko", "SQLAlchemy", "psycopg", "lxml"))
    print(f"  libraries  {libraries}")
    print(f"  runs       {args.seconds:g} s each, best of {args.rounds} rounds, interleaved")
    print(f"  load       {_load()} (1, 5, 15 min) before the run")
    idle = idle_cpus()
    if idle is not None:
        print(f"  idle CPUs  {idle:.2f} of {os.cpu_count()} in the second before the run")

    with tempfile.TemporaryDirectory(prefix="trustsvc-bench-") as tmp, contextlib.ExitStack() as stack:
        sqlite_home = make_home(Path(tmp) / "sqlite", None)
        ours = Issuing(sqlite_home, "S")
        stack.callback(ours.close)
        with timed_parts(ours.service) as warm:
            began = time.perf_counter()
            ours()
            first = time.perf_counter() - began
        assert warm.rendered is not None
        pdf = warm.rendered.pdf
        reference = reference_signer()
        reference(pdf)
        print(f"  document   the rendered licence: PDF {len(pdf)} bytes, OFD {len(warm.rendered.ofd)} bytes")

        pool: Pool | None = None
        pg_home: Home | None = None
        if not args.no_postgres:
            url, server = stack.enter_context(own_database(args.database_url))
            where = make_url(url)
            print(f"  database   PostgreSQL {server} at {where.host}, database {where.database}")
            pg_home = make_home(Path(tmp) / "pg", url)
            pool = Pool(pg_home, pdf, args.workers)
            stack.callback(pool.close)
        print()

        # The split first, while both databases are fresh (after the throughput runs PostgreSQL is still
        # busy writing them out): in this process, interleaved, best (lowest total) of the rounds.
        issuers = {"SQLite": ours}
        if pg_home is not None:
            issuers["PostgreSQL"] = Issuing(pg_home, "S")
            stack.callback(issuers["PostgreSQL"].close)
            for _ in range(3):
                issuers["PostgreSQL"]()
        tries: dict[str, list[tuple[Split, float]]] = {name: [] for name in issuers}
        for _ in range(args.rounds):
            for name, issuing in issuers.items():
                tries[name].append(split_run(issuing, args.split))
        splits = {name: min(found, key=lambda t: t[1]) for name, found in tries.items()}

        runs: dict[str, list[Measured]] = {"ref1": [], "sqlite": [], "refN": [], "pg": []}
        for _ in range(args.rounds):
            runs["ref1"].append(measure(lambda: reference(pdf), args.seconds))
            runs["sqlite"].append(measure(ours, args.seconds))
            if pool is not None:
                runs["refN"].append(pool.rate("reference", args.seconds))
                runs["pg"].append(pool.rate("ours", args.seconds))
        best = {name: max(values, key=lambda m: m.rate) for name, values in runs.items() if values}
        after = _load()

    w = args.workers
    print(f"{'':58}{'per s':>9}{'ms each':>9}{'ratio':>7}{'CPUs busy: all':>16}{'bench':>7}")
    rows = [
        ("reference: pyHanko sign_pdf of the licence PDF, 1 process", "ref1", "ref1"),
        ("ours: issue (render, seal PDF+OFD B-T, store), SQLite", "sqlite", "ref1"),
        (f"reference: pyHanko sign_pdf, {w} processes", "refN", "refN"),
        (f"ours: issue, PostgreSQL, {w} processes", "pg", "refN"),
    ]
    for label, name, against in rows:
        if name in best:
            m = best[name]
            ratio = m.rate / best[against].rate
            print(f"{label:58}{m.rate:9.1f}{1000 / m.rate:9.1f}{ratio:7.2f}{m.machine:16.2f}{m.bench:7.2f}")
    print()
    print(
        "CPUs busy: the whole machine and the bench's own processes, on average over the round shown; "
        "the difference is other load (and the PostgreSQL server, when on this machine)"
    )
    print(f"first issuance (cold caches: fonts, seal picture, key store): {first * 1000:.0f} ms")
    print(f"load after the timed runs: {after}")
    print()
    print_split(splits, args.split)
    return 0


def print_split(splits: dict[str, tuple[Split, float]], count: int) -> None:
    """Print ms per licence of each part, and its share, for each database."""
    print(f"where the time goes: {count} issuances each, one process, in-process timers (best round)")
    header = "".join(f"{name + ' ms':>15}{'share':>7}" for name in splits)
    print(f"{'':58}{header}")
    lines: list[tuple[str, Callable[[Split, float], float]]] = [
        ("render (layout, QR, PDF and OFD)", lambda s, _: s.seconds["render"]),
        ("seal PDF, B-T (pyHanko, TSA tokens, audit record)", lambda s, _: s.seconds["pdf"]),
        ("seal OFD, B-T (TSA token, audit record)", lambda s, _: s.seconds["ofd"]),
        (
            "the rest: checks, look-ups, serial, store (by difference)",
            lambda s, total: total - s.seconds["render"] - s.seconds["pdf"] - s.seconds["ofd"],
        ),
        ("total issue()", lambda _, total: total),
        ("  of which: time-stamp tokens made (TSA, in-process)", lambda s, _: s.seconds["tsa"]),
        ("  of which: SQL statements (commits not included)", lambda s, _: s.seconds["sql"]),
    ]
    for label, part in lines:
        cells = "".join(
            f"{part(split, total) * 1000 / count:15.1f}{part(split, total) / total:7.0%}"
            for split, total in splits.values()
        )
        print(f"{label:58}{cells}")
    for name, (split, _) in splits.items():
        tokens, statements = split.calls["tsa"] / count, split.calls["sql"] / count
        print(
            f"{name}: {tokens:.1f} time-stamp tokens and {statements:.0f} SQL statements per licence; "
            f"{split.machine:.2f} CPUs busy on the machine meanwhile"
        )


if __name__ == "__main__":
    sys.exit(main())
