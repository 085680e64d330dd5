"""Licence rendering: one layout model drawn to PDF (checked with poppler) and to OFD (our reader)."""

from __future__ import annotations

import html
import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from trustsvc.license import identifier as licence_identifier
from trustsvc.license.catalog import LicenceType, TextBox, load_catalog, validate_fields
from trustsvc.license.render import (
    QR_QUIET_ZONE,
    QrOp,
    RenderedLicence,
    TextOp,
    build_layout,
    render_licence,
)
from trustsvc.ofd.package import OfdPackage

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pdftotext", "pdffonts", "pdftoppm")),
    reason="poppler-utils needed",
)

TODAY = date(2026, 1, 15)
ISSUER_CODE = "11430000006122244L"
ISSUER_NAME = "长沙市岳麓区市场监督管理局"
PT = 25.4 / 72

SCOPE = (
    "一般项目：软件开发；信息技术咨询服务；信息系统集成服务；数据处理和存储支持服务；人工智能应用软件开发；"
    "网络技术服务；技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广；计算机软硬件及辅助设备零售；"
    "电子产品销售；办公设备销售；会议及展览服务；（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"
    "许可项目：第二类增值电信业务。（依法须经批准的项目，经相关部门批准后方可开展经营活动，"
    "具体经营项目以相关部门批准文件或许可证件为准）"
)

FIELDS: dict[str, dict[str, Any]] = {
    "11100000MB03271699901": {
        "name": "长沙市岳麓区湘江示范科技有限公司",
        "uscc": "91110000600037341L",
        "entity_type": "有限责任公司（自然人投资或控股）",
        "legal_representative": "张三",
        "business_scope": SCOPE,
        "registered_capital": "1000000",
        "established_on": "2020-05-01",
        "business_term": "2020年05月01日至长期",
        "domicile": "湖南省长沙市岳麓区麓谷大道100号",
        "registration_authority": ISSUER_NAME,
    },
    "11100000MB03271699902": {
        "operator_name": "长沙市芙蓉区好味道餐饮管理有限公司",
        "uscc": "91110000600037341L",
        "legal_representative": "王五",
        "domicile": "湖南省长沙市芙蓉区五一大道200号",
        "premises": "湖南省长沙市芙蓉区五一大道200号一楼101室",
        "business_format": "餐饮服务经营者",
        "business_items": "热食类食品制售；冷食类食品制售；自制饮品制售；糕点类食品（含裱花蛋糕）制售。",
        "licence_number": "JY24301020012345",
        "valid_until": "2031-01-14",
        "supervising_authority": "长沙市芙蓉区市场监督管理局",
        "signatory": "赵六",
    },
    "11100000000013661B903": {
        "name": "李四",
        "sex": "女",
        "citizen_id": "11010519491231002X",
        "category": "电工作业",
        "operation_item": "低压电工作业",
        "first_issued_on": "2020-03-01",
    },
}
HOLDER = {
    "11100000MB03271699901": ("长沙市岳麓区湘江示范科技有限公司", "91110000600037341L"),
    "11100000MB03271699902": ("长沙市芙蓉区好味道餐饮管理有限公司", "JY24301020012345"),
    "11100000000013661B903": ("李四", "11010519491231002X"),
}


@dataclass
class Case:
    licence_type: LicenceType
    fields: dict[str, Any]
    identifier: str
    rendered: RenderedLicence
    pdf_path: Path


def _render(licence_type: LicenceType, fields: dict[str, Any]) -> tuple[str, RenderedLicence]:
    ident = str(licence_identifier.build(licence_type.type_code, ISSUER_CODE, "20260000001"))
    valid_from, valid_to = licence_type.validity.period(fields, TODAY)
    rendered = render_licence(
        licence_type,
        fields,
        identifier=ident,
        issuer_name=ISSUER_NAME,
        issuer_code=ISSUER_CODE,
        issue_date=TODAY,
        valid_from=valid_from,
        valid_to=valid_to,
        verify_url=f"https://trust.example.gov.cn/v/{ident}",
    )
    return ident, rendered


@pytest.fixture(scope="module", params=sorted(FIELDS))
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Case:
    licence_type = load_catalog().get(request.param)
    fields = validate_fields(licence_type, FIELDS[request.param], today=TODAY)
    ident, rendered = _render(licence_type, fields)
    path = tmp_path_factory.mktemp("render") / "licence.pdf"
    path.write_bytes(rendered.pdf)
    return Case(licence_type, fields, ident, rendered, path)


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def _gray(image: Image.Image, x: int, y: int) -> int:
    value = image.getpixel((x, y))
    assert isinstance(value, int)
    return value


def _raster(path: Path, dpi: int, crop_mm: tuple[float, float, float, float] | None = None) -> Image.Image:
    args = ["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile"]
    if crop_mm is not None:
        x, y, w, h = (round(v * dpi / 25.4) for v in crop_mm)
        args += ["-x", str(x), "-y", str(y), "-W", str(w), "-H", str(h)]
    png = subprocess.run([*args, str(path)], check=True, capture_output=True, timeout=60).stdout
    return Image.open(io.BytesIO(png)).convert("L")


def _pdf_words(path: Path) -> list[tuple[str, float, float, float, float]]:
    """Words of the PDF with their boxes in mm (x0, y0, x1, y1; y down from the top)."""
    out = _run("pdftotext", "-bbox", str(path), "-")
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    words = []
    for x0, y0, x1, y1, text in re.findall(pattern, out):
        words.append((html.unescape(text), float(x0) * PT, float(y0) * PT, float(x1) * PT, float(y1) * PT))
    return words


# --- PDF ------------------------------------------------------------------------------------------------


def test_pdf_text_holds_holder_and_number(case: Case) -> None:
    text = re.sub(r"\s+", "", _run("pdftotext", str(case.pdf_path), "-"))
    name, number = HOLDER[case.licence_type.type_code]
    assert name in text
    assert number in text
    assert case.identifier in text


def test_pdf_fonts_all_embedded(case: Case) -> None:
    rows = _run("pdffonts", str(case.pdf_path)).splitlines()[2:]
    assert rows, "no fonts listed"
    for row in rows:
        columns = row.split()
        assert columns[-5] == "yes", row  # emb
        assert columns[-4] == "yes", row  # subset


def test_pdf_page_renders(case: Case) -> None:
    image = _raster(case.pdf_path, 50)
    lo, hi = image.getextrema()
    assert isinstance(lo, int) and isinstance(hi, int)
    assert lo < 100 and hi > 240  # ink on a white page


def test_seal_box_is_blank_except_text_meant_to_be_sealed_over(case: Case) -> None:
    seal = case.rendered.seal_box
    assert seal is not None
    page, x, y, w, h = seal
    assert page == 0
    dpi = 100
    image = _raster(case.pdf_path, dpi)
    scale = dpi / 25.4
    text_boxes = [op.box for op in case.rendered.layout.ops if isinstance(op, TextOp)]
    # nothing but text (issuer name / date, sealed over on purpose) is drawn in the seal box
    for op in case.rendered.layout.ops:
        if isinstance(op, QrOp):
            assert op.x + op.size <= x or op.x >= x + w or op.y + op.size <= y or op.y >= y + h
    margin = 0.6
    for py in range(int(y * scale) + 1, int((y + h) * scale)):
        for px in range(int(x * scale) + 1, int((x + w) * scale)):
            mx, my = px / scale, py / scale
            if any(
                bx - margin <= mx <= bx + bw + margin and by - margin <= my <= by + bh + margin
                for bx, by, bw, bh in text_boxes
            ):
                continue
            assert _gray(image, px, py) > 245, (mx, my)


def test_qr_drawn_matches_segno_matrix(case: Case) -> None:
    qr = next(op for op in case.rendered.layout.ops if isinstance(op, QrOp))
    assert case.identifier in qr.data
    dpi = 400
    image = _raster(case.pdf_path, dpi, (qr.x, qr.y, qr.size, qr.size))
    scale = dpi / 25.4
    crop_x, crop_y = round(qr.x * scale), round(qr.y * scale)
    for row, cells in enumerate(qr.matrix):
        for col, dark in enumerate(cells):
            cx = qr.x + (QR_QUIET_ZONE + col + 0.5) * qr.module
            cy = qr.y + (QR_QUIET_ZONE + row + 0.5) * qr.module
            value = _gray(image, round(cx * scale) - crop_x, round(cy * scale) - crop_y)
            assert (value < 128) == dark, (row, col, value)


def test_pdf_metadata_info_and_xmp(case: Case) -> None:
    info = _run("pdfinfo", str(case.pdf_path)) if shutil.which("pdfinfo") else ""
    if info:
        assert f"Title:           {case.licence_type.name}" in info
        assert "Metadata Stream: yes" in info
    pdf = case.rendered.pdf
    assert f"<zz:ZZBS>{case.identifier}</zz:ZZBS>".encode() in pdf
    assert f"<zz:ZZLXDM>{case.licence_type.type_code}</zz:ZZLXDM>".encode() in pdf
    assert b"/ZZBS (" + case.identifier.encode() + b")" in pdf
    assert b"D:20260115000000+08'00'" in pdf


# --- OFD ------------------------------------------------------------------------------------------------


def test_ofd_text_and_custom_datas(case: Case) -> None:
    doc = OfdPackage.read(case.rendered.ofd).document(0)
    text = "".join(run.text for run in doc.page_text(0))
    name, number = HOLDER[case.licence_type.type_code]
    assert name in text and number in text and case.identifier in text
    datas = doc.custom_datas
    assert datas == case.rendered.metadata
    assert datas["ZZBS"] == case.identifier
    assert datas["ZZMC"] == case.licence_type.name
    assert datas["ZZLXDM"] == case.licence_type.type_code
    assert datas["ZZBH"] == number
    assert datas["CZZT"] == name
    assert datas["CZZTDMLXDM"] == case.licence_type.holder_code_type
    assert datas["ZZBFJGDM"] == ISSUER_CODE and datas["ZZBFJG"] == ISSUER_NAME
    assert datas["ZZBFRQ"] == "2026-01-15"
    assert set(datas) == {
        "ZZMC",
        "ZZLXDM",
        "ZZBH",
        "ZZBS",
        "ZZBFJG",
        "ZZBFJGDM",
        "ZZBFRQ",
        "CZZT",
        "CZZTDM",
        "CZZTDMLXDM",
        "ZZYXQQSRQ",
        "ZZYXQJZRQ",
    }


def test_same_geometry_in_pdf_and_ofd(case: Case) -> None:
    name = HOLDER[case.licence_type.type_code][0]
    runs = [r for r in OfdPackage.read(case.rendered.ofd).document(0).page_text(0) if r.text == name]
    words = [w for w in _pdf_words(case.pdf_path) if w[0] == name]
    assert len(runs) == 1 and len(words) == 1
    run, (_, x0, y0, x1, y1) = runs[0], words[0]
    assert abs(run.x - x0) < 1.0
    assert abs((run.x + run.w) - x1) < 1.0
    assert abs((run.y + run.h / 2) - (y0 + y1) / 2) < 1.0


def test_deterministic(case: Case) -> None:
    _, again = _render(case.licence_type, case.fields)
    assert again.pdf == case.rendered.pdf
    assert again.ofd == case.rendered.ofd


# --- layout ---------------------------------------------------------------------------------------------


def _business() -> tuple[LicenceType, dict[str, Any]]:
    licence_type = load_catalog().get("11100000MB03271699901")
    return licence_type, dict(FIELDS["11100000MB03271699901"])


def _layout(licence_type: LicenceType, fields: dict[str, Any]) -> list[TextOp]:
    layout = build_layout(
        licence_type,
        validate_fields(licence_type, fields, today=TODAY),
        identifier="1.2.156.3005.2.X",
        issuer_name=ISSUER_NAME,
        issue_date=TODAY,
        valid_from=TODAY,
        valid_to=None,
        verify_url="https://trust.example.gov.cn/v/x",
    )
    return [op for op in layout.ops if isinstance(op, TextOp)]


@pytest.mark.parametrize("length", [len(SCOPE), 2000])
def test_long_scope_wraps_within_its_box(length: int) -> None:
    licence_type, fields = _business()
    fields["business_scope"] = (SCOPE * 20)[:length]
    box = next(
        e for e in licence_type.template.elements if isinstance(e, TextBox) and e.field == "business_scope"
    )
    lines = [op for op in _layout(licence_type, fields) if op.source == "field:business_scope"]
    assert len(lines) > 3
    assert "".join(op.text for op in lines) == fields["business_scope"]
    for op in lines:
        bx, by, bw, bh = op.box
        assert box.x - 1e-6 <= bx and bx + bw <= box.x + box.width + 1e-6
        assert box.y - 1e-6 <= by and by + bh <= box.y + box.height + 1e-6
    assert all(not op.text.startswith(("，", "。", "；", "、", "）")) for op in lines)


def test_text_too_long_for_its_box_is_set_smaller() -> None:
    licence_type, fields = _business()
    box = next(
        e for e in licence_type.template.elements if isinstance(e, TextBox) and e.field == "entity_type"
    )
    fields["entity_type"] = "有限责任公司" * 8  # 48 characters: two lines do not fit the 7 mm box at 10.5 pt
    lines = [op for op in _layout(licence_type, fields) if op.source == "field:entity_type"]
    assert "".join(op.text for op in lines) == fields["entity_type"]
    assert all(op.size_mm < box.size_pt * 25.4 / 72 for op in lines)
    assert all(op.box[1] + op.box[3] <= box.y + box.height + 1e-6 for op in lines)
