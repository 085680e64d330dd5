"""Seal kinds (印章种类): our code table, with each kind's customary picture (shape, size, star, lettering).

The code is what trustsvc stores and what it writes into ``SES_ESPropertyInfo.type`` of a GB/T 38540 seal.
The value set of ``type`` is **not standardised publicly** (spec/standards.md §3.1): real files show ``1``
on bank receipts (organisation seals) and ``3`` on e-invoices (发票专用章); GM/T 0031 (V1) code such as
OFDRW documents ``1`` = organisation seal and ``2`` = personal seal. The table below is therefore ours. It
keeps the two observed values (1 = organisation, 3 = invoice) and follows, for 2, 4 and 5, the
numbering that e-signature SDKs use (01 单位专用章, 02 财务专用章, 03 发票专用章, 04 合同专用章,
05 法人名章); 6 is ours.

Code, kind, default picture, lower text:

- 1 法定名称章（公章）: round Ø42 mm, rim 1.2 mm, star; no lower text (optional 13-digit seal code).
- 2 财务专用章: round Ø40 mm, rim 1.0 mm, star; 财务专用章.
- 3 发票专用章: oval 40×30 mm, rim 1.0 mm, no star; taxpayer number across the middle, 发票专用章
  below, optional serial (1), (2) … at the bottom.
- 4 合同专用章: round Ø40 mm, rim 1.0 mm, star; 合同专用章.
- 5 法定代表人名章: square 20×20 mm, rim 1.0 mm; the person's name in 2×2 characters.
- 6 业务专用章: round Ø40 mm, rim 1.0 mm, star; 业务专用章.

Where the sizes come from:

- Organisation seals are round, lettered in simplified Song (宋体), the name running left to right along the
  upper arc around a five-pointed star: 《国务院关于国家行政机关和企业事业单位社会团体印章管理的规定》
  (国发〔1999〕25号), which also caps enterprise seals at 4.2 cm across.
- Diameters and rim widths are the customary ones in local public-security rules and seal makers' published
  specifications (they differ between provinces; there is no national figure): 公章 Ø42 mm, rim 1.2 mm, star
  14 mm tip to tip; 专用章 Ø40 mm, rim 1.0 mm, the special name set horizontally in the lower part. Some
  localities issue 财务专用章 square or oval instead: a :class:`~trustsvc.seal.picture.SealPictureSpec`
  can override shape and size.
- 发票专用章 follows 《国家税务总局关于发票专用章式样有关问题的公告》 (国家税务总局公告2011年第7号): an
  oval, 40 mm × 30 mm, rim 1 mm, red; the taxpayer identification number across the middle; the taxpayer's
  name along the upper arc (letters 4.2 mm high); 发票专用章 below (4.6 mm high, 3 mm wide); a serial such
  as (1) at the bottom when a taxpayer holds several; no star. The notice names 仿宋 (FangSong) for the
  letters and Arial for the digits; we letter them with our Song and Hei faces.
- 法定代表人名章 (a personal name seal) is customarily square, 18–20 mm; we draw 20 mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

__all__ = ["SealKind", "SealKindInfo", "SealShape"]


class SealShape(StrEnum):
    ROUND = "round"
    OVAL = "oval"
    SQUARE = "square"


@dataclass(frozen=True)
class SealKindInfo:
    """The customary picture of one seal kind."""

    label: str  # Chinese name of the kind, for UI text
    shape: SealShape
    width_mm: float
    height_mm: float
    border_mm: float
    star: bool
    seal_name: str  # the horizontal text in the lower part ("" for none)


class SealKind(IntEnum):
    """Seal kinds, by our code (see the module docstring for the table and its sources)."""

    ORGANISATION = 1  # 法定名称章（公章）
    FINANCE = 2  # 财务专用章
    INVOICE = 3  # 发票专用章
    CONTRACT = 4  # 合同专用章
    LEGAL_REPRESENTATIVE = 5  # 法定代表人名章
    BUSINESS = 6  # 业务专用章

    @property
    def info(self) -> SealKindInfo:
        """Return the customary picture of this kind."""
        return _INFO[self]

    @property
    def label(self) -> str:
        """Return the Chinese name of this kind (e.g. 合同专用章)."""
        return _INFO[self].label


_INFO: dict[SealKind, SealKindInfo] = {
    SealKind.ORGANISATION: SealKindInfo("法定名称章", SealShape.ROUND, 42.0, 42.0, 1.2, True, ""),
    SealKind.FINANCE: SealKindInfo("财务专用章", SealShape.ROUND, 40.0, 40.0, 1.0, True, "财务专用章"),
    SealKind.INVOICE: SealKindInfo("发票专用章", SealShape.OVAL, 40.0, 30.0, 1.0, False, "发票专用章"),
    SealKind.CONTRACT: SealKindInfo("合同专用章", SealShape.ROUND, 40.0, 40.0, 1.0, True, "合同专用章"),
    SealKind.LEGAL_REPRESENTATIVE: SealKindInfo(
        "法定代表人名章", SealShape.SQUARE, 20.0, 20.0, 1.0, False, ""
    ),
    SealKind.BUSINESS: SealKindInfo("业务专用章", SealShape.ROUND, 40.0, 40.0, 1.0, True, "业务专用章"),
}
