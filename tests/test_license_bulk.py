"""Bulk issuance files (trustsvc.license.bulk): CSV and JSON Lines parsing with line numbers, encodings,
column checks and limits; which issuance errors stop a run. No sealing here: tests/test_license_cli.py issues.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.licences import BUSINESS, FIELDS, OPERATIONS, OPERATIONS_FIELDS
from trustsvc.errors import Conflict, Forbidden, InvalidInput, InvalidState, PayloadTooLarge
from trustsvc.license.bulk import (
    BulkFormat,
    BulkRow,
    RowError,
    format_for,
    is_row_error,
    parse_bulk,
)
from trustsvc.license.catalog import LicenceType, load_catalog

HEADER = "case_id,matter_code,name,sex,citizen_id,category,operation_item,first_issued_on"


@pytest.fixture
def operations() -> LicenceType:
    return load_catalog().get(OPERATIONS)


@pytest.fixture
def business() -> LicenceType:
    return load_catalog().get(BUSINESS)


def ops_line(case_id: str, name: str = "李四") -> str:
    f = OPERATIONS_FIELDS
    return (
        f"{case_id},M-1,{name},{f['sex']},{f['citizen_id']},{f['category']},{f['operation_item']},2020-03-01"
    )


def csv_rows(text: str | bytes, licence_type: LicenceType, **limits: Any) -> list[BulkRow | RowError]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_bulk(data, licence_type, format=BulkFormat.CSV, **limits)


def only_rows(parsed: list[BulkRow | RowError]) -> list[BulkRow]:
    assert all(isinstance(r, BulkRow) for r in parsed), parsed
    return [r for r in parsed if isinstance(r, BulkRow)]


# --- CSV -------------------------------------------------------------------------------------------


def test_csv_rows_become_requests_with_their_line_numbers(operations: LicenceType) -> None:
    text = "\r\n".join([HEADER, ops_line("C-1"), "", "  ", ops_line("C-2", "王五"), ""])
    first, second = only_rows(csv_rows(text, operations))
    assert (first.line, first.case_id, first.matter_code) == (2, "C-1", "M-1")
    assert first.fields == {**OPERATIONS_FIELDS, "first_issued_on": "2020-03-01"}
    assert first.holder is None
    assert (second.line, second.case_id, second.fields["name"]) == (5, "C-2", "王五")  # blank lines skipped


def test_a_utf8_bom_from_excel_is_accepted(operations: LicenceType) -> None:
    data = "\ufeff".encode() + f"{HEADER}\n{ops_line('C-1')}\n".encode()
    (row,) = only_rows(csv_rows(data, operations))
    assert row.case_id == "C-1"  # the BOM did not become part of the first column's name


def test_quoted_commas_quotes_and_newlines_stay_in_their_cell(business: LicenceType) -> None:
    others = {k: v for k, v in FIELDS.items() if k != "business_scope"}
    header = f"case_id,matter_code,holder_name,{','.join(others)},business_scope"
    plain = ",".join(str(v) for v in others.values())
    text = (
        f"{header}\n"
        f'B-1,M-9,"湘江,示范",{plain},"软件开发,信息技术咨询服务；\n""特许""经营项目"\n'
        f"B-2,M-9,,{plain},{FIELDS['business_scope']}\n"
    )
    first, second = only_rows(csv_rows(text, business))
    assert first.fields["business_scope"] == '软件开发,信息技术咨询服务；\n"特许"经营项目'
    assert first.holder == {"name": "湘江,示范"} and first.case_id == "B-1"
    assert second.line == 4  # the record above spans lines 2 and 3
    assert second.holder is None and second.fields == FIELDS


def test_optional_columns_may_be_left_out_and_empty_cells_are_absent(business: LicenceType) -> None:
    keys = [k for k in FIELDS if k != "registered_capital"]  # registered_capital is optional
    text = (
        ",".join(["case_id", "matter_code", *keys])
        + "\n"
        + ",".join(["B-1", "M-1", *(str(FIELDS[k]) for k in keys)])
    )
    (row,) = only_rows(csv_rows(text, business))
    assert "registered_capital" not in row.fields
    blank = text.replace(f",{FIELDS['domicile']},", ",,")
    (row,) = only_rows(csv_rows(blank, business))
    assert "domicile" not in row.fields  # left to the issuance check, which names it as required


def test_missing_columns_are_named(operations: LicenceType) -> None:
    header = HEADER.replace("matter_code,", "").replace(",citizen_id", "")
    with pytest.raises(InvalidInput) as caught:
        csv_rows(header + "\n", operations)
    assert caught.value.extra["rule"] == "missing column"
    assert caught.value.extra["columns"] == ["matter_code", "citizen_id"]
    assert "matter_code, citizen_id" in caught.value.detail


def test_unknown_and_repeated_columns_are_refused_naming_them(operations: LicenceType) -> None:
    with pytest.raises(InvalidInput) as caught:
        csv_rows(HEADER + ",remark,citizenid\n", operations)
    assert caught.value.extra["rule"] == "unknown column"
    assert caught.value.extra["columns"] == ["remark", "citizenid"]
    with pytest.raises(InvalidInput) as caught:
        csv_rows(HEADER + ",name\n", operations)
    assert caught.value.extra["rule"] == "repeated column" and caught.value.extra["columns"] == ["name"]


def test_a_row_with_extra_or_missing_cells_fails_alone(operations: LicenceType) -> None:
    text = "\n".join([HEADER, ops_line("C-1") + ",extra", ops_line("C-2"), "C-3,M-1,张三"])
    extra, good, short = csv_rows(text, operations)
    assert isinstance(extra, RowError) and extra.line == 2 and extra.case_id == "C-1"
    assert extra.error.extra == {"field": "row", "rule": "cell count"}
    assert "9 cells" in extra.error.detail and "8 columns" in extra.error.detail
    assert isinstance(good, BulkRow) and good.case_id == "C-2"
    assert isinstance(short, RowError) and short.line == 4 and short.case_id == "C-3"


def test_an_empty_file_and_csv_syntax_errors_name_what_is_wrong(operations: LicenceType) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        csv_rows("\n\n", operations)
    with pytest.raises(InvalidInput) as caught:
        csv_rows(HEADER + "\n" + ops_line("C-1") + '\nC-2,"M-1"x,\n', operations)
    assert caught.value.extra["rule"] == "csv syntax" and caught.value.extra["line"] == 3


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (f"{HEADER}\n{ops_line('C-1')}\n{ops_line('C-2')}".encode("gbk"), 2, "line 2 is not UTF-8"),
        (f"{HEADER}\n".encode() + b"C-1,M-1,\xff\n", 2, "line 2 is not UTF-8"),
        (f"{HEADER}\n".encode("utf-16"), 1, "UTF-16"),
    ],
    ids=["gbk", "stray-byte", "utf-16"],
)
def test_other_encodings_are_refused_naming_the_line(
    operations: LicenceType, data: bytes, line: int, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        csv_rows(data, operations)
    assert words in caught.value.detail
    assert caught.value.extra["rule"] == "encoding" and caught.value.extra["line"] == line


def test_a_case_id_used_twice_in_the_file_fails_the_second_row(operations: LicenceType) -> None:
    text = "\n".join([HEADER, ops_line("C-1"), ops_line("C-2"), ops_line(" C-1 ")])
    one, two, again = csv_rows(text, operations)
    assert isinstance(one, BulkRow) and isinstance(two, BulkRow)
    assert isinstance(again, RowError) and again.line == 4
    assert again.error.extra["rule"] == "duplicate case id" and "line 2" in again.error.detail


def test_many_rows_parse_with_the_right_line_numbers(operations: LicenceType) -> None:
    count = 20_000
    text = HEADER + "\n" + "\n".join(ops_line(f"C-{n}") for n in range(count)) + "\n"
    rows = only_rows(csv_rows(text, operations))
    assert len(rows) == count
    assert (rows[0].line, rows[-1].line, rows[-1].case_id) == (2, count + 1, f"C-{count - 1}")


def test_size_and_row_limits_are_clear_errors(operations: LicenceType) -> None:
    text = HEADER + "\n" + "\n".join(ops_line(f"C-{n}") for n in range(11))
    with pytest.raises(PayloadTooLarge) as caught:
        csv_rows(text, operations, max_rows=10)
    assert caught.value.extra["rule"] == "row limit" and "more than 10 rows (line 12)" in caught.value.detail
    assert len(csv_rows(text, operations, max_rows=11)) == 11
    with pytest.raises(PayloadTooLarge) as caught:
        csv_rows(text, operations, max_bytes=len(text.encode()) - 1)
    assert caught.value.extra["rule"] == "size limit"


# --- JSON Lines ------------------------------------------------------------------------------------


def jsonl(*items: Any) -> bytes:
    return "\n".join(i if isinstance(i, str) else json.dumps(i, ensure_ascii=False) for i in items).encode()


def test_jsonl_rows_carry_fields_and_holder(business: LicenceType) -> None:
    data = jsonl(
        {"case_id": "B-1", "matter_code": "M-1", "fields": FIELDS, "holder": {"name": "湘江"}},
        "",
        {"case_id": "B-2", "matter_code": "M-1", "fields": {**FIELDS, "registered_capital": 100}},
    )
    first, second = only_rows(parse_bulk(data, business, format=BulkFormat.JSONL))
    assert (first.line, first.case_id, first.holder, first.fields) == (1, "B-1", {"name": "湘江"}, FIELDS)
    assert (second.line, second.holder, second.fields["registered_capital"]) == (3, None, 100)


def test_bad_jsonl_lines_fail_alone_naming_line_field_and_rule(business: LicenceType) -> None:
    good = {"case_id": "B-9", "matter_code": "M-1", "fields": FIELDS}
    data = jsonl(
        '{"case_id": "B-1", ',
        '["not", "an", "object"]',
        {"case_id": "B-3", "matter_code": "M-1", "fields": FIELDS, "type_code": BUSINESS},
        {"case_id": "B-4", "matter_code": "M-1"},
        {"case_id": "B-5", "matter_code": "M-1", "fields": FIELDS, "holder": "湘江"},
        "[" * 100_000,
        good,
    )
    *bad, last = parse_bulk(data, business, format=BulkFormat.JSONL)
    assert [r.line for r in bad] == [1, 2, 3, 4, 5, 6]
    assert all(isinstance(r, RowError) for r in bad)
    rules = [(r.error.extra["field"], r.error.extra["rule"]) for r in bad if isinstance(r, RowError)]
    assert rules == [
        ("row", "json"),
        ("row", "type"),
        ("type_code", "unknown field"),
        ("fields", "type"),
        ("holder", "type"),
        ("row", "json"),  # nested too deeply: an error, not a RecursionError
    ]
    assert [r.case_id for r in bad if isinstance(r, RowError)] == [None, None, "B-3", "B-4", "B-5", None]
    assert isinstance(last, BulkRow) and last.line == 7


# --- formats and error classes ---------------------------------------------------------------------


def test_the_format_comes_from_the_option_or_the_extension() -> None:
    assert format_for("backlog.CSV") is BulkFormat.CSV
    assert format_for("backlog.jsonl") is BulkFormat.JSONL and format_for("x.ndjson") is BulkFormat.JSONL
    assert format_for("backlog.txt", "csv") is BulkFormat.CSV
    with pytest.raises(InvalidInput, match="--csv or --jsonl"):
        format_for("backlog.txt")


def test_only_errors_about_the_row_let_the_run_go_on() -> None:
    assert is_row_error(InvalidInput("bad", field="citizen_id", rule="citizen ID check character"))
    assert is_row_error(Conflict("used", field="case_id"))
    assert not is_row_error(InvalidInput("name the seal", field="es_id"))
    assert not is_row_error(Forbidden("no grant"))
    assert not is_row_error(InvalidState("seal suspended"))
