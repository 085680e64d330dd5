#!/usr/bin/env python3
"""Build the Chinese fonts shipped in ``trustsvc/data/fonts/`` (run once; the output is committed).

trustsvc must draw Chinese text on a fresh machine without any system font package: seal pictures (Pillow),
licences as PDF (reportlab ``TTFont``, which embeds TrueType outlines only) and as OFD (which embeds the font
file). This script turns the upstream Noto CJK fonts (SIL OFL 1.1, CFF outlines, ~10 MB each) into two small
TrueType-outline subsets:

1. take ``NotoSerifSC-Regular.otf`` (Noto Serif CJK SC 2.003) and ``NotoSansSC-Regular.otf``
   (Noto Sans CJK SC 2.004) — the per-region subset OTFs published by notofonts/noto-cjk — from the PyPI
   wheel ``pylopdf-fonts-zh-cn 0.1.1`` (downloaded with pip, checked against the SHA-256 below), or from
   ``--source-dir`` holding the same two files;
2. keep the characters trustsvc promises to draw (:func:`character_set`): all of GB 2312 (6763 hanzi and
   682 symbols), all 8105 characters of the 通用规范汉字表 (Table of General Standard Chinese Characters,
   2013, read from the Unihan ``kTGH`` field — this adds the name characters GB 2312 lacks, such as 堃 喆 赟
   玥 and 196 characters outside the BMP), ASCII, Latin-1, common general and CJK punctuation, full-width
   forms and a few symbols (★ ☆ ○ ● □ ■ № ℃ …);
3. convert the cubic CFF outlines to quadratic TrueType (``glyf``) outlines with fontTools' cu2qu
   (max error 1 font unit of 1000), drop the CFF hints, keep vertical metrics and the layout features
   (``vert`` for vertical OFD text, ``locl``, ``palt`` …);
4. write the fonts reproducibly (the ``head`` timestamps are kept from the source, so the same inputs give
   the same bytes), plus ``OFL.txt``.

Usage::

    apt-get install unicode-data          # Unihan, for the 通用规范汉字表 list (build time only)
    pip install 'fonttools>=4.50'          # build time only; trustsvc does not import fontTools
    python tools/build_fonts.py            # writes trustsvc/data/fonts/*.ttf and OFL.txt

The family names are kept ("Noto Serif SC", "Noto Sans SC"): the Noto CJK licence reserves only the name
"Source", and the version string (name ID 5) says the file is a trustsvc subset.
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "trustsvc" / "data" / "fonts"

SOURCE_PACKAGE = "pylopdf-fonts-zh-cn==0.1.1"
SOURCE_WHEEL_SHA256 = "e2661ef3790cbe0f0f6aa5338b6859b7cd288ee75bc88cd4239c62cd025d4fb3"

UNIHAN_CANDIDATES = (
    Path("/usr/share/unicode/Unihan_OtherMappings.txt"),
    Path("/usr/share/unicode/Unihan_OtherMappings.txt.bz2"),
)

# Max distance between the cubic and the quadratic curve, in font units (1000 per em): invisible at any size.
CU2QU_MAX_ERR = 1.0


@dataclass(frozen=True)
class Face:
    key: str
    source: str
    sha256: str
    output: str


FACES = (
    Face(
        "serif",
        "NotoSerifSC-Regular.otf",
        "e8f396decc1f0963a016a989c3d8852e863d1350996f573860a80767c83a1cd3",
        "NotoSerifSC-Regular.subset.ttf",
    ),
    Face(
        "sans",
        "NotoSansSC-Regular.otf",
        "faa6c9df652116dde789d351359f3d7e5d2285a2b2a1f04a2d7244df706d5ea9",
        "NotoSansSC-Regular.subset.ttf",
    ),
)

# Characters beyond GB 2312 and the 通用规范汉字表 that documents, licences and seals use. Kept when the
# source font has them (all of these are in Noto CJK SC).
EXTRA_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1: · × ÷ ° ¥ § ©
    (0x2010, 0x2027),  # dashes, quotes, bullet, ellipsis, ‧
    (0x2030, 0x203B),  # ‰ ′ ″ ※
    (0x20AC, 0x20AC),  # €
    (0x2103, 0x2103),  # ℃
    (0x2116, 0x2116),  # №
    (0x2160, 0x216B),  # Roman numerals Ⅰ–Ⅻ
    (0x2190, 0x2193),  # arrows
    (0x2460, 0x249B),  # ① … ⑳, ⑴ … ⒇, ⒈ … ⒛
    (0x25A0, 0x25A1),  # ■ □
    (0x25B2, 0x25B3),  # ▲ △
    (0x25C6, 0x25C7),  # ◆ ◇
    (0x25CB, 0x25CB),  # ○
    (0x25CE, 0x25CF),  # ◎ ●
    (0x2605, 0x2606),  # ★ ☆ (the seal star is drawn as a polygon, ★ is for text)
    (0x3000, 0x303F),  # CJK symbols and punctuation, incl. 〇 (U+3007, dates such as 二〇二五年)
    (0x3200, 0x3229),  # ㈠ … ㈩
    (0xFE10, 0xFE19),  # vertical punctuation forms
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF01, 0xFF5E),  # full-width forms
    (0xFFE0, 0xFFE5),  # ￠ ￡ ￢ ￣ ￤ ￥
)


def gb2312_characters() -> set[int]:
    """Return the 7445 code points of GB 2312 (6763 hanzi, 682 symbols), as Python's codec maps them."""
    out: set[int] = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes((hi, lo)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return out


def tgh_characters(unihan: Path) -> set[int]:
    """Return the 8105 code points of the 通用规范汉字表 (2013) from a Unihan_OtherMappings file (kTGH)."""
    opener = bz2.open if unihan.suffix == ".bz2" else open
    out: set[int] = set()
    with opener(unihan, "rt", encoding="utf-8") as fh:
        for line in fh:
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 3 and fields[1] == "kTGH":
                out.add(int(fields[0][2:], 16))
    if len(out) != 8105:
        raise SystemExit(f"{unihan}: expected 8105 kTGH entries, found {len(out)}")
    return out


def extra_characters() -> set[int]:
    return {cp for lo, hi in EXTRA_RANGES for cp in range(lo, hi + 1)}


def character_set(unihan: Path, cmap: dict[int, str]) -> tuple[list[int], set[int]]:
    """Return (code points to keep, required code points the source font lacks)."""
    required = gb2312_characters() | tgh_characters(unihan) | set(range(0x20, 0x7F))
    wanted = required | {cp for cp in extra_characters() if cp in cmap}
    return sorted(wanted), {cp for cp in required if cp not in cmap}


def find_unihan(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    for candidate in UNIHAN_CANDIDATES:
        if candidate.exists():
            return candidate
    raise SystemExit(
        "Unihan_OtherMappings.txt not found: `apt-get install unicode-data`, or pass --unihan FILE"
    )


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_sources(workdir: Path) -> tuple[Path, str]:
    """Download the source wheel with pip; return (directory holding the OTFs, the wheel's licence text)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(workdir),
            SOURCE_PACKAGE,
        ],
        check=True,
    )
    (wheel,) = workdir.glob("*.whl")
    if sha256_file(wheel) != SOURCE_WHEEL_SHA256:
        raise SystemExit(f"{wheel.name}: SHA-256 differs from the pinned {SOURCE_WHEEL_SHA256}")
    licence = ""
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            base = name.rsplit("/", 1)[-1]
            if base in {face.source for face in FACES}:
                (workdir / base).write_bytes(zf.read(name))
            elif name.endswith("licenses/LICENSE"):
                licence = zf.read(name).decode("utf-8")
    return workdir, licence


def _quadratic_glyphs(font: TTFont) -> dict[str, object]:
    glyph_set = font.getGlyphSet()
    out: dict[str, object] = {}
    for name in font.getGlyphOrder():
        tt_pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(tt_pen, CU2QU_MAX_ERR, reverse_direction=True))
        out[name] = tt_pen.glyph()
    return out


def cff_to_truetype(font: TTFont) -> None:
    """Replace the CFF table of ``font`` by glyf/loca outlines (in place)."""
    if font.sfntVersion != "OTTO" or "CFF " not in font:
        raise SystemExit("expected a CFF-outline OpenType font")
    order = font.getGlyphOrder()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = _quadratic_glyphs(font)
    del font["CFF "]
    if "VORG" in font:  # CFF-only; TrueType takes the vertical origin from vmtx top side bearings
        del font["VORG"]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        advance, _ = hmtx.metrics[name]
        hmtx.metrics[name] = (advance, getattr(glyph, "xMin", 0))
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    for attr in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
    ):
        setattr(maxp, attr, 0)
    maxp.maxComponentElements = max(
        (len(getattr(g, "components", None) or []) for g in glyf.glyphs.values()), default=0
    )
    maxp.compile(font)
    post = font["post"]
    post.formatType = 3.0  # no glyph names: smaller, and nothing downstream needs them
    font.sfntVersion = "\x00\x01\x00\x00"


def mark_as_subset(font: TTFont, note: str) -> None:
    name = font["name"]
    for record in list(name.names):
        if record.nameID in (3, 5):
            record.string = f"{record.toUnicode()}; {note}"


def build_face(face: Face, source_dir: Path, unihan: Path, out_dir: Path) -> tuple[Path, int, int]:
    src = source_dir / face.source
    if sha256_file(src) != face.sha256:
        raise SystemExit(f"{src}: SHA-256 differs from the pinned {face.sha256}")
    font = TTFont(src, recalcTimestamp=False)
    cmap = font.getBestCmap()
    keep, missing = character_set(unihan, cmap)
    if missing:
        raise SystemExit(
            f"{face.source} lacks {len(missing)} required characters: "
            + "".join(chr(cp) for cp in sorted(missing))
        )
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    options.glyph_names = False
    options.recalc_timestamp = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=keep)
    subsetter.subset(font)
    cff_to_truetype(font)
    mark_as_subset(font, "trustsvc subset (GB 2312 + 通用规范汉字表 + punctuation), TrueType outlines")
    out = out_dir / face.output
    font.save(out, reorderTables=True)
    return out, len(keep), len(font.getGlyphOrder())


def licence_text(wheel_licence: str, fonts: Iterable[Path]) -> str:
    notices = []
    for path in fonts:
        name = TTFont(path, lazy=True)["name"]
        notice = name.getDebugName(0).replace("©", "Copyright").rstrip(".")
        notices.append(
            f"{path.name} ({name.getDebugName(1)}, {name.getDebugName(5).split(';')[0]}):\n"
            f"{notice}, with Reserved Font Name 'Source'.\n"
        )
    head = (
        "The fonts in this folder are subsets of Noto Serif CJK SC and Noto Sans CJK SC\n"
        "(https://github.com/notofonts/noto-cjk), converted to TrueType outlines for trustsvc by\n"
        "tools/build_fonts.py. They remain under the SIL Open Font License 1.1 below.\n\n"
        + "\n".join(notices)
        + "\n"
    )
    return head + wheel_licence.strip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source-dir",
        type=Path,
        help="directory holding the two Noto SC .otf files "
        "and the OFL text as LICENSE (default: download the pinned wheel with pip)",
    )
    parser.add_argument("--unihan", type=Path, help="Unihan_OtherMappings.txt[.bz2] (default: unicode-data)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    unihan = find_unihan(args.unihan)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.source_dir is not None:
            source_dir, wheel_licence = args.source_dir, (args.source_dir / "LICENSE").read_text("utf-8")
        else:
            source_dir, wheel_licence = fetch_sources(Path(tmp))
        built = []
        for face in FACES:
            path, chars, glyphs = build_face(face, source_dir, unihan, args.out)
            built.append(path)
            print(
                f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
                f"{path.stat().st_size:,} bytes, {chars} characters, {glyphs} glyphs, "
                f"sha256 {sha256_file(path)}"
            )
    (args.out / "OFL.txt").write_text(licence_text(wheel_licence, built), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
