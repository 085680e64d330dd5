"""Licence types as data: the shipped catalogue, field validation, adding a type from JSON."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from trustsvc.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from trustsvc.license.catalog import (
    DATA_DIR,
    DoubleBorder,
    FieldType,
    HolderKind,
    LicenceType,
    QrBox,
    Rect,
    SealBox,
    TextBox,
    add_type_from_json,
    load_catalog,
    parse_licence_type,
    validate_fields,
)
from trustsvc.license.identifier import build
from trustsvc.seal.kinds import SealKind

BUSINESS = "11100000MB03271699901"
FOOD = "11100000MB03271699902"
SPECIAL = "11100000000013661B903"
TODAY = date(2026, 1, 2)

BUSINESS_FIELDS = {
    "name": "长沙示例科技有限公司",
    "uscc": "11430000006122244l",
    "entity_type": "有限责任公司（自然人投资或控股）",
    "legal_representative": "张三",
    "business_scope": "软件开发；信息技术咨询服务。（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
    "registered_capital": "1000000",
    "established_on": "2015-03-01",
    "business_term": "2015年03月01日至长期",
    "domicile": "湖南省长沙市岳麓区示例路1号",
    "registration_authority": "长沙市岳麓区市场监督管理局",
}
FOOD_FIELDS = {
    "operator_name": "杭州示例餐饮有限公司",
    "uscc": "11330105002500287C",
    "legal_representative": "李四",
    "domicile": "浙江省杭州市拱墅区示例街2号",
    "premises": "浙江省杭州市拱墅区示例街2号1楼",
    "business_format": "餐饮服务经营者",
    "business_items": "热食类食品制售",
    "licence_number": "JY23301050000123",
    "valid_until": "2030-12-31",
    "supervising_authority": "拱墅区市场监督管理局",
    "signatory": "王五",
}
SPECIAL_FIELDS = {
    "name": "赵六",
    "sex": "男",
    "citizen_id": "360426199101010071",
    "category": "电工作业",
    "operation_item": "低压电工作业",
    "first_issued_on": "2020-05-01",
}


@pytest.fixture
def catalog_types() -> dict[str, LicenceType]:
    return {t.type_code: t for t in load_catalog()}


def _json(name: str) -> dict[str, Any]:
    return json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _invalid_field(licence_type: LicenceType, fields: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as excinfo:
        validate_fields(licence_type, fields, today=TODAY)
    return excinfo.value


# --- the shipped catalogue -----------------------------------------------------------------------


def test_the_three_shipped_types_load(catalog_types: dict[str, LicenceType]) -> None:
    assert {t.name for t in catalog_types.values()} == {"营业执照", "食品经营许可证", "特种作业操作证"}
    business, food, special = catalog_types[BUSINESS], catalog_types[FOOD], catalog_types[SPECIAL]
    assert (business.holder_kind, business.holder_field, business.holder_code_type) == (
        HolderKind.ORGANISATION,
        "uscc",
        "001",
    )
    assert (special.holder_kind, special.holder_field, special.holder_code_type) == (
        HolderKind.PERSON,
        "citizen_id",
        "111",
    )
    assert food.field("licence_number").pattern == r"JY\d{14}"
    assert special.field("category").type is FieldType.ENUM
    for t in (business, food, special):
        assert t.defining_organisation_uscc == t.type_code[:18]
        assert t.seal_kind is SealKind.ORGANISATION
        assert "placeholder" in t.notes.lower()
        kinds = [type(e) for e in t.template.elements]
        assert kinds.count(QrBox) == 1 and kinds.count(SealBox) == 1
        # the type code is usable in an identifier
        assert build(t.type_code, "11430000006122244L", "1").type_code == t.type_code
    assert business.template.width_mm == 297 and business.template.height_mm == 210
    emblem = [e for e in business.template.elements if isinstance(e, Rect) and e.placeholder]
    assert emblem and "emblem" in (emblem[0].placeholder or "")
    assert any(isinstance(e, DoubleBorder) for e in business.template.elements)
    assert (special.template.width_mm, special.template.height_mm) == (85.6, 54)


def test_load_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


def test_catalog_get_names_unknown_codes() -> None:
    with pytest.raises(NotFound):
        load_catalog().get("11430000006122244L001")


def test_valid_fields_are_normalised(catalog_types: dict[str, LicenceType]) -> None:
    out = validate_fields(catalog_types[BUSINESS], BUSINESS_FIELDS, today=TODAY)
    assert out["uscc"] == "11430000006122244L"
    assert out["registered_capital"] == "1000000.00"
    assert out["established_on"] == "2015-03-01"
    food = validate_fields(
        catalog_types[FOOD], {**FOOD_FIELDS, "valid_until": date(2030, 12, 31)}, today=TODAY
    )
    assert food["valid_until"] == "2030-12-31"
    special = validate_fields(catalog_types[SPECIAL], SPECIAL_FIELDS, today=TODAY)
    assert special["citizen_id"] == "360426199101010071"


def test_blank_optional_fields_are_dropped(catalog_types: dict[str, LicenceType]) -> None:
    out = validate_fields(
        catalog_types[BUSINESS], {**BUSINESS_FIELDS, "registered_capital": " "}, today=TODAY
    )
    assert "registered_capital" not in out


@pytest.mark.parametrize(
    ("type_code", "base", "change", "field", "rule"),
    [
        (BUSINESS, BUSINESS_FIELDS, {"nickname": "x"}, "nickname", "unknown field"),
        (BUSINESS, BUSINESS_FIELDS, {"name": None}, "name", "required"),
        (BUSINESS, BUSINESS_FIELDS, {"domicile": "  "}, "domicile", "required"),
        (BUSINESS, BUSINESS_FIELDS, {"name": 12}, "name", "type"),
        (BUSINESS, BUSINESS_FIELDS, {"name": "长" * 101}, "name", "max length"),
        (BUSINESS, BUSINESS_FIELDS, {"business_scope": "经" * 2001}, "business_scope", "max length"),
        (BUSINESS, BUSINESS_FIELDS, {"uscc": "11430000006122244M"}, "uscc", "USCC check character"),
        (BUSINESS, BUSINESS_FIELDS, {"uscc": "1143000000612224"}, "uscc", "USCC length"),
        (BUSINESS, BUSINESS_FIELDS, {"uscc": "1143000000612224IL"}, "uscc", "USCC character set"),
        (BUSINESS, BUSINESS_FIELDS, {"established_on": "2015/03/01"}, "established_on", "date format"),
        (BUSINESS, BUSINESS_FIELDS, {"established_on": "2015-02-30"}, "established_on", "date format"),
        (BUSINESS, BUSINESS_FIELDS, {"business_term": "长期"}, "business_term", "pattern"),
        (BUSINESS, BUSINESS_FIELDS, {"registered_capital": "-5"}, "registered_capital", "money format"),
        (BUSINESS, BUSINESS_FIELDS, {"registered_capital": "1.005"}, "registered_capital", "money format"),
        (BUSINESS, BUSINESS_FIELDS, {"registered_capital": True}, "registered_capital", "money format"),
        (
            BUSINESS,
            BUSINESS_FIELDS,
            {"legal_representative": "张😀"},
            "legal_representative",
            "glyph coverage",
        ),
        (FOOD, FOOD_FIELDS, {"licence_number": "JY2330105000012"}, "licence_number", "pattern"),
        (FOOD, FOOD_FIELDS, {"licence_number": "JX23301050000123"}, "licence_number", "pattern"),
        (FOOD, FOOD_FIELDS, {"business_format": "网店"}, "business_format", "enum"),
        (FOOD, FOOD_FIELDS, {"uscc": "11330105002500288C"}, "uscc", "organisation code check digit"),
        (SPECIAL, SPECIAL_FIELDS, {"sex": "M"}, "sex", "enum"),
        (SPECIAL, SPECIAL_FIELDS, {"category": "驾驶"}, "category", "enum"),
        (
            SPECIAL,
            SPECIAL_FIELDS,
            {"citizen_id": "360426199101010072"},
            "citizen_id",
            "citizen ID check character",
        ),
        (
            SPECIAL,
            SPECIAL_FIELDS,
            {"citizen_id": "36042619910231007X"},
            "citizen_id",
            "citizen ID birth date",
        ),
        (SPECIAL, SPECIAL_FIELDS, {"citizen_id": "36042619910101007"}, "citizen_id", "citizen ID length"),
        (SPECIAL, SPECIAL_FIELDS, {"first_issued_on": 20200501}, "first_issued_on", "type"),
    ],
)
def test_each_field_rule_refuses_bad_input_naming_the_field(
    catalog_types: dict[str, LicenceType],
    type_code: str,
    base: dict[str, Any],
    change: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    fields = {**base, **change}
    fields = {k: v for k, v in fields.items() if v is not None}
    error = _invalid_field(catalog_types[type_code], fields)
    assert (error.extra["field"], error.extra["rule"]) == (field, rule)
    assert error.to_problem()["field"] == field


def test_fields_must_be_an_object(catalog_types: dict[str, LicenceType]) -> None:
    error = _invalid_field(catalog_types[BUSINESS], ["name"])  # type: ignore[arg-type]
    assert error.extra["rule"] == "type"


def test_validity_rules(catalog_types: dict[str, LicenceType]) -> None:
    issued = date(2024, 2, 29)
    business = catalog_types[BUSINESS]
    assert business.validity.period(validate_fields(business, BUSINESS_FIELDS), issued) == (issued, None)
    food = catalog_types[FOOD]
    assert food.validity.period(validate_fields(food, FOOD_FIELDS), issued) == (issued, date(2030, 12, 31))
    special = catalog_types[SPECIAL]
    fields = validate_fields(special, SPECIAL_FIELDS, today=TODAY)
    assert special.validity.period(fields, issued) == (issued, date(2030, 2, 28))
    assert special.validity.period(fields, date(2024, 5, 1)) == (date(2024, 5, 1), date(2030, 5, 1))


# --- adding a type -------------------------------------------------------------------------------


def _new_type() -> dict[str, Any]:
    data = _json("special_operations_certificate")
    data["type_code"] = "11430000006122244L001"
    data["name"] = "导游证"
    data["name_en"] = "Tour guide certificate"
    data["defining_organisation"] = {"name": "示例定义机构", "uscc": "11430000006122244L"}
    data["fields"].append({"key": "languages", "label": "语种", "label_en": "Languages", "type": "string",
                           "required": False, "max_length": 20})  # fmt: skip
    data["template"]["elements"].append(
        {"kind": "text", "x": 4, "y": 48, "width": 30, "height": 4, "field": "languages", "size_pt": 6}
    )
    data["validity"] = {"kind": "fixed-years", "years": 3, "start_field": "first_issued_on"}
    return data


def test_a_new_type_added_from_json_validates_fields() -> None:
    licence_type = add_type_from_json(json.dumps(_new_type(), ensure_ascii=False))
    assert licence_type.name == "导游证"
    out = validate_fields(licence_type, {**SPECIAL_FIELDS, "languages": "英语"}, today=TODAY)
    assert out["languages"] == "英语"
    assert licence_type.validity.period(out, date(2026, 1, 2)) == (date(2020, 5, 1), date(2023, 5, 1))
    catalog = load_catalog().with_type(licence_type)
    assert catalog.get("11430000006122244L001") is licence_type
    assert len(catalog) == len(load_catalog()) + 1
    error = _invalid_field(licence_type, {**SPECIAL_FIELDS, "languages": "英" * 21})
    assert (error.extra["field"], error.extra["rule"]) == ("languages", "max length")


def test_adding_a_taken_type_code_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        add_type_from_json(_json("business_licence"))


def _mutate(path: str, value: Any) -> dict[str, Any]:
    """Return the new type with the value at a dotted/indexed path replaced (``...`` deletes it)."""
    data = copy.deepcopy(_new_type())
    target: Any = data
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ("name", ..., "name"),
        ("colour", "red", "colour"),
        ("type_code", "11430000006122244M001", "type_code"),
        ("type_code", "11430000006122244L01", "type_code"),
        ("defining_organisation.uscc", "11100000000013338W", "defining_organisation.uscc"),
        ("holder.kind", "company", "holder.kind"),
        ("holder.field", "name", "holder.field"),
        ("fields[0].type", "text", "fields[0].type"),
        ("fields[0].max_length", "50", "fields[0].max_length"),
        ("fields[0].max_length", 0, "fields[0].max_length"),
        ("fields[0].pattern", "([", "fields[0].pattern"),
        ("fields[0].enum", ["a"], "fields[0].enum"),
        ("fields[1].enum", [], "fields[1].enum"),
        ("fields[0].required", "yes", "fields[0].required"),
        ("fields[1].key", "name", "fields[1].key"),
        ("fields[1].key", "Sex", "fields[1].key"),
        ("validity.kind", "forever", "validity.kind"),
        ("validity.years", 0, "validity.years"),
        ("validity.start_field", "name", "validity.start_field"),
        ("template.width_mm", -1, "template.width_mm"),
        ("template.elements[0].kind", "circle", "template.elements[0].kind"),
        ("template.elements[1].x", 80, "template.elements[1]"),
        ("template.elements[1].font", "kai", "template.elements[1].font"),
        ("template.elements[1].text", "𠀀", "template.elements[1].text"),
        ("template.elements[0].color", "blue", "template.elements[0].color"),
        ("seal_kind", 99, "seal_kind"),
        ("seal_kind", "1", "seal_kind"),
    ],
)
def test_malformed_type_json_is_refused_naming_the_key(path: str, value: Any, key: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        add_type_from_json(_mutate(path, value))
    assert excinfo.value.extra["key"] == key, excinfo.value.detail


def test_template_must_draw_every_field_and_have_one_qr_and_one_seal() -> None:
    data = _new_type()
    data["template"]["elements"] = [
        e for e in data["template"]["elements"] if not (e["kind"] == "text" and e.get("field") == "languages")
    ]
    with pytest.raises(InvalidInput, match="languages") as excinfo:
        parse_licence_type(data)
    assert excinfo.value.extra["key"] == "template.elements"
    data = _new_type()
    data["template"]["elements"] = [e for e in data["template"]["elements"] if e["kind"] != "qr"]
    with pytest.raises(InvalidInput, match="qr"):
        parse_licence_type(data)


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        add_type_from_json("{not json")
    assert excinfo.value.extra["rule"] == "JSON syntax"
    with pytest.raises(InvalidInput) as excinfo:
        add_type_from_json("[]")
    assert excinfo.value.extra["key"] == "(root)"


def test_a_bad_file_in_a_catalogue_directory_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps(_new_type(), ensure_ascii=False), encoding="utf-8")
    assert len(load_catalog(tmp_path)) == 1
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    (bad_dir / "broken.json").write_text(json.dumps(_mutate("fields[0].type", "text")), encoding="utf-8")
    with pytest.raises(ConfigurationError) as excinfo:
        load_catalog(bad_dir)
    assert excinfo.value.extra == {"file": "broken.json", "key": "fields[0].type"}


def test_text_elements_bind_exactly_one_source(catalog_types: dict[str, LicenceType]) -> None:
    for t in catalog_types.values():
        for e in t.template.elements:
            if isinstance(e, TextBox):
                assert sum(x is not None for x in (e.field, e.text, e.computed)) == 1
