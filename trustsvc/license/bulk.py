"""Bulk issuance (批量出证): a CSV or JSON Lines file of completed cases → one licence per row.

Used to convert a backlog (existing paper licences, cases completed before the service ran) through the same
issuance flow as ``POST /api/v1/licenses``: :func:`parse_bulk` reads the whole file up front (so the row
count is known and a file-level fault stops everything before anything is issued), :func:`issue_rows` issues
the rows one by one, each in its own transaction and idempotent on the case id, so a run interrupted half
way is simply run again: what was issued is reported "already issued".

Formats:

* **CSV** (UTF-8, an Excel BOM accepted; RFC 4180 quoting, so values may hold commas and newlines): a header
  row naming the columns ``case_id``, ``matter_code``, optionally ``holder_name`` / ``holder_code``, and the
  licence type's field keys (every required field; optional ones may be left out). An unknown or repeated
  column is refused: a typo must not silently drop a field. Empty cells are absent values; blank lines are
  skipped.
* **JSON Lines**: one object per line, ``{"case_id", "matter_code", "fields": {…}, "holder"?: {"name"?,
  "code"?}}``; blank lines are skipped.

File-level faults raise: PayloadTooLarge (more than :data:`MAX_FILE_BYTES` or :data:`MAX_ROWS` rows),
InvalidInput (not UTF-8, naming the line; CSV syntax, naming the line; missing, unknown or repeated
columns, naming them). Row-level faults (a line that is not a JSON object, a CSV row with the wrong number of
cells, a case id used twice in the file) become :class:`RowError` entries and do not stop the other rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from trustsvc.errors import Conflict, InvalidInput, InvalidState, PayloadTooLarge, TrustsvcError
from trustsvc.license.catalog import LicenceType
from trustsvc.license.issuance import LicenceRecord, LicenceService

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "BulkFormat",
    "BulkRow",
    "Outcome",
    "RowError",
    "RowResult",
    "format_for",
    "is_row_error",
    "issue_rows",
    "parse_bulk",
]

MAX_FILE_BYTES: Final = 64 * 1024 * 1024
MAX_ROWS: Final = 100_000
#: The longest CSV cell accepted (the longest field, 经营范围, is 2000 characters).
MAX_CELL: Final = 64 * 1024
CASE_COLUMNS: Final = ("case_id", "matter_code")
HOLDER_COLUMNS: Final = {"holder_name": "name", "holder_code": "code"}
JSONL_KEYS: Final = frozenset({"case_id", "matter_code", "fields", "holder"})
#: Errors about the setup, not the row (seal, grant, TSA, configuration): every further row would fail alike.
_SETUP_FIELDS: Final = frozenset({"es_id", "system", "type_code"})


class BulkFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


@dataclass(frozen=True)
class BulkRow:
    """One case of the file, as written (the issuance flow checks the values, naming the field)."""

    line: int
    case_id: Any
    matter_code: Any
    fields: dict[str, Any]
    holder: dict[str, Any] | None = None


@dataclass(frozen=True)
class RowError:
    """A row that could not be read; ``error`` names the field and rule where it can."""

    line: int
    case_id: str | None
    error: TrustsvcError


class Outcome(StrEnum):
    ISSUED = "issued"
    ALREADY_ISSUED = "already issued"
    FAILED = "failed"


@dataclass(frozen=True)
class RowResult:
    """What became of one row; ``stops`` is True for an error every further row would hit too."""

    line: int
    case_id: str | None
    outcome: Outcome
    record: LicenceRecord | None = None
    error: TrustsvcError | None = None
    stops: bool = False

    def error_json(self) -> dict[str, Any]:
        """Return the JSON line reported for a failed row: line, case id, error, field and rule."""
        error = self.error
        assert error is not None
        body: dict[str, Any] = {"line": self.line, "case_id": self.case_id, "error": error.detail}
        body["problem"] = error.problem
        for key in ("field", "rule"):
            if error.extra.get(key) is not None:
                body[key] = error.extra[key]
        return body


def format_for(file_name: str, explicit: BulkFormat | str | None = None) -> BulkFormat:
    """Return the format asked for, else the one the file name's extension says (.csv, .jsonl/.ndjson)."""
    if explicit is not None:
        return BulkFormat(explicit)
    lower = file_name.lower()
    if lower.endswith(".csv"):
        return BulkFormat.CSV
    if lower.endswith((".jsonl", ".ndjson")):
        return BulkFormat.JSONL
    raise InvalidInput(
        f"cannot tell the format of {file_name!r} from its extension: give --csv or --jsonl",
        field="format",
        rule="format",
    )


def parse_bulk(
    data: bytes,
    licence_type: LicenceType,
    *,
    format: BulkFormat,
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_FILE_BYTES,
) -> list[BulkRow | RowError]:
    """Return the rows of a bulk file in order, unreadable ones as :class:`RowError` (see the module doc)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"the file is {len(data)} bytes; the limit is {max_bytes} ({max_bytes // (1024 * 1024)} MiB): "
            "split it",
            field="file",
            rule="size limit",
        )
    text = _decode(data)
    rows = _csv_rows(text, licence_type) if format is BulkFormat.CSV else _jsonl_rows(text)
    result: list[BulkRow | RowError] = []
    seen: dict[str, int] = {}
    for row in rows:
        if len(result) >= max_rows:
            raise PayloadTooLarge(
                f"the file has more than {max_rows} rows (line {row.line}): split it",
                field="file",
                rule="row limit",
            )
        if isinstance(row, BulkRow) and isinstance(row.case_id, str):
            key = row.case_id.strip()
            if key in seen:
                row = RowError(
                    row.line,
                    key,
                    InvalidInput(
                        f"case_id {key!r} is used by line {seen[key]} already",
                        field="case_id",
                        rule="duplicate case id",
                    ),
                )
            else:
                seen[key] = row.line
        result.append(row)
    return result


def is_row_error(error: TrustsvcError) -> bool:
    """Return True when ``error`` is about the row's content, False when it is about the setup."""
    if isinstance(error, Conflict):  # the case id was used for other content; not InvalidState (the seal)
        return not isinstance(error, InvalidState)
    return isinstance(error, InvalidInput) and error.extra.get("field") not in _SETUP_FIELDS


def issue_rows(
    licences: LicenceService,
    rows: Iterable[BulkRow | RowError],
    *,
    system: str,
    type_code: str,
    principal: str,
    actor: str,
    es_id: str | None = None,
) -> Iterator[RowResult]:
    """Yield the result of each row, issuing through ``licences.issue`` (one transaction per licence).

    A failed row is reported and the next one tried; an error about the setup (the seal, the grant, the TSA:
    :func:`is_row_error` is False) is yielded with ``stops`` and ends the run, since every further row would
    fail alike.
    """
    for row in rows:
        if isinstance(row, RowError):
            yield RowResult(row.line, row.case_id, Outcome.FAILED, error=row.error)
            continue
        case_id = row.case_id.strip() if isinstance(row.case_id, str) else None
        try:
            record, created = licences.issue(
                system,
                row.case_id,
                row.matter_code,
                type_code,
                row.holder,
                row.fields,
                es_id,
                principal=principal,
                actor=actor,
            )
        except TrustsvcError as exc:
            stops = not is_row_error(exc)
            yield RowResult(row.line, case_id, Outcome.FAILED, error=exc, stops=stops)
            if stops:
                return
            continue
        outcome = Outcome.ISSUED if created else Outcome.ALREADY_ISSUED
        yield RowResult(row.line, case_id, outcome, record=record)


# --- reading -------------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """Return ``data`` as text: UTF-8, a leading BOM dropped; else InvalidInput naming the line."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidInput(
            "the file is UTF-16 (Excel 'Unicode text'): save it as UTF-8 (Excel: 'CSV UTF-8')",
            field="file",
            rule="encoding",
            line=1,
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(
            f"line {line} is not UTF-8 (byte 0x{data[exc.start]:02x}); the file must be UTF-8 — "
            "GBK/GB18030 files must be converted (Excel: save as 'CSV UTF-8')",
            field="file",
            rule="encoding",
            line=line,
        ) from None


def _csv_rows(text: str, licence_type: LicenceType) -> Iterator[BulkRow | RowError]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = _csv_records(reader)
    header_line, header = next(records, (0, None))
    if header is None:
        raise InvalidInput("the file is empty: the first row names the columns", field="file", rule="header")
    columns = _check_header(header, licence_type, header_line)
    for line, cells in records:
        if len(cells) != len(columns):
            yield RowError(
                line,
                _cell(cells, columns, "case_id"),
                InvalidInput(
                    f"line {line} has {len(cells)} cells; the header has {len(columns)} columns",
                    field="row",
                    rule="cell count",
                ),
            )
            continue
        values = {name: value.strip() for name, value in zip(columns, cells, strict=True)}
        fields = {k: v for k, v in values.items() if v and licence_type.has_field(k)}
        holder = {HOLDER_COLUMNS[k]: v for k, v in values.items() if v and k in HOLDER_COLUMNS}
        yield BulkRow(
            line,
            values["case_id"] or None,
            values["matter_code"] or None,
            fields,
            holder or None,
        )


def _csv_records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line, cells) of each non-blank CSV record; InvalidInput naming the line on bad syntax."""
    first = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            raise InvalidInput(
                f"line {line}: CSV syntax: {exc}", field="file", rule="csv syntax", line=line
            ) from None
        start, first = first, reader.line_num + 1
        if any(len(cell) > MAX_CELL for cell in cells):
            raise InvalidInput(
                f"line {start}: a cell is longer than {MAX_CELL} characters",
                field="file",
                rule="cell size",
                line=start,
            )
        if cells and any(cell.strip() for cell in cells):
            yield start, cells


def _check_header(header: Sequence[str], licence_type: LicenceType, line: int) -> list[str]:
    columns = [name.strip() for name in header]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InvalidInput(
            f"line {line}: column(s) {', '.join(repeated)} appear more than once",
            field="header",
            rule="repeated column",
            columns=repeated,
        )
    known = {*CASE_COLUMNS, *HOLDER_COLUMNS, *(spec.key for spec in licence_type.fields)}
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise InvalidInput(
            f"line {line}: unknown column(s) {', '.join(repr(c) for c in unknown)}: the columns are "
            f"case_id, matter_code, holder_name, holder_code and the fields of {licence_type.name} "
            f"({', '.join(spec.key for spec in licence_type.fields)})",
            field="header",
            rule="unknown column",
            columns=unknown,
        )
    needed = [*CASE_COLUMNS, *(spec.key for spec in licence_type.fields if spec.required)]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InvalidInput(
            f"line {line}: missing column(s) {', '.join(missing)} (licence type {licence_type.name})",
            field="header",
            rule="missing column",
            columns=missing,
        )
    return columns


def _cell(cells: Sequence[str], columns: Sequence[str], name: str) -> str | None:
    index = columns.index(name)
    value = cells[index].strip() if index < len(cells) else ""
    return value or None


def _jsonl_rows(text: str) -> Iterator[BulkRow | RowError]:
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            error = InvalidInput(f"line {number} is not JSON: {reason}", field="row", rule="json")
            yield RowError(number, None, error)
            continue
        if not isinstance(item, dict):
            error = InvalidInput(f"line {number} is not a JSON object", field="row", rule="type")
            yield RowError(number, None, error)
            continue
        try:
            yield _jsonl_row(number, item)
        except InvalidInput as exc:
            case_id = item.get("case_id")
            yield RowError(number, case_id.strip() if isinstance(case_id, str) else None, exc)


def _jsonl_row(number: int, item: dict[str, Any]) -> BulkRow:
    unknown = sorted(str(k) for k in item if k not in JSONL_KEYS)
    if unknown:
        raise InvalidInput(
            f"line {number}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(JSONL_KEYS))}",
            field=unknown[0],
            rule="unknown field",
        )
    fields = item.get("fields")
    if not isinstance(fields, dict):
        raise InvalidInput(
            f"line {number}: fields is required: an object of the licence type's fields",
            field="fields",
            rule="type",
        )
    holder = item.get("holder")
    if holder is not None and not isinstance(holder, dict):
        raise InvalidInput(
            f"line {number}: holder must be an object: {{name, code}}", field="holder", rule="type"
        )
    return BulkRow(number, item.get("case_id"), item.get("matter_code"), fields, holder)
