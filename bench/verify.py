"""Verification throughput of trustsvc's engine, beside pyHanko's ``validate_pdf_signature``, same sitting.

    .venv/bin/python bench/verify.py [--seconds 3] [--rounds 3]

Builds a throw-away PKI in memory (root, issuing CA, seal maker, seal signer; one set with SM2 keys, one with
ECDSA P-256 keys, as bench/seal.py does), a seal for each, and three sealed documents:

- a 1-page PDF sealed with the SM2 key (adbe.pkcs7.detached, SM3), by :func:`trustsvc.pdf.seal_pdf`;
- the same PDF sealed with the ECDSA key (PAdES);
- a 1-page OFD sealed with the SM2 key by :func:`trustsvc.ofd.signing.seal_ofd`.

Then it counts complete :meth:`VerificationEngine.verify` calls per second for each — format detection,
SHA-256 and SM3 of the document, integrity, signer chain to the root (pyhanko-certvalidator), revocation of
every certificate below the root, seal maker chain, signer listed, seal validity, seal status — with a trust
store trusting the roots and issuing CAs (as our trust list does) and a status resolver that answers
"good"/"active" from memory (standing in for our database: no network, no SQL, so the figure is the engine's
own cost). The reference: pyHanko's
``validate_pdf_signature`` of the ECDSA PDF with a plain ``ValidationContext`` trusting the same root, no
revocation checking (``revocation_mode="soft-fail"``, fetching off) — what a bare PDF signature validation
costs in the best-known Python library. Ratios are ours/reference. Each figure runs ``--seconds`` (3); the set
runs ``--rounds`` times interleaved and each side's best round counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import platform
from importlib.metadata import version

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from seal import PLACEMENT, Setup, idle_cpus, one_page_ofd, one_page_pdf, per_second, setup

from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.sm3 import sm3
from trustsvc.ofd.signing import OfdPlacement, seal_ofd
from trustsvc.pdf import seal_pdf
from trustsvc.seal import ses
from trustsvc.seal.picture import SealPictureSpec, render_seal
from trustsvc.verify.engine import VerificationEngine
from trustsvc.verify.status import CertificateStatusAnswer, SealStatusAnswer
from trustsvc.verify.truststore import TrustStore


class MemoryStatus:
    """Every certificate good, every seal active: the answers our database would give, from memory."""

    def __init__(self, since: dt.datetime) -> None:
        self.since = since

    def certificate_status(
        self, certificate: x509.Certificate, issuer: x509.Certificate
    ) -> CertificateStatusAnswer | None:
        return CertificateStatusAnswer("good", "database")

    def seal_status(self, seal: ses.Seal) -> SealStatusAnswer | None:
        return SealStatusAnswer("active", self.since, sm3(seal.der).hex(), (), "registry")


def sealed_pdf(pdf: bytes, s: Setup, picture: bytes) -> bytes:
    return seal_pdf(
        pdf,
        signer=s.signer.signer,
        signer_cert=s.signer.certificate,
        chain=s.chain,
        seal_der=s.seal,
        picture_png=picture,
        placement=PLACEMENT,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3, help="seconds per measurement (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best counts (default 3)")
    args = parser.parse_args(argv)
    # pyHanko logs, with a traceback, every path it fails to build on the way to the one that works
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)

    print("trustsvc verification bench")
    print(f"  date       {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"  machine    {platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"  python     {platform.python_implementation()} {platform.python_version()}")
    print(f"  pyHanko    {version('pyHanko')}, pyhanko-certvalidator {version('pyhanko-certvalidator')}")
    print(f"  runs       {args.seconds:g} s each, best of {args.rounds} rounds, one thread")
    idle = idle_cpus()
    if idle is not None:
        print(f"  idle CPUs  {idle:.2f} of {os.cpu_count()} in the second before the run")
    load = os.getloadavg()
    print(f"  load       {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min)")

    picture = render_seal(SealPictureSpec(name="某市市场监督管理局", seal_name="行政审批专用章"))
    pdf = one_page_pdf()
    sm2 = setup(KeyAlgorithm.SM2, picture)
    ecdsa = setup(KeyAlgorithm.ECDSA_P256, picture)
    now = dt.datetime.now(dt.UTC)
    documents = {
        "pdf-sm2": (sealed_pdf(pdf, sm2, picture), sm2),
        "pdf-ecdsa": (sealed_pdf(pdf, ecdsa, picture), ecdsa),
        "ofd-sm2": (
            seal_ofd(
                one_page_ofd(),
                seal_der=sm2.seal,
                signer_cert_der=bytes(sm2.signer.certificate.dump()),
                signer=sm2.signer.signer,
                placement=OfdPlacement.box(1, 120, 200, 42, 42),
                time_info=now,
            ),
            sm2,
        ),
    }
    # Anchors: each root and, as our trust list publishes them, each issuing CA (the seal carries only the
    # maker's certificate, so the maker chain needs its CA from the trust store).
    roots = [c for s in (sm2, ecdsa) for c in reversed(s.chain)]
    engine = VerificationEngine(
        TrustStore(()).with_local_anchors(roots), MemoryStatus(now - dt.timedelta(days=1))
    )
    for name, (data, _) in documents.items():
        found = engine.verify(data)
        print(f"  {name:10} {len(data):7d} bytes, verdict {found.report}")
        assert found.report == "VALID", found.to_json()
    print()

    ecdsa_pdf = documents["pdf-ecdsa"][0]
    context = ValidationContext(
        trust_roots=[ecdsa.chain[-1]], allow_fetching=False, revocation_mode="soft-fail"
    )

    def reference() -> None:
        (embedded,) = PdfFileReader(io.BytesIO(ecdsa_pdf)).embedded_signatures
        status = validate_pdf_signature(embedded, context)
        assert status.bottom_line, status.pretty_print_details()

    reference()
    runs: dict[str, list[float]] = {"ref": [], **{name: [] for name in documents}}
    for _ in range(args.rounds):
        runs["ref"].append(per_second(reference, args.seconds))
        for name, (data, _) in documents.items():
            runs[name].append(per_second(lambda data=data: engine.verify(data), args.seconds))
    best = {name: max(values) for name, values in runs.items()}
    ref = best["ref"]

    print(f"{'':52}{'docs/s':>10}{'ms each':>10}{'ratio':>8}")
    print(
        f"{'pyHanko validate_pdf_signature, ECDSA PDF, no rev.':52}{ref:10.1f}{1000 / ref:10.1f}{'1.00':>8}"
    )
    labels = {
        "pdf-ecdsa": "ours VerificationEngine.verify, ECDSA PDF",
        "pdf-sm2": "ours VerificationEngine.verify, SM2 PDF",
        "ofd-sm2": "ours VerificationEngine.verify, SM2 OFD",
    }
    for name, label in labels.items():
        rate = best[name]
        print(f"{label:52}{rate:10.1f}{1000 / rate:10.1f}{rate / ref:8.2f}")
    load = os.getloadavg()
    print()
    print(f"load after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
