"""The OFD package layer on real files from four vendors (shared/testdata/ofd-real) and on our own output:
pages and their IDs and boxes, listed signatures, page text with positions, byte-exact round trips, ST_Loc
resolution, and the immutable changes signing builds on."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

import pytest

from trustsvc.errors import InvalidInput, MalformedInput
from trustsvc.ofd import OfdPackage, PageInfo, SignatureEntry, TextRun

REAL_OFD = Path("/work/shared/testdata/ofd-real")
needs_real_files = pytest.mark.skipif(not REAL_OFD.is_dir(), reason="shared/testdata/ofd-real is missing")


@dataclass(frozen=True)
class Expected:
    page_id: int
    box: tuple[float, float, float, float]
    signatures: tuple[SignatureEntry, ...]
    page_strings: tuple[str, ...]  # drawn by the page content itself
    template_strings: tuple[str, ...]  # drawn by the page's template


def _sig(sig_id: str, kind: str, base_loc: str, path: str) -> SignatureEntry:
    return SignatureEntry(id=sig_id, type=kind, base_loc=base_loc, signature_xml_path=path)  # type: ignore[arg-type]


EXPECTED = {
    "baiwang_einvoice.ofd": Expected(
        page_id=6,
        box=(0, 0, 210, 105),
        signatures=(
            _sig("2", "Seal", "/Doc_0/Signs/Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/Signature.xml"),
        ),
        page_strings=("上海商务电子有限公司", "￥1000000.00", "壹佰万元整"),
        template_strings=("开户银行：", "校验码"),
    ),
    "dj_bank_receipt.ofd": Expected(
        page_id=1,
        box=(0, 0, 209.9028, 148.1667),
        signatures=(_sig("1", "Seal", "Sign_1/Signature.xml", "Doc_0/Signs/Sign_1/Signature.xml"),),
        page_strings=("国网福建省电力有限公司", "叁圆柒角伍分", "2022-05-25"),
        template_strings=("交易回单",),
    ),
    "railway_eticket_sign.ofd": Expected(
        page_id=1,
        box=(0, 0, 209.9733, 139.9117),
        signatures=(_sig("1", "Sign", "Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/Signature.xml"),),
        page_strings=("电子发票（铁路电子客票）", "发票号码:22119130671000000049", "梁某某"),
        template_strings=(),
    ),
    "suwell_bank_receipt_a.ofd": Expected(
        page_id=1,
        box=(0, 0, 209.0208, 147.0201),
        signatures=(_sig("1", "Seal", "Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/Signature.xml"),),
        page_strings=("北京海淀支行", "网电十一", "人民币"),
        template_strings=("回单编号：", "签发日期："),
    ),
    "suwell_bank_receipt_b.ofd": Expected(
        page_id=1,
        box=(0, 0, 210.0016, 296.9966),
        signatures=(_sig("1", "Seal", "Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/Signature.xml"),),
        page_strings=("自来水有限责任公司", "中国工商银行上海分行"),
        template_strings=("回单接收人账号:",),
    ),
}


def real(name: str) -> OfdPackage:
    return OfdPackage.read((REAL_OFD / name).read_bytes())


def run_with(runs: list[TextRun], text: str) -> TextRun:
    (found,) = [run for run in runs if run.text == text]
    return found


# --- real files ------------------------------------------------------------------------------------------


@needs_real_files
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_lists_its_page_with_id_and_physical_box(name: str) -> None:
    doc = real(name).document()
    expected = EXPECTED[name]
    (page,) = doc.pages
    assert page.id == expected.page_id
    assert page.index == 0
    assert page.path == "Doc_0/Pages/Page_0/Content.xml"
    assert page.physical_box == pytest.approx(expected.box)
    assert doc.page_by_id(expected.page_id) == page


@needs_real_files
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_lists_its_signature(name: str) -> None:
    package = real(name)
    doc = package.document()
    assert doc.signatures_path == "Doc_0/Signs/Signatures.xml"
    assert tuple(doc.signatures()) == EXPECTED[name].signatures
    for entry in doc.signatures():
        assert entry.signature_xml_path in package.files


@needs_real_files
def test_dj_signature_value_resolves_to_sign_value_dat_in_sign_1() -> None:
    package = real("dj_bank_receipt.ofd")
    (entry,) = package.document().signatures()
    here = posixpath.dirname(entry.signature_xml_path)
    path, value = package.load(here, "SignValue.dat")
    assert path == "Doc_0/Signs/Sign_1/SignValue.dat"
    assert value[:1] == b"\x30"  # DER SEQUENCE
    assert package.load(here, "Seal.esl")[0] == "Doc_0/Signs/Sign_1/Seal.esl"


@needs_real_files
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_page_text_contains_visible_strings(name: str) -> None:
    doc = real(name).document()
    expected = EXPECTED[name]
    page_only = {run.text.strip() for run in doc.page_text(doc.pages[0], include_templates=False)}
    with_templates = {run.text.strip() for run in doc.page_text(doc.pages[0])}
    for text in expected.page_strings:
        assert text in page_only
    for text in expected.template_strings:
        assert text in with_templates
        assert text not in page_only


@needs_real_files
def test_real_page_text_positions_follow_boundary_textcode_and_deltax() -> None:
    doc = real("dj_bank_receipt.ofd").document()
    run = run_with(doc.page_text(0), "国网福建省电力有限公司")
    # Boundary="50.5567 31.4854 46.8509 12.9646" Size="3.175"; TextCode X="0" Y="7.6221" DeltaX="g 10 3.175"
    assert run.x == pytest.approx(50.5567)
    assert run.baseline == pytest.approx(31.4854 + 7.6221)
    assert run.font_size == pytest.approx(3.175)
    assert [g.x for g in run.glyphs] == pytest.approx([50.5567 + 3.175 * i for i in range(11)])
    assert run.w == pytest.approx(11 * 3.175)
    assert run.y < run.baseline < run.y + run.h
    assert run.source == "Doc_0/Pages/Page_0/Content.xml"
    assert run.object_id == 109


@needs_real_files
def test_real_template_text_applies_the_ctm() -> None:
    doc = real("suwell_bank_receipt_a.ofd").document()
    run = run_with(doc.page_text(0), "回单编号：")
    # Boundary="14.8167 29.587 …" CTM="0.3528 0 0 0.3528 0 0" Size="10.45"; Y="9.7812"; DeltaX="10.4399 …"
    assert run.source == "Doc_0/Tpls/Tpl_0/Content.xml"
    assert run.baseline == pytest.approx(29.587 + 0.3528 * 9.7812)
    assert run.font_size == pytest.approx(10.45 * 0.3528)
    assert run.glyphs[1].x == pytest.approx(14.8167 + 0.3528 * 10.4399)


@needs_real_files
def test_real_text_with_delta_y_wraps_to_a_second_line() -> None:
    doc = real("railway_eticket_sign.ofd").document()
    text = "买票请到12306 发货请到95306中国铁路祝您旅途愉快"
    run = run_with(doc.page_text(0), text)
    first, china = run.glyphs[0], run.glyphs[19]
    assert china.char == "中"
    # DeltaY="g 18 0 4.2333 g 9 0": the 19th advance moves one line down; DeltaX goes back by 47.6246
    assert china.y - first.y == pytest.approx(4.2333)
    expected_x = 10.578 + 65.9661 + 4 * 4.2333 + 6 * 2.1167 + 4 * 4.2333 + 4 * 2.1167 - 47.6246
    assert china.x == pytest.approx(expected_x)
    assert run.h == pytest.approx(2 * 4.2333)


@needs_real_files
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_round_trips_every_entry_byte_for_byte(name: str) -> None:
    original = real(name)
    written = original.write()
    again = OfdPackage.read(written)
    assert dict(again.files) == dict(original.files)
    assert again.write() == written


@needs_real_files
def test_real_file_metadata() -> None:
    doc = real("dj_bank_receipt.ofd").document()
    assert doc.doc_id == "48c3e8f5c4ec4533baf835bd1fc4da46"
    assert doc.creation_date == "2022-05-26"
    assert doc.custom_datas["native-producer"] == "SuwellFormSDK"
    assert doc.max_unit_id == 1123


# --- changes for signing ---------------------------------------------------------------------------------


@needs_real_files
def test_next_slot_in_dj_file_skips_used_sign_dir_and_max_sign_id() -> None:
    doc = real("dj_bank_receipt.ofd").document()  # MaxSignId 2, Sign_1 in use
    slot = doc.next_signature_slot()
    assert slot.id == "3"
    assert slot.dir == "Doc_0/Signs/Sign_0"
    assert slot.signature_xml_path == "Doc_0/Signs/Sign_0/Signature.xml"
    assert slot.signatures_path == "Doc_0/Signs/Signatures.xml"


@needs_real_files
def test_adding_a_signature_entry_to_a_signed_file_touches_only_signatures_xml() -> None:
    package = real("suwell_bank_receipt_b.ofd")
    doc = package.document()
    slot = doc.next_signature_slot()
    assert (slot.id, slot.dir) == ("2", "Doc_0/Signs/Sign_1")
    signed = package.with_signature_entry(slot, type="Sign")
    changed = {name for name in signed.files if signed.files[name] != package.files.get(name)}
    assert changed == {"Doc_0/Signs/Signatures.xml"}
    entries = signed.document().signatures(check_files=False)
    assert entries[-1] == _sig("2", "Sign", "Sign_1/Signature.xml", "Doc_0/Signs/Sign_1/Signature.xml")
    listing = signed.xml("Doc_0/Signs/Signatures.xml")
    assert listing.findtext("{http://www.ofdspec.org/2016}MaxSignId") == "2"
    with pytest.raises(MalformedInput):  # its Signature.xml is not there yet
        signed.document().signatures()


def test_adding_the_first_signature_adds_ofd_xml_signatures_and_a_new_list(built: OfdPackage) -> None:
    doc = built.document()
    assert doc.signatures_path is None
    assert doc.signatures() == []
    slot = doc.next_signature_slot()
    assert (slot.id, slot.dir) == ("1", "Doc_0/Signs/Sign_0")
    assert slot.signatures_path == "Doc_0/Signs/Signatures.xml"
    signed = built.with_signature_entry(slot).with_files({slot.signature_xml_path: b"<x/>"})
    changed = {name for name in signed.files if signed.files[name] != built.files.get(name)}
    assert changed == {"OFD.xml", "Doc_0/Signs/Signatures.xml", slot.signature_xml_path}
    signed_doc = OfdPackage.read(signed.write()).document()
    assert signed_doc.signatures_path == "Doc_0/Signs/Signatures.xml"
    assert signed_doc.signatures() == [_sig("1", "Seal", "Sign_0/Signature.xml", slot.signature_xml_path)]
    assert signed_doc.next_signature_slot().dir == "Doc_0/Signs/Sign_1"
    assert signed_doc.next_signature_slot().id == "2"


def test_with_files_returns_a_new_package_and_keeps_other_bytes(built: OfdPackage) -> None:
    before = dict(built.files)
    changed = built.with_files({"/Doc_0/Extra/a.txt": b"hello", "Doc_0/PublicRes.xml": None})
    assert dict(built.files) == before  # the original is unchanged
    assert changed.files["Doc_0/Extra/a.txt"] == b"hello"
    assert "Doc_0/PublicRes.xml" not in changed.files
    for name, content in changed.files.items():
        if name in before:
            assert content is before[name] or content == before[name]
    with pytest.raises(InvalidInput):
        built.with_files({"doc_0/document.xml": b"x"})  # differs from Doc_0/Document.xml only in case
    with pytest.raises(InvalidInput):
        built.with_files({"Doc_0/missing.xml": None})
    for bad in ("../x", "a/../b", "a\\b", "", "a//b", "dir/"):
        with pytest.raises(InvalidInput):
            built.with_files({bad: b"x"})


def test_files_mapping_is_read_only(built: OfdPackage) -> None:
    with pytest.raises(TypeError):
        built.files["OFD.xml"] = b"x"  # type: ignore[index]


# --- ST_Loc ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "loc", "expected"),
    [
        ("Doc_0", "Pages/Page_0/Content.xml", "Doc_0/Pages/Page_0/Content.xml"),
        ("Doc_0/Signs", "/Doc_0/Signs/Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/Signature.xml"),
        ("Doc_0/Signs/Sign_0", "../Sign_1/./x.dat", "Doc_0/Signs/Sign_1/x.dat"),
        ("", "Doc_0/Document.xml", "Doc_0/Document.xml"),
        ("Doc_0", "  Res/font.ttf\n", "Doc_0/Res/font.ttf"),
    ],
)
def test_resolve_st_loc(base: str, loc: str, expected: str) -> None:
    assert OfdPackage.resolve(base, loc) == expected


def test_page_info_is_a_plain_value() -> None:
    page = PageInfo(id=1, index=0, path="p", physical_box=(0, 0, 1, 1))
    assert page == PageInfo(id=1, index=0, path="p", physical_box=(0, 0, 1, 1))


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture
def built() -> OfdPackage:
    from trustsvc.ofd import DocumentBuilder

    doc = DocumentBuilder(doc_id="00112233445566778899aabbccddeeff")
    doc.page().text(20, 30, "测试文件", 5)
    return doc.build()
