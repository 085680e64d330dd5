"""OFD (GB/T 33190) documents: read and write packages safely, build pages, list pages and signatures.

* :mod:`trustsvc.ofd.xml` — the hardened XML parser every OFD part goes through.
* :mod:`trustsvc.ofd.package` — :class:`OfdPackage` (ZIP with limits, raw bytes per file, ST_Loc resolution,
  reproducible output), :class:`OfdDocument` (pages, signatures, page text).
* :mod:`trustsvc.ofd.layout` — :class:`DocumentBuilder` / :class:`PageBuilder` for new documents (imported
  lazily: it needs fontTools, which reading does not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trustsvc.ofd.package import (
    GlyphBox,
    Limits,
    OfdDocument,
    OfdPackage,
    PageInfo,
    SignatureEntry,
    SignatureSlot,
    SignatureType,
    TextRun,
)
from trustsvc.ofd.xml import OFD_NS, parse_xml

if TYPE_CHECKING:
    from trustsvc.ofd.layout import DocumentBuilder, PageBuilder, TextBox, text_width

__all__ = [
    "OFD_NS",
    "DocumentBuilder",
    "GlyphBox",
    "Limits",
    "OfdDocument",
    "OfdPackage",
    "PageBuilder",
    "PageInfo",
    "SignatureEntry",
    "SignatureSlot",
    "SignatureType",
    "TextBox",
    "TextRun",
    "parse_xml",
    "text_width",
]

_LAYOUT = frozenset({"DocumentBuilder", "PageBuilder", "TextBox", "text_width"})


def __getattr__(name: str) -> Any:
    if name in _LAYOUT:
        from trustsvc.ofd import layout

        return getattr(layout, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
