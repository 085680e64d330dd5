"""PDF sealing throughput through trustsvc's API, against pyHanko's plain ``sign_pdf`` in the same sitting.

    .venv/bin/python bench/seal.py [--seconds 3] [--rounds 3]
    .venv/bin/python bench/seal.py --ofd [--seconds 3] [--rounds 3]    # OFD sealing: the part at the end

Prints 1-page PDFs sealed per second, each a complete :func:`trustsvc.pdf.seal_pdf` call (input checks, seal
check, visible seal picture at 600 dpi, the seal attribute, B-B signature, output bytes):

- ours with an ECDSA P-256 key (PAdES), and with an SM2 key (adbe.pkcs7.detached, SM3);
- the reference: pyHanko's ``signers.sign_pdf`` with an ECDSA P-256 ``SimpleSigner`` on the same document,
  invisible signature, default settings — what a bare pyHanko signing costs on this machine;

and ours/reference. Keys are software keys held in memory, as the key store's software backend holds them.
Each figure runs for ``--seconds`` (3); the set runs ``--rounds`` times, interleaved, and each side's best
round counts (on a shared machine other work only ever slows a run down). The first call of each of ours is
timed apart: it also decodes and compresses the seal picture, which later calls take from a cache.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

from asn1crypto import keys, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils import generic, writer
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from trustsvc.ca.profiles import ProfileKind, SubjectInfo, get_profile
from trustsvc.ca.x509 import build_certificate, new_serial
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.encoding import PrivateKey
from trustsvc.keys.signer import Signer, software_signer
from trustsvc.keys.sm2 import SM2PrivateKey
from trustsvc.pdf import Placement, seal_pdf
from trustsvc.seal import ses
from trustsvc.seal.picture import SealPictureSpec, render_seal

BASE = "http://pki.example.cn"
PLACEMENT = Placement(page=1, x_mm=120, y_mm=200, width_mm=42, height_mm=42)


@dataclass
class Party:
    certificate: x509.Certificate
    signer: Signer


@dataclass
class Setup:
    issuing: Party
    chain: list[x509.Certificate]
    signer: Party
    seal: bytes


def one_page_pdf() -> bytes:
    w = writer.PdfFileWriter()
    font = w.add_object(
        generic.DictionaryObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Font"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
                generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
            }
        )
    )
    text = b"".join(
        b"BT /F1 11 Tf 72 %d Td (Line %d of a one-page licence document.) Tj ET\n" % (760 - 16 * i, i)
        for i in range(40)
    )
    w.insert_page(
        writer.PageObject(
            contents=w.add_object(generic.StreamObject(stream_data=text)),
            media_box=(0, 0, 595, 842),
            resources=generic.DictionaryObject(
                {generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): font})}
            ),
        )
    )
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def issue(
    kind: ProfileKind,
    issuer: Party | None,
    algorithm: KeyAlgorithm,
    name: str,
    *,
    key: PrivateKey | None = None,
) -> Party:
    if key is None:
        key = (
            SM2PrivateKey.generate()
            if algorithm is KeyAlgorithm.SM2
            else ec.generate_private_key(ec.SECP256R1())
        )
    profile = get_profile(kind)
    signer = software_signer(key)
    start, end = profile.validity(
        dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
        issuer_not_after=issuer.certificate.not_valid_after if issuer else None,
    )
    subject = SubjectInfo(common_name=name, organization="某省数据资源管理局", uscc="11330105002500287C")
    certificate = build_certificate(
        profile,
        profile.build_subject(subject),
        signer.public_key_info,
        issuer.certificate if issuer else None,
        issuer.signer if issuer else signer,
        serial=new_serial(),
        not_before=start,
        not_after=end,
        base_url=BASE,
        ca_name="root" if issuer is None or kind is ProfileKind.ISSUING_CA else "issuing",
    )
    return Party(certificate, signer)


def setup(algorithm: KeyAlgorithm, picture: bytes) -> Setup:
    root = issue(ProfileKind.ROOT, None, algorithm, "某省电子印章根CA")
    issuing = issue(ProfileKind.ISSUING_CA, root, algorithm, "某省电子印章签发CA")
    maker = issue(ProfileKind.SEAL_MAKER, issuing, algorithm, "某省电子印章制作系统")
    signer = issue(ProfileKind.SEAL_SIGNER, issuing, algorithm, "某市市场监督管理局行政审批专用章")
    now = dt.datetime.now(dt.UTC)
    fields = ses.SealInfoFields(
        vendor_id="trustsvc-bench",
        es_id="33010000000012345",
        seal_type=1,
        name="行政审批专用章",
        signer_certs=(bytes(signer.certificate.dump()),),
        create_date=now,
        valid_start=now - dt.timedelta(days=1),
        valid_end=now + dt.timedelta(days=365),
        picture=ses.SealPicture("PNG", picture, 42, 42),
    )
    seal = ses.make_seal(fields, bytes(maker.certificate.dump()), maker.signer)
    return Setup(issuing, [issuing.certificate, root.certificate], signer, seal)


def _proc_stat() -> tuple[int, int] | None:
    """Return (idle, total) clock ticks of all CPUs from /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)
    except (OSError, ValueError, IndexError):
        return None


def idle_cpus(seconds: float = 1.0) -> float | None:
    """Return how many CPUs were idle, on average, over the next ``seconds``."""
    before = _proc_stat()
    time.sleep(seconds)
    after = _proc_stat()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (os.cpu_count() or 1) * (after[0] - before[0]) / (after[1] - before[1])


def per_second(op: Callable[[], object], seconds: float) -> float:
    n = 0
    began = time.perf_counter()
    end = began + seconds
    while True:
        op()
        n += 1
        now = time.perf_counter()
        if now >= end:
            return n / (now - began)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3, help="seconds per measurement (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best counts (default 3)")
    args = parser.parse_args(argv)

    print("trustsvc PDF sealing bench")
    print(f"  date       {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"  machine    {platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"  python     {platform.python_implementation()} {platform.python_version()}")
    print(f"  pyHanko    {version('pyHanko')}, pyhanko-certvalidator {version('pyhanko-certvalidator')}")
    print(f"  runs       {args.seconds:g} s each, best of {args.rounds} rounds, one thread")
    idle = idle_cpus()
    if idle is not None:
        print(f"  idle CPUs  {idle:.2f} of {os.cpu_count()} in the second before the run")

    pdf = one_page_pdf()
    picture = render_seal(SealPictureSpec(name="某市市场监督管理局", seal_name="行政审批专用章"))
    print(f"  document   1 page, {len(pdf)} bytes; seal picture 42 mm at 600 dpi, {len(picture)} bytes PNG")
    print()

    setups = {alg: setup(alg, picture) for alg in (KeyAlgorithm.ECDSA_P256, KeyAlgorithm.SM2)}

    def ours(alg: KeyAlgorithm) -> Callable[[], bytes]:
        s = setups[alg]

        def op() -> bytes:
            return seal_pdf(
                pdf,
                signer=s.signer.signer,
                signer_cert=s.signer.certificate,
                chain=s.chain,
                seal_der=s.seal,
                picture_png=picture,
                placement=PLACEMENT,
            )

        return op

    # The reference: a bare pyHanko signature with an in-memory ECDSA key under the same CA, same document.
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ecdsa_setup = setups[KeyAlgorithm.ECDSA_P256]
    ec_leaf = issue(
        ProfileKind.SEAL_SIGNER,
        ecdsa_setup.issuing,
        KeyAlgorithm.ECDSA_P256,
        "某市市场监督管理局",
        key=ec_key,
    ).certificate
    simple = signers.SimpleSigner(
        signing_cert=ec_leaf,
        signing_key=keys.PrivateKeyInfo.load(
            ec_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(ecdsa_setup.chain),
    )

    def reference() -> bytes:
        out = signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)),
            signers.PdfSignatureMetadata(field_name="Signature1"),
            signer=simple,
        )
        return out.getvalue()

    first: dict[str, float] = {}
    for alg in setups:
        began = time.perf_counter()
        ours(alg)()
        first[alg.value] = time.perf_counter() - began
    reference()

    runs: dict[str, list[float]] = {"ref": [], "ecdsa": [], "sm2": []}
    for _ in range(args.rounds):
        runs["ref"].append(per_second(reference, args.seconds))
        runs["ecdsa"].append(per_second(ours(KeyAlgorithm.ECDSA_P256), args.seconds))
        runs["sm2"].append(per_second(ours(KeyAlgorithm.SM2), args.seconds))
    ref, ecdsa, sm2 = (max(runs[k]) for k in ("ref", "ecdsa", "sm2"))

    print(f"{'':44}{'PDFs/s':>10}{'ms each':>10}{'ratio':>8}")
    print(f"{'pyHanko sign_pdf, ECDSA P-256, invisible':44}{ref:10.1f}{1000 / ref:10.1f}{'1.00':>8}")
    for label, rate in (
        ("ours seal_pdf, ECDSA P-256, visible seal", ecdsa),
        ("ours seal_pdf, SM2, visible seal", sm2),
    ):
        print(f"{label:44}{rate:10.1f}{1000 / rate:10.1f}{rate / ref:8.2f}")
    print()
    cold = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in first.items())
    print(f"first call of ours (picture decoded and compressed, then cached): {cold}")
    return 0


# ==========================================================================================================
# OFD sealing
# ==========================================================================================================
#
#     .venv/bin/python bench/seal.py --ofd [--seconds 3] [--rounds 3]
#
# Counts 1-page OFDs sealed per second, each a complete trustsvc.ofd.seal_ofd call (package read with its
# limits, seal and certificate checks, placement, SM3 of every file, Signature.xml, SES_Signature with an SM2
# key in memory, output ZIP), and checked per second (trustsvc.ofd.verification.check_ofd_signatures); the
# output ZIP alone (OfdPackage.write of the sealed package) is timed too, since it was half of sealing. There
# is no OFD signer outside trustsvc to compare with, so two references run interleaved in the same sitting:
#
# - "primitives": what the cryptography alone costs for the same document — SM3 over the raw bytes of every
#   file of the sealed package (References + dataHash) and one SM2 signature over a TBS_Sign-sized message,
#   through trustsvc.keys (0.95x openssl speed, docs/PERFORMANCE.md). ours/primitives is the overhead of
#   everything else (ZIP, XML, checks);
# - pyHanko's plain ECDSA ``sign_pdf`` of a 1-page PDF, invisible field (the reference of the PDF part above):
#   what a bare signature of a document costs in the best-known Python signing library.


def one_page_ofd() -> bytes:
    from trustsvc.ofd.layout import DocumentBuilder

    builder = DocumentBuilder((210, 297))
    page = builder.page()
    page.text(105, 30, "营业执照", 10, face="sans", align="center")
    for i in range(40):
        line = f"第{i + 1}行：某市某某科技有限公司 统一社会信用代码 91330100MA2XXXXX0{i % 10}"
        page.text(25, 50 + 5.5 * i, line, 3.5)
    page.text(130, 285, "盖章处", 4)
    return builder.build().write()


def main_ofd(argv: list[str] | None = None) -> int:
    from trustsvc.keys.sm3 import sm3
    from trustsvc.ofd.package import OfdPackage
    from trustsvc.ofd.signing import OfdPlacement, seal_ofd
    from trustsvc.ofd.verification import check_ofd_signatures

    parser = argparse.ArgumentParser(description="OFD sealing throughput (see the OFD part of bench/seal.py)")
    parser.add_argument("--ofd", action="store_true", help="run the OFD part (this one)")
    parser.add_argument("--seconds", type=float, default=3, help="seconds per measurement (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best counts (default 3)")
    args = parser.parse_args(argv)

    print("trustsvc OFD sealing bench")
    print(f"  date       {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"  machine    {platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"  python     {platform.python_implementation()} {platform.python_version()}")
    libraries = ", ".join(f"{name} {version(name)}" for name in ("lxml", "asn1crypto", "pyHanko"))
    print(f"  libraries  {libraries}")
    print(f"  runs       {args.seconds:g} s each, best of {args.rounds} rounds, one thread")
    idle = idle_cpus()
    if idle is not None:
        print(f"  idle CPUs  {idle:.2f} of {os.cpu_count()} in the second before the run")

    ofd = one_page_ofd()
    pdf = one_page_pdf()
    picture = render_seal(SealPictureSpec(name="某市市场监督管理局", seal_name="行政审批专用章"))
    sm2 = setup(KeyAlgorithm.SM2, picture)
    ecdsa = setup(KeyAlgorithm.ECDSA_P256, picture)
    signer_cert = bytes(sm2.signer.certificate.dump())
    now = dt.datetime.now(dt.UTC)
    placement = OfdPlacement.box(1, 120, 200, 42, 42)

    def ours() -> bytes:
        return seal_ofd(
            ofd,
            seal_der=sm2.seal,
            signer_cert_der=signer_cert,
            signer=sm2.signer.signer,
            placement=placement,
            time_info=now,
        )

    began = time.perf_counter()
    sealed = ours()
    first = time.perf_counter() - began
    print(
        f"  document   1 page, {len(ofd)} bytes OFD ({len(OfdPackage.read(ofd).files)} files); sealed "
        f"{len(sealed)} bytes; seal {len(sm2.seal)} bytes (picture 42 mm at 600 dpi)"
    )
    print()
    sealed_package = OfdPackage.read(sealed)
    sealed_files = list(sealed_package.files.values())
    tbs_like = bytes(len(sm2.seal) + 200)  # TBS_Sign embeds the seal: the SM2 message is about this long

    def primitives() -> None:
        for data in sealed_files:
            sm3(data)
        sm2.signer.signer.sign(tbs_like)

    def write() -> bytes:
        return sealed_package.write()

    def verify() -> None:
        (result,) = check_ofd_signatures(sealed)
        assert result.ok

    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_leaf = issue(
        ProfileKind.SEAL_SIGNER, ecdsa.issuing, KeyAlgorithm.ECDSA_P256, "某市市场监督管理局", key=ec_key
    ).certificate
    simple = signers.SimpleSigner(
        signing_cert=ec_leaf,
        signing_key=keys.PrivateKeyInfo.load(
            ec_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(ecdsa.chain),
    )

    def pyhanko() -> bytes:
        out = signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)),
            signers.PdfSignatureMetadata(field_name="Signature1"),
            signer=simple,
        )
        return out.getvalue()

    pyhanko()

    runs: dict[str, list[float]] = {"primitives": [], "pyhanko": [], "ours": [], "verify": [], "write": []}
    ops = {"primitives": primitives, "pyhanko": pyhanko, "ours": ours, "verify": verify, "write": write}
    for _ in range(args.rounds):
        for name, op in ops.items():
            runs[name].append(per_second(op, args.seconds))
    best = {name: max(values) for name, values in runs.items()}

    print(f"{'':52}{'per s':>10}{'ms each':>10}{'ours/this':>11}")
    for label, name in (
        ("reference: primitives (SM3 of every file + 1 SM2 sign)", "primitives"),
        ("reference: pyHanko sign_pdf, ECDSA P-256, invisible", "pyhanko"),
        ("ours: seal_ofd, SM2", "ours"),
        ("ours: check_ofd_signatures of the sealed file", "verify"),
        ("ours: OfdPackage.write of the sealed package", "write"),
    ):
        rate = best[name]
        ratio = best["ours"] / rate
        print(f"{label:52}{rate:10.1f}{1000 / rate:10.2f}{ratio:11.2f}")
    print()
    print(f"first call of ours (cold caches): {first * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main_ofd() if "--ofd" in sys.argv[1:] else main())
