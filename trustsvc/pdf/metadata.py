"""The metadata one revision of a PDF carries: the document information dictionary and the XMP packet.

A verifier that trusts metadata because a signature covers it must read the revision the signature was made
on (pyHanko's ``EmbeddedPdfSignature.signed_revision``), not the latest one: an incremental update appended
after the signing may rewrite ``/Info`` or ``/Metadata`` without breaking the signature.
:func:`revision_metadata` reads either. The XMP packet is returned as bytes, unparsed: the caller parses it
with the hardened XML parser (:func:`trustsvc.ofd.xml.parse_xml`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import PdfHandler

from trustsvc.errors import MalformedInput

__all__ = ["MAX_INFO_ENTRIES", "MAX_XMP_BYTES", "PdfMetadata", "revision_metadata"]

MAX_INFO_ENTRIES: Final = 256
MAX_INFO_VALUE: Final = 64 * 1024
MAX_XMP_BYTES: Final = 1024 * 1024


@dataclass(frozen=True)
class PdfMetadata:
    """``info``: the text entries of the document information dictionary (key without its ``/``);
    ``xmp``: the decoded catalogue ``/Metadata`` stream, or None."""

    info: dict[str, str] = field(default_factory=dict)
    xmp: bytes | None = None


def revision_metadata(reader: PdfFileReader, revision: int | None = None) -> PdfMetadata:
    """Return the metadata of ``revision`` (0 the oldest; None the latest) of the PDF ``reader`` reads.

    Entries that are not text are left out. MalformedInput when the revision's trailer, catalogue or
    metadata stream cannot be read, or is larger than the limits above.
    """
    handler: PdfHandler = reader if revision is None else reader.get_historical_resolver(revision)
    try:
        return PdfMetadata(info=_info(handler), xmp=_xmp(reader, handler, revision))
    except MalformedInput:
        raise
    except Exception as exc:  # pyHanko raises many types for broken files
        raise MalformedInput(f"the PDF metadata cannot be read: {type(exc).__name__}") from None


def _info(handler: PdfHandler) -> dict[str, str]:
    trailer = handler.trailer_view
    if "/Info" not in trailer:
        return {}
    info = trailer["/Info"]
    if not isinstance(info, generic.DictionaryObject):
        return {}
    if len(info) > MAX_INFO_ENTRIES:
        raise MalformedInput(f"the PDF document information has more than {MAX_INFO_ENTRIES} entries")
    found: dict[str, str] = {}
    for key in info:
        value = info[key]
        if isinstance(value, str) and len(value) <= MAX_INFO_VALUE:
            found[str(key).lstrip("/")] = str(value)
    return found


def _xmp(reader: PdfFileReader, handler: PdfHandler, revision: int | None) -> bytes | None:
    root = handler.root
    if "/Metadata" not in root:
        return None
    raw = root.raw_get("/Metadata")
    # pyHanko's historical resolver cannot re-home a metadata stream the reader already holds: read the
    # stream as of ``revision`` from the reader itself.
    stream = (
        _object_at(reader, generic.Reference(raw.idnum, raw.generation), revision)
        if isinstance(raw, generic.IndirectObject)
        else raw
    )
    if not isinstance(stream, generic.StreamObject):
        return None
    declared = stream.get("/Length")
    if isinstance(declared, int) and declared > MAX_XMP_BYTES:
        raise MalformedInput(f"the PDF's XMP metadata is over {MAX_XMP_BYTES} bytes")
    data = _bounded_data(stream)
    if len(data) > MAX_XMP_BYTES:
        raise MalformedInput(f"the PDF's XMP metadata is over {MAX_XMP_BYTES} bytes")
    return data


def _bounded_data(stream: generic.StreamObject) -> bytes:
    """Return the decoded stream, never decoding more than :data:`MAX_XMP_BYTES` + 1 bytes.

    ``stream.data`` would inflate the whole stream before any limit applies (a 400 KB PDF can carry a
    FlateDecode packet of 400 MiB): only no filter or one /FlateDecode without /DecodeParms is decoded here,
    with an output cap; anything else is refused.
    """
    filters = stream.get("/Filter")
    raw = stream.encoded_data
    if isinstance(filters, generic.ArrayObject) and len(filters) <= 1:
        filters = filters[0] if filters else None
    if filters is None or isinstance(filters, generic.NullObject):
        return bytes(raw[: MAX_XMP_BYTES + 1])
    if filters != "/FlateDecode":
        raise MalformedInput("the PDF's XMP metadata uses a filter other than one /FlateDecode; not read")
    params = stream.get("/DecodeParms")
    if params is not None and not isinstance(params, generic.NullObject) and params:
        raise MalformedInput("the PDF's XMP metadata has /DecodeParms; not read")
    try:
        return zlib.decompressobj().decompress(raw, MAX_XMP_BYTES + 1)
    except zlib.error:
        raise MalformedInput("the PDF's XMP metadata is not valid FlateDecode data") from None


def _object_at(reader: PdfFileReader, ref: generic.Reference, revision: int | None) -> object:
    """Return object ``ref`` as it stood in ``revision`` (None: the latest)."""
    if revision is None:
        return reader.get_object(ref)
    try:
        last_change = reader.xrefs.get_last_change(ref)
    except KeyError:
        last_change = None
    if last_change is not None and last_change <= revision:
        return reader.get_object(ref)
    return reader.get_object(ref, revision)
