"""OCSP responses per second from ``trustsvc serve`` (gunicorn), against ``openssl ocsp`` in the same sitting.

    .venv/bin/python bench/ocsp.py [--seconds 10] [--rounds 1] [--workers 2] [--threads N]
        [--database-url URL]

What runs (loopback only, everything stopped at the end):

- a fresh home made with ``trustsvc init --algorithm ecdsa-p256`` in a temporary directory (SQLite there,
  or ``--database-url``), one ECDSA leaf issued by ``ecdsa-issuing``, its responses pre-signed with
  ``trustsvc ca ocsp-refresh``, served by ``trustsvc serve --workers 2`` (the production server: gunicorn,
  sync workers; ``--threads N`` passes ``serve --threads N``: gthread workers with keep-alive);
- ``openssl ocsp -index index.txt -port P -rsigner resp.pem -rkey resp.key -CA issuing.pem -ndays 1
  -multi 2`` answering for the same leaf: two processes, as our two workers, and a nextUpdate as ours.
  Its responder certificate is a second ``ocsp-responder`` certificate issued by the same CA from a CSR for a
  key openssl made (our responder key stays in our key store: nothing is exported);
- ``wrk -t2 -c16 -dNs`` against each in turn, three ways: the RFC 5019 GET of a request without nonce (what
  caches and browsers send), POST of that request, and POST of a request with a nonce (ours signs that one
  per request; openssl signs every response, nonce or not). Each server's URL is its own natural one
  (``/ocsp/<base64>`` for ours, ``/<base64>`` for openssl's).

The bare connection wrk opens to probe an address before its run, and the connections it cuts at the end
of a run, each hang an ``openssl ocsp`` process for good (openssl/openssl#23934, #31129: a connection
closed before its request line makes the responder loop on EOF). So the wrk script skips the probe (for
both servers alike) and openssl's responder is started afresh for every run. ``GET /health`` of ours is
timed too: one database read and a JSON body through the same gunicorn/Flask stack, the floor under any
answer of ours.

Before timing, each server's answer to each of the three requests is checked with ``openssl ocsp -respin
... -CAfile root.pem`` to be a verified ``good``. Prints requests/s of each and ours/openssl. ``--rounds N``
repeats the set, interleaved, and keeps each side's best round (other load only ever slows a run down).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem, x509

WRK_THREADS = 2
WRK_CONNECTIONS = 16
START_TIMEOUT = 60.0
SUBJECT_O = "某市市场监督管理局"
SUBJECT_USCC = "11330105002500287C"


@dataclass
class Setup:
    workdir: Path
    env: dict[str, str]
    ours_port: int
    openssl_port: int
    get_request: bytes  # DER, no nonce
    nonce_request: bytes  # DER, with nonce


def _trustsvc() -> list[str]:
    script = Path(sys.executable).with_name("trustsvc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trustsvc.cli"]


def _run(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(workdir: Path, database_url: str | None) -> Setup:
    """Make the home, the leaf, openssl's responder certificate and index, and the two requests."""
    ours_port, openssl_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTSVC_")} | {
        "TRUSTSVC_HOME": str(workdir / "home"),
        "TRUSTSVC_PUBLIC_BASE_URL": f"http://127.0.0.1:{ours_port}",
    }
    if database_url:
        env["TRUSTSVC_DATABASE_URL"] = database_url
    cli = _trustsvc()
    _run([*cli, "init", "--algorithm", "ecdsa-p256"], env=env)
    for name, filename in (("ecdsa-root", "root.pem"), ("ecdsa-issuing", "issuing.pem")):
        _run([*cli, "ca", "export", "--ca", name, "--pem", "--out", str(workdir / filename)], env=env)
    subject = ["--subject-o", SUBJECT_O, "--subject-uscc", SUBJECT_USCC]
    _run(
        [
            *cli,
            "ca",
            "issue",
            "--ca",
            "ecdsa-issuing",
            "--profile",
            "seal-signer",
            "--generate-key",
            "ecdsa-p256",
            "--subject-cn",
            "OCSP bench leaf",
            *subject,
            "--out",
            str(workdir / "leaf.pem"),
        ],
        env=env,
    )

    # openssl's own responder: its key made by openssl, certified by the same CA with the same profile
    _run(
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "resp.key"],
        cwd=workdir,
    )
    _run(
        ["openssl", "req", "-new", "-key", "resp.key", "-subj", "/CN=openssl ocsp bench", "-out", "resp.csr"],
        cwd=workdir,
    )
    _run(
        [
            *cli,
            "ca",
            "issue",
            "--ca",
            "ecdsa-issuing",
            "--profile",
            "ocsp-responder",
            "--csr",
            str(workdir / "resp.csr"),
            "--subject-o",
            SUBJECT_O,
            "--out",
            str(workdir / "resp.pem"),
        ],
        env=env,
    )

    _, _, der = pem.unarmor((workdir / "leaf.pem").read_bytes())
    leaf = x509.Certificate.load(der)
    expiry = leaf.not_valid_after.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ")
    subject_line = (
        _run(["openssl", "x509", "-in", "leaf.pem", "-noout", "-subject", "-nameopt", "compat"], cwd=workdir)
        .strip()
        .removeprefix("subject=")
    )
    (workdir / "index.txt").write_text(f"V\t{expiry}\t\t{leaf.serial_number:X}\tunknown\t{subject_line}\n")
    (workdir / "index.txt.attr").write_text("unique_subject = no\n")

    _run(
        ["openssl", "ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-no_nonce", "-reqout", "get.der"],
        cwd=workdir,
    )
    _run(
        ["openssl", "ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "nonce.der"],
        cwd=workdir,
    )
    _run([*cli, "ca", "ocsp-refresh", "--ca", "ecdsa-issuing"], env=env)
    return Setup(
        workdir,
        env,
        ours_port,
        openssl_port,
        (workdir / "get.der").read_bytes(),
        (workdir / "nonce.der").read_bytes(),
    )


@contextmanager
def server(
    args: list[str], *, env: dict[str, str] | None, cwd: Path, ready_url: str, log: Path
) -> Iterator[None]:
    """Run a server in its own process group until the block ends, once it answers ``ready_url``.

    A process group, not a session: ``openssl ocsp -multi`` calls setpgid() itself, which a session leader
    may not do (it then exits at once). Readiness is a complete HTTP request, never a bare connect: a
    connection closed before its request line hangs an ``openssl ocsp`` process for good (openssl/openssl
    #23934, #31129).
    """
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise SystemExit(
                    f"{args[0]} exited with {process.returncode}:\n{log.read_text(errors='replace')}"
                )
            try:
                fetch(ready_url, None)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{' '.join(args)} did not answer within {START_TIMEOUT} s") from None
                time.sleep(0.2)
        yield
    finally:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
            except ProcessLookupError:
                pass


def fetch(url: str, body: bytes | None) -> bytes:
    headers = {"Content-Type": "application/ocsp-request"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=20) as response:
        data: bytes = response.read()
        return data


def check_good(setup: Setup, der: bytes, what: str, request_file: str | None = None) -> None:
    path = setup.workdir / "sample.der"
    path.write_bytes(der)
    args = ["openssl", "ocsp", "-respin", str(path), "-issuer", "issuing.pem", "-CAfile", "root.pem"]
    if request_file:  # nonce check against the request
        out = _run([*args, "-reqin", request_file], cwd=setup.workdir)
        if "Response verify OK" not in out or "WARNING" in out:
            raise SystemExit(f"{what}: response does not verify against {request_file}:\n{out}")
    out = _run([*args, "-cert", "leaf.pem", "-no_nonce"], cwd=setup.workdir)
    if "Response verify OK" not in out or not re.search(r"^leaf\.pem: good$", out, re.MULTILINE):
        raise SystemExit(f"{what}: response is not a verified 'good':\n{out}")


# wrk tries each resolved address with a connect-and-close before the run; that bare connection hangs an
# `openssl ocsp` process for good (see server()), so the address is taken as resolved, for both servers.
_WRK_SCRIPT = """
function wrk.resolve(host, service)
   wrk.addrs = wrk.lookup(host, service)
end
"""
_WRK_POST = """
wrk.method = "POST"
local f = io.open("{body}", "rb")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
"""


def wrk(url: str, seconds: int, workdir: Path, body: bytes | None) -> tuple[float, str]:
    """Return requests/s from ``wrk`` and a note on errors (non-2xx, socket errors)."""
    script = _WRK_SCRIPT
    if body is not None:
        (workdir / "body.der").write_bytes(body)
        script += _WRK_POST.format(body=workdir / "body.der")
    (workdir / "bench.lua").write_text(script)
    args = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
            "-s", str(workdir / "bench.lua"), url]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not found:
        raise SystemExit(f"cannot read wrk output:\n{out}")
    notes = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return float(found.group(1)), "; ".join(notes)


def _proc_stat() -> tuple[int, int] | None:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)
    except (OSError, ValueError, IndexError):
        return None


def idle_cpus() -> float | None:
    before = _proc_stat()
    time.sleep(1)
    after = _proc_stat()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (os.cpu_count() or 1) * (after[0] - before[0]) / (after[1] - before[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run (default 10)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the set, keep each side's best (default 1)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers, and openssl -multi (default 2)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="trustsvc serve --threads N: gthread workers with keep-alive (default: serve's sync workers)",
    )
    parser.add_argument("--database-url", help="PostgreSQL URL for our service (default: SQLite in the home)")
    args = parser.parse_args(argv)
    for tool in ("openssl", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH")

    workdir = Path(tempfile.mkdtemp(prefix="trustsvc-ocsp-bench-"))
    try:
        setup = prepare(workdir, args.database_url)
        ours_base = f"http://127.0.0.1:{setup.ours_port}"
        openssl_base = f"http://127.0.0.1:{setup.openssl_port}"
        encoded = base64.b64encode(setup.get_request).decode()
        variants = {
            "GET, no nonce (RFC 5019)": (f"{ours_base}/ocsp/{encoded}", f"{openssl_base}/{encoded}", None),
            "POST, no nonce": (f"{ours_base}/ocsp", f"{openssl_base}/", setup.get_request),
            "POST, nonce": (f"{ours_base}/ocsp", f"{openssl_base}/", setup.nonce_request),
        }
        openssl_version = _run(["openssl", "version"]).strip()
        wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout
        print("trustsvc OCSP bench")
        print(f"  date      {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
        print(f"  machine   {platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}")
        print(f"  python    {platform.python_implementation()} {platform.python_version()}")
        threads = args.threads or 1  # serve's default: sync workers
        worker = f"gthread, {threads} threads, keep-alive" if threads > 1 else "sync"
        print(
            f"  ours      trustsvc serve --workers {args.workers} --threads {threads} (gunicorn {worker}), "
            f"{'PostgreSQL' if args.database_url else 'SQLite'}, ECDSA P-256 responder, pre-signed"
        )
        print(f"  openssl   {openssl_version}: ocsp -index -multi {args.workers} -ndays 1, ECDSA P-256")
        print(
            f"  load      {(wrk_version.splitlines() or ['wrk'])[0]} -t{WRK_THREADS} -c{WRK_CONNECTIONS} "
            f"-d{args.seconds}s, best of {args.rounds} round(s)"
        )
        idle = idle_cpus()
        if idle is not None:
            print(f"  idle CPUs {idle:.2f} of {os.cpu_count()} in the second before the run")
        print()

        openssl_args = ["openssl", "ocsp", "-index", "index.txt", "-port", str(setup.openssl_port),
                        "-rsigner", "resp.pem", "-rkey", "resp.key", "-CA", "issuing.pem", "-ndays", "1",
                        "-multi", str(args.workers)]  # fmt: skip
        get_ours, get_openssl, _ = variants["GET, no nonce (RFC 5019)"]

        def openssl_server() -> AbstractContextManager[None]:
            # A fresh responder for every run: the connections wrk cuts at the end of a run hang openssl's
            # processes (see server()), which would then spin through the next run.
            return server(openssl_args, env=None, cwd=workdir, ready_url=get_openssl,
                          log=workdir / "openssl-ocsp.log")  # fmt: skip

        best: dict[tuple[str, str], tuple[float, str]] = {}
        serve_args = [*_trustsvc(), "serve", "--bind", f"127.0.0.1:{setup.ours_port}",
                      "--workers", str(args.workers)]  # fmt: skip
        if args.threads is not None:
            serve_args += ["--threads", str(args.threads)]
        ours_server = server(
            serve_args,
            env=setup.env,
            cwd=workdir,
            ready_url=f"{ours_base}/health",
            log=workdir / "serve.log",
        )
        with ours_server:
            with openssl_server():
                for name, (ours_url, openssl_url, body) in variants.items():
                    request_file = "nonce.der" if body is setup.nonce_request else None
                    check_good(setup, fetch(ours_url, body), f"ours, {name}", request_file)
                    check_good(setup, fetch(openssl_url, body), f"openssl, {name}", request_file)
            wrk(get_ours, 2, workdir, None)  # warm up our workers (imports, connections, responders)
            for _round in range(args.rounds):
                for name, (ours_url, openssl_url, body) in variants.items():
                    results = {"ours": wrk(ours_url, args.seconds, workdir, body)}
                    with openssl_server():
                        results["openssl"] = wrk(openssl_url, args.seconds, workdir, body)
                    for side, (rate, notes) in results.items():
                        if rate > best.get((name, side), (-1.0, ""))[0]:
                            best[(name, side)] = (rate, notes)
                health = wrk(f"{ours_base}/health", args.seconds, workdir, None)
                if health[0] > best.get(("health", "ours"), (-1.0, ""))[0]:
                    best[("health", "ours")] = health
        print(f"{'requests/s':<28}{'ours':>10}{'openssl':>10}{'ratio':>8}")
        for name in variants:
            ours, ours_notes = best[(name, "ours")]
            theirs, their_notes = best[(name, "openssl")]
            ratio = f"{ours / theirs:.2f}" if theirs else "-"
            print(f"  {name:<26}{ours:>10.0f}{theirs:>10.0f}{ratio:>8}")
            for side, notes in (("ours", ours_notes), ("openssl", their_notes)):
                if notes:
                    print(f"    {side}: {notes}")
        floor, floor_notes = best[("health", "ours")]
        print(f"  {'ours, GET /health':<26}{floor:>10.0f}{'':>10}{'':>8}  (the web stack: one DB read, JSON)")
        if floor_notes:
            print(f"    ours: {floor_notes}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
