"""SM2 and SM3 throughput through trustsvc's API, against `openssl speed` run in the same sitting.

    .venv/bin/python bench/crypto.py [--seconds 3] [--rounds 3] [--check]

Prints, for each figure, ours, OpenSSL's and the ratio:
- SM2 sign/s and verify/s on one thread vs ``openssl speed -seconds N sm2``. Target: ours/openssl >= 0.90.
- SM2 sign/s and verify/s on two threads vs ours on one (ctypes releases the GIL). Target: >= 1.70.
- SM3 MB/s on 1 KiB and 1 MiB inputs vs ``openssl speed -seconds N -evp sm3 -bytes …`` (no target: SM3 comes
  from `cryptography`'s bundled OpenSSL, the reference is the system one).

Each measurement runs for ``--seconds`` (3) with key objects built once, as a service would hold them. The
whole set runs ``--rounds`` times, OpenSSL's runs interleaved with ours, and each side's best round counts:
on a shared machine other processes only ever slow a run down, so the best round is the least disturbed one,
for OpenSSL and for us alike. How busy the machine was is printed beside the two-thread figures.
``--check`` makes the exit status 1 when an SM2 target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cryptography

from trustsvc.keys.sm2 import SM2PrivateKey, openssl_version
from trustsvc.keys.sm3 import sm3

MESSAGE = bytes(range(32))  # a 32-byte message: a digest-sized payload, as in certificates and seals
SPEED_RATIO_TARGET = 0.90
THREAD_SCALING_TARGET = 1.70


@dataclass
class Rate:
    per_second: float
    cpu_ours: float  # CPUs this process kept busy on average (~threads when nothing competes)
    cpu_machine: float | None  # CPUs the whole machine kept busy (Linux); the excess over ours is other work


def _proc_stat() -> tuple[int, int] | None:
    """Return (idle, total) clock ticks of all CPUs from /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait
    except (OSError, ValueError, IndexError):
        return None


def busy_cpus(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Return how many CPUs the machine kept busy between two /proc/stat samples."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return (os.cpu_count() or 1) * (1 - (after[0] - before[0]) / (after[1] - before[1]))


def ops_per_second(op: Callable[[], object], seconds: float, threads: int = 1) -> Rate:
    """Return the total rate of ``op`` over ``threads`` threads, each calling it in a loop for ``seconds``."""
    counts = [0] * threads
    start_line = threading.Barrier(threads + 1)
    deadline = [0.0]

    def loop(i: int) -> None:
        start_line.wait()
        n = 0
        end = deadline[0]
        while True:
            for _ in range(16):  # check the clock every 16 calls, not every call
                op()
            n += 16
            if time.perf_counter() >= end:
                break
        counts[i] = n

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    stat_began = _proc_stat()
    cpu_began = time.process_time()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start_line.wait()
    for w in workers:
        w.join()
    wall = time.perf_counter() - began
    cpu_ours = (time.process_time() - cpu_began) / wall
    return Rate(sum(counts) / wall, cpu_ours, busy_cpus(stat_began, _proc_stat()))


@dataclass
class Sm2Speed:
    sign: float
    verify: float


def openssl_speed_sm2(openssl: str, seconds: int) -> Sm2Speed:
    """Return sign/s and verify/s from ``openssl speed -seconds N sm2``."""
    out = subprocess.run(
        [openssl, "speed", "-seconds", str(seconds), "sm2"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"cannot parse `openssl speed sm2` output:\n{out}")
    return Sm2Speed(float(match.group(1)), float(match.group(2)))


def openssl_speed_sm3(openssl: str, seconds: int, size: int) -> float:
    """Return MB/s (10^6 bytes) from ``openssl speed -seconds N -evp sm3 -bytes SIZE``."""
    out = subprocess.run(
        [openssl, "speed", "-seconds", str(seconds), "-evp", "sm3", "-bytes", str(size)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"^sm3\s+([\d.]+)k", out, re.MULTILINE)
    if not match:
        raise SystemExit(f"cannot parse `openssl speed -evp sm3` output:\n{out}")
    return float(match.group(1)) * 1000 / 1e6  # openssl prints thousands of bytes per second


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def best(rates: list[Rate]) -> Rate:
    return max(rates, key=lambda r: r.per_second)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="seconds per measurement (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best counts (default 3)")
    parser.add_argument("--check", action="store_true", help="exit 1 if an SM2 target is missed")
    args = parser.parse_args(argv)
    seconds, rounds = args.seconds, args.rounds

    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("the `openssl` command line tool is needed for the reference figures")
    cli_version = subprocess.run(
        [openssl, "version"], capture_output=True, text=True, check=True
    ).stdout.strip()

    print("trustsvc crypto bench")
    print(f"  date       {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"  machine    {platform.node()}: {cpu_model()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"  python     {platform.python_implementation()} {platform.python_version()}")
    print(f"  libcrypto  {openssl_version()} (trustsvc.keys.sm2)")
    print(f"  openssl    {cli_version} (reference)")
    print(f"  SM3 from   cryptography {cryptography.__version__}")
    print(f"  runs       {seconds} s each, best of {rounds} rounds; SM2 message is {len(MESSAGE)} bytes")
    stat_before = _proc_stat()
    time.sleep(1)
    idle = (os.cpu_count() or 1) - (busy_cpus(stat_before, _proc_stat()) or 0.0)
    print(f"  idle CPUs  {idle:.2f} of {os.cpu_count()} in the second before the run")
    print()

    key = SM2PrivateKey.generate()
    pub = key.public_key()
    signature = key.sign(MESSAGE)

    def sign() -> None:
        key.sign(MESSAGE)

    def verify() -> None:
        pub.verify(signature, MESSAGE)

    refs: list[Sm2Speed] = []
    runs: dict[str, list[Rate]] = {"sign1": [], "verify1": [], "sign2": [], "verify2": []}
    for _ in range(rounds):
        refs.append(openssl_speed_sm2(openssl, seconds))
        runs["sign1"].append(ops_per_second(sign, seconds))
        runs["verify1"].append(ops_per_second(verify, seconds))
        runs["sign2"].append(ops_per_second(sign, seconds, threads=2))
        runs["verify2"].append(ops_per_second(verify, seconds, threads=2))
    ref = Sm2Speed(max(r.sign for r in refs), max(r.verify for r in refs))
    sign_1, verify_1 = best(runs["sign1"]), best(runs["verify1"])
    sign_2, verify_2 = best(runs["sign2"]), best(runs["verify2"])

    sm3_rows = []
    for size, label in ((1024, "1 KiB"), (1024 * 1024, "1 MiB")):
        data = os.urandom(size)
        ours_mb, ref_mb = 0.0, 0.0
        for _ in range(rounds):
            ref_mb = max(ref_mb, openssl_speed_sm3(openssl, seconds, size))
            ours_mb = max(
                ours_mb, ops_per_second(functools.partial(sm3, data), seconds).per_second * size / 1e6
            )
        sm3_rows.append((label, ours_mb, ref_mb))

    misses = []

    def verdict(value: float, target: float, name: str) -> str:
        if value >= target:
            return f"ok (target >= {target:.2f})"
        misses.append(name)
        return f"MISSED (target >= {target:.2f})"

    def spread(values: list[float]) -> str:
        return "/".join(f"{v:.0f}" for v in values)

    print(f"{'SM2, one thread':<26}{'ours':>10}{'openssl speed':>16}{'ratio':>8}")
    for name, ours, mean, ours_all, ref_all in (
        ("sign/s", sign_1, ref.sign, runs["sign1"], [r.sign for r in refs]),
        ("verify/s", verify_1, ref.verify, runs["verify1"], [r.verify for r in refs]),
    ):
        ratio = ours.per_second / mean
        mark = verdict(ratio, SPEED_RATIO_TARGET, "SM2 " + name)
        rounds_text = f"(rounds: ours {spread([r.per_second for r in ours_all])}; openssl {spread(ref_all)})"
        print(f"  {name:<24}{ours.per_second:>10.0f}{mean:>16.0f}{ratio:>8.2f}  {mark}   {rounds_text}")
    print(f"\n{'SM2, two threads':<26}{'ours 2t':>10}{'ours 1t':>16}{'ratio':>8}")
    for name, two, one in (("sign/s", sign_2, sign_1), ("verify/s", verify_2, verify_1)):
        ratio = two.per_second / one.per_second
        mark = verdict(ratio, THREAD_SCALING_TARGET, "SM2 two-thread " + name)
        machine = f"{two.cpu_machine:.2f}" if two.cpu_machine is not None else "?"
        cpu = f"(CPUs busy in the best round: ours {two.cpu_ours:.2f}, whole machine {machine})"
        print(f"  {name:<24}{two.per_second:>10.0f}{one.per_second:>16.0f}{ratio:>8.2f}  {mark}   {cpu}")
    print(f"\n{'SM3 (MB/s)':<26}{'ours':>10}{'openssl speed':>16}{'ratio':>8}")
    for label, ours_mb, ref_mb in sm3_rows:
        print(f"  {label:<24}{ours_mb:>10.0f}{ref_mb:>16.0f}{ours_mb / ref_mb:>8.2f}")

    if misses:
        print(f"\nmissed: {', '.join(misses)}")
    return 1 if (misses and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
