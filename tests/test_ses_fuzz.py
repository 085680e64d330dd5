"""Robustness of the SES parsers and verifiers: whatever the bytes, parsing raises only MalformedInput and
verifying only InvalidSignature (spec: every parse failure is MalformedInput, never another exception).

Inputs: the four real seal signatures, their embedded seals, and V4/V1 seals and signatures we make;
mutated by truncation, byte flips, tag changes, huge/indefinite/shifted length fields, and structure-aware
hypothesis mutations (a node's content replaced, children dropped, duplicated or swapped, lengths re-encoded
correctly so the damage reaches the field readers rather than the framing).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_ses import (
    bits,
    made_signature,
    make_pki,
    make_v1_seal,
    make_v1_signature,
    seal_fields,
    utctime,
)
from tests.test_ses_real_files import EXPECTED, REAL_OFD, only_signature
from trustsvc.errors import InvalidSignature, MalformedInput
from trustsvc.seal import ses

# --- corpus -------------------------------------------------------------------------------------------------


def _real_signatures() -> dict[str, bytes]:
    if not REAL_OFD.is_dir():
        return {}
    return {name: only_signature(name).signed_value for name in sorted(EXPECTED)}


def _made() -> dict[str, bytes]:
    pki = make_pki()
    seal = ses.make_seal(seal_fields(pki, cert_list_type=2), pki.maker_cert, pki.maker.signer)
    v1_seal = make_v1_seal(pki)
    return {
        "made-v4-signature": made_signature(
            pki, ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
        ),
        "made-v4-seal-digests": seal,
        "made-v1-signature": make_v1_signature(pki, v1_seal, bits(utctime("260601080000Z"))),
    }


REAL = _real_signatures()
MADE = _made()
CORPUS = {**MADE, **REAL}
for _name, _value in list(REAL.items()):
    CORPUS[_name + ":seal"] = ses.parse_signature(_value).seal.der
SMALL = {name: value for name, value in CORPUS.items() if len(value) < 20_000}


def exercise(data: bytes) -> None:
    """Parse ``data`` as seal and as signature, both modes; verify whatever parses. Nothing else may raise."""
    for lenient in (True, False):
        try:
            seal = ses.parse_seal(data, lenient=lenient)
        except MalformedInput:
            pass
        else:
            _verify(partial(ses.verify_seal, seal))
            ses.signer_is_listed(seal, seal.maker_cert)
        try:
            sig = ses.parse_signature(data, lenient=lenient)
        except MalformedInput:
            pass
        else:
            _verify(partial(ses.verify_signature_value, sig))
            _verify(partial(ses.verify_seal, sig.seal))
            ses.signer_is_listed(sig.seal, sig.signer_cert)
            assert isinstance(sig.all_warnings, tuple)


def _verify(call: Callable[[], tuple[str, ...]]) -> None:
    try:
        result = call()
    except InvalidSignature:
        return
    assert isinstance(result, tuple)


# --- a tiny independent TLV tree, for mutations that keep lengths consistent --------------------------------


@dataclass
class Node:
    tag: int
    content: bytes = b""
    children: list[Node] | None = field(default=None)


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def parse_tree(data: bytes, pos: int = 0) -> tuple[Node, int]:
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if tag & 0x20:
        children = []
        while pos < end:
            child, pos = parse_tree(data, pos)
            children.append(child)
        return Node(tag, children=children), end
    return Node(tag, content=data[pos:end]), end


def encode(node: Node) -> bytes:
    content = b"".join(encode(c) for c in node.children) if node.children is not None else node.content
    return bytes([node.tag]) + _length(len(content)) + content


def preorder(node: Node) -> list[Node]:
    out = [node]
    for child in node.children or []:
        out.extend(preorder(child))
    return out


@dataclass(frozen=True)
class Header:
    start: int
    length_at: int
    body: int
    end: int
    constructed: bool


def headers(data: bytes) -> list[Header]:
    """Every TLV header in ``data`` (descending into constructed values), with offsets."""
    out = []

    def walk(pos: int, end: int) -> None:
        while pos < end:
            tag, first = data[pos], data[pos + 1]
            body = pos + 2 + (first & 0x7F if first >= 0x80 else 0)
            length = first if first < 0x80 else int.from_bytes(data[pos + 2 : body], "big")
            out.append(Header(pos, pos + 1, body, body + length, bool(tag & 0x20)))
            if tag & 0x20:
                walk(body, body + length)
            pos = body + length

    walk(0, len(data))
    return out


# --- deterministic mutations --------------------------------------------------------------------------------


def test_corpus_parses_cleanly() -> None:
    assert MADE, "the made corpus is always there"
    for name, data in CORPUS.items():
        parse = ses.parse_seal if name.endswith(":seal") or "seal-" in name else ses.parse_signature
        parse(data)
        assert encode(parse_tree(data)[0]) == data  # the mutation tree round-trips every corpus item


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_truncation_at_every_length_is_malformed_input(name: str) -> None:
    data = CORPUS[name]
    lengths = range(len(data)) if len(data) < 20_000 else [*range(4096), *range(4096, len(data), 997)]
    for n in lengths:
        for parse in (ses.parse_seal, ses.parse_signature):
            with pytest.raises(MalformedInput):
                parse(data[:n])


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_random_byte_flips_raise_only_malformed_input_or_invalid_signature(name: str) -> None:
    data = CORPUS[name]
    rng = random.Random(f"ses-flips-{name}")
    for _ in range(150 if len(data) < 20_000 else 40):
        mutated = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 3))):
            mutated[rng.randrange(len(mutated))] ^= rng.randrange(1, 256)
        exercise(bytes(mutated))


TAGS = (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x16, 0x17, 0x18, 0x1F, 0x24, 0x30, 0x31, 0x80, 0xA0)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_tag_changes_raise_only_malformed_input_or_invalid_signature(name: str) -> None:
    data = SMALL[name]
    for header in headers(data):
        for tag in TAGS:
            if tag != data[header.start]:
                exercise(data[: header.start] + bytes([tag]) + data[header.start + 1 :])


@pytest.mark.parametrize("name", sorted(SMALL))
def test_huge_indefinite_and_shifted_lengths_raise_only_malformed_input_or_invalid_signature(
    name: str,
) -> None:
    data = SMALL[name]
    for header in headers(data):
        before, after = data[: header.length_at], data[header.body :]
        for length in (
            b"\x84\xff\xff\xff\xff",
            b"\x88" + b"\xff" * 8,
            b"\x80",
            b"\x85\x00\x00\x00\x00\x01",
            b"\xff",
        ):
            with pytest.raises(MalformedInput):
                ses.parse_seal(before + length + after)
            with pytest.raises(MalformedInput):
                ses.parse_signature(before + length + after)
        size = header.end - header.body
        for delta in (-1, 1):
            if size + delta >= 0 and len(_length(size + delta)) == header.body - header.length_at:
                exercise(before + _length(size + delta) + after)


def test_garbage_and_edge_inputs() -> None:
    for data in (
        b"",
        b"\x30",
        b"\x30\x00",
        b"\x30\x02\x30\x00",
        b"\x00" * 64,
        b"\xff" * 64,
        b"\x30\x80\x00\x00",
    ):
        exercise(data)


# --- hypothesis ---------------------------------------------------------------------------------------------

FUZZ_SETTINGS = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@FUZZ_SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_malformed_input(data: bytes) -> None:
    exercise(data)


@FUZZ_SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_sequence_content_raises_only_malformed_input(content: bytes) -> None:
    exercise(b"\x30" + _length(len(content)) + content)


@FUZZ_SETTINGS
@given(st.sampled_from(sorted(SMALL)), st.data())
def test_structure_aware_mutations_raise_only_malformed_input_or_invalid_signature(
    name: str, data: st.DataObject
) -> None:
    root, _ = parse_tree(SMALL[name])
    nodes = preorder(root)
    for _ in range(data.draw(st.integers(1, 3))):
        node = data.draw(st.sampled_from(nodes))
        action = data.draw(
            st.sampled_from(["content", "tag", "drop", "duplicate", "swap", "truncate", "append"])
        )
        if action == "content":
            node.children, node.content = None, data.draw(st.binary(max_size=80))
        elif action == "tag":
            node.tag = data.draw(st.sampled_from(TAGS))
            if node.tag & 0x20 and node.children is None:
                node.content = b""
                node.children = []
            elif not node.tag & 0x20 and node.children is not None:
                node.content, node.children = encode(node)[2:], None
        elif node.children:
            i = data.draw(st.integers(0, len(node.children) - 1))
            if action == "drop":
                del node.children[i]
            elif action == "duplicate":
                node.children.insert(i, node.children[i])
            elif action == "swap":
                j = data.draw(st.integers(0, len(node.children) - 1))
                node.children[i], node.children[j] = node.children[j], node.children[i]
            elif action == "append":
                node.children.append(
                    Node(data.draw(st.sampled_from(TAGS)) & ~0x20, data.draw(st.binary(max_size=8)))
                )
            else:
                node.children = node.children[:i]
        elif node.children is None and action == "truncate":
            node.content = node.content[: data.draw(st.integers(0, max(0, len(node.content) - 1)))]
        nodes = preorder(root)
    exercise(encode(root))
