"""The one XML parser for every XML document that comes from outside: hardened lxml, typed errors.

Every OFD part (``OFD.xml``, ``Document.xml``, page content, ``Signatures.xml``, ``Signature.xml`` …) is read
through :func:`parse_xml`. It refuses what an OFD never needs and an attacker always wants:

* a document type declaration (``<!DOCTYPE``) of any kind — so no internal entities (billion laughs), no
  external entities or DTDs (local file disclosure, SSRF); the check runs on the raw bytes *before* lxml sees
  them and again on the parsed tree;
* encodings that are not ASCII-compatible (UTF-16/32), so the byte check above cannot be dodged;
* documents over a size limit (:class:`~trustsvc.errors.PayloadTooLarge`), and anything libxml2 refuses with
  ``huge_tree`` off (very deep nesting, giant text nodes).

The parser never touches the network or the file system (``no_network``, ``load_dtd=False``,
``resolve_entities=False``). Any failure is :class:`~trustsvc.errors.MalformedInput`; no lxml exception
leaves this module.

The helpers :func:`children`, :func:`child` and :func:`child_text` look elements up by local name in the OFD
namespace (or in no namespace, which a few producers write), skipping comments and processing instructions.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Final

from lxml import etree

from trustsvc.errors import MalformedInput, PayloadTooLarge

__all__ = [
    "DEFAULT_MAX_XML_BYTES",
    "OFD_NS",
    "child",
    "child_text",
    "children",
    "is_element",
    "local_name",
    "parse_xml",
    "q",
    "serialize",
]

OFD_NS: Final = "http://www.ofdspec.org/2016"
DEFAULT_MAX_XML_BYTES: Final = 16 * 1024 * 1024

# A DOCTYPE can only sit in the prolog, but a comment or CDATA could hide the string too; refusing it anywhere
# costs nothing for OFD (which never carries one) and needs no prolog parser.
_DOCTYPE = re.compile(rb"<!\s*doctype", re.IGNORECASE)
_NOT_ASCII_COMPATIBLE_BOMS: Final = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_XML_DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8"?>\n'

_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parsers keep state while parsing: one per thread.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            collect_ids=False,
            recover=False,
        )
        _local.parser = parser
    return parser


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES, name: str = "XML") -> etree._Element:
    """Return the root element of ``data``, parsed with the hardened parser.

    ``name`` (e.g. the package path) is used in error messages. Raises :class:`PayloadTooLarge` over
    ``max_bytes`` and :class:`MalformedInput` for anything that is not plain, well-formed XML.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedInput(f"{name}: XML must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{name}: XML document of {len(data)} bytes is over the {max_bytes}-byte limit")
    if not data.strip():
        raise MalformedInput(f"{name}: empty XML document")
    if data.startswith(_NOT_ASCII_COMPATIBLE_BOMS) or b"\x00" in data[:4]:
        raise MalformedInput(f"{name}: XML must be in an ASCII-compatible encoding (UTF-8)")
    if _DOCTYPE.search(data):
        raise MalformedInput(f"{name}: XML with a document type declaration (DOCTYPE) is refused")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedInput(f"{name}: not well-formed XML: {exc.msg}") from None
    except (etree.LxmlError, ValueError, LookupError) as exc:
        # LookupError: an unknown encoding in the XML declaration
        raise MalformedInput(f"{name}: XML could not be parsed: {exc}") from None
    if root is None:
        raise MalformedInput(f"{name}: XML has no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MalformedInput(f"{name}: XML with a document type declaration (DOCTYPE) is refused")
    return root


def serialize(root: etree._Element) -> bytes:
    """Return ``root`` as UTF-8 bytes with an XML declaration (the form every OFD producer writes)."""
    return _XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def q(local: str) -> str:
    """Return the Clark name ``{OFD_NS}local``."""
    return f"{{{OFD_NS}}}{local}"


def is_element(node: object) -> bool:
    """Return True for element nodes (not comments, processing instructions or entities)."""
    return isinstance(node, etree._Element) and isinstance(node.tag, str)


def local_name(element: etree._Element) -> str:
    """Return the local part of ``element``'s tag."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _in_ofd_ns(element: etree._Element) -> bool:
    tag = element.tag
    return isinstance(tag, str) and (tag.startswith("{" + OFD_NS + "}") or not tag.startswith("{"))


def children(element: etree._Element, local: str) -> Iterator[etree._Element]:
    """Yield the child elements of ``element`` named ``local`` (OFD namespace or none), in order."""
    for node in element:
        if _in_ofd_ns(node) and local_name(node) == local:
            yield node


def child(element: etree._Element, local: str) -> etree._Element | None:
    """Return the first child element named ``local``, or None."""
    return next(children(element, local), None)


def child_text(element: etree._Element, local: str) -> str | None:
    """Return the stripped text of the first child named ``local`` (``""`` when empty), or None if absent."""
    found = child(element, local)
    if found is None:
        return None
    return (found.text or "").strip()
