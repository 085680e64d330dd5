"""Licence types (证照类型) as data: code, names, holder, fields, validity rule, page template, seal kind.

Each type is one JSON file under ``trustsvc/data/license_types/``; :func:`load_catalog` reads and checks them
all once per process. An administrator adds a type without code: :func:`add_type_from_json` checks a JSON
document the same way and returns the :class:`LicenceType`; :mod:`trustsvc.license.types` stores added types
in the database and serves the combined catalogue.

JSON shape (every key is checked; unknown keys are refused, so a typo cannot silently drop a rule)::

    {
      "type_code": "11100000000013661B901",      # 21 chars: defining authority USCC + 3-digit sequence
      "name": "营业执照", "name_en": "Business licence",
      "defining_organisation": {"name": "…", "uscc": "…"},   # must equal the first 18 chars of type_code
      "holder": {"kind": "organisation" | "person", "field": "<key of the holder code field>"},
      "fields": [ {"key", "label", "label_en", "type", "required"?, "max_length"?, "pattern"?,
                   "enum"?, "minimum"?, "maximum"?}, … ],
      "validity": {"kind": "open-ended"} | {"kind": "fixed-years", "years": 6, "start_field"?: key}
                | {"kind": "from-fields", "start_field"?: key, "end_field": key},
      "template": {"width_mm", "height_mm", "elements": [ … ]},
      "seal_kind": 1,                              # trustsvc.seal.kinds.SealKind code of the issuing seal
      "notes"?: "…"
    }

Field types: ``string``, ``date`` (``YYYY-MM-DD``), ``integer``, ``enum`` (needs ``enum``), ``uscc``,
``citizen-id``, ``money`` (yuan, at most 2 decimals, normalised to ``"1234.50"``). The holder field must be
``uscc`` for an organisation holder and ``citizen-id`` for a person; the holder kind gives the GB/T 36903
持证主体代码类型代码 (``001`` USCC, ``111`` citizen ID — spec/standards.md §6.3).

Template: millimetres, origin at the page's top-left corner, y downwards (as OFD). Elements, by ``kind``:

- ``text``: ``x y width height``, exactly one of ``field`` (a field key), ``text`` (fixed) or ``computed``
  (``identifier``, ``issue_date``, ``issuer_name``, ``valid_from``, ``valid_until``, ``validity``);
  ``font`` (``serif`` Song / ``sans`` Hei), ``size_pt``, ``align`` (``left``/``center``/``right``),
  ``wrap`` (long text), ``color`` (``#RRGGBB``);
- ``qr``: ``x y size`` — the verification QR code;
- ``seal``: ``x y size`` — where the issuing seal goes (the picture's own size wins; this is its centre box);
- ``line``: ``x1 y1 x2 y2 width color``; ``rect``: ``x y width height stroke_width color fill``, with an
  optional ``placeholder`` note (e.g. the national-emblem area, which we never draw);
- ``double-border``: ``margin gap outer_width inner_width color`` — the decorative frame.

Every element must lie on the page, and fixed text must be drawable with the shipped fonts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from trustsvc.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from trustsvc.fonts import missing_glyphs
from trustsvc.license import citizen_id, uscc
from trustsvc.seal.kinds import SealKind

__all__ = [
    "DATA_DIR",
    "Catalog",
    "DoubleBorder",
    "FieldSpec",
    "FieldType",
    "HolderKind",
    "LicenceType",
    "Line",
    "QrBox",
    "Rect",
    "SealBox",
    "Template",
    "TextBox",
    "ValidityRule",
    "add_type_from_json",
    "load_catalog",
    "parse_licence_type",
    "validate_fields",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "license_types"


class FieldType(StrEnum):
    STRING = "string"
    DATE = "date"
    INTEGER = "integer"
    ENUM = "enum"
    USCC = "uscc"
    CITIZEN_ID = "citizen-id"
    MONEY = "money"


class HolderKind(StrEnum):
    ORGANISATION = "organisation"
    PERSON = "person"

    @property
    def code_type(self) -> str:
        """Return the GB/T 36903 持证主体代码类型代码: ``001`` (USCC) or ``111`` (citizen ID)."""
        return "001" if self is HolderKind.ORGANISATION else "111"


COMPUTED_VALUES = frozenset(
    {"identifier", "issue_date", "issuer_name", "valid_from", "valid_until", "validity"}
)


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    label_en: str
    type: FieldType
    required: bool = True
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None


@dataclass(frozen=True)
class ValidityRule:
    """How long a licence is valid: open-ended, a fixed number of years, or dates taken from fields."""

    kind: str  # "open-ended" | "fixed-years" | "from-fields"
    years: int | None = None
    start_field: str | None = None  # None: the issue date
    end_field: str | None = None

    def period(self, fields: Mapping[str, Any], issued_on: date) -> tuple[date, date | None]:
        """Return (valid from, valid until or None) for normalised ``fields`` and the issue date."""
        start = date.fromisoformat(fields[self.start_field]) if self.start_field else issued_on
        if self.kind == "open-ended":
            return start, None
        if self.kind == "fixed-years":
            assert self.years is not None
            try:
                return start, start.replace(year=start.year + self.years)
            except ValueError:  # 29 February
                return start, start.replace(year=start.year + self.years, day=28)
        assert self.end_field is not None
        return start, date.fromisoformat(fields[self.end_field])


@dataclass(frozen=True)
class TextBox:
    x: float
    y: float
    width: float
    height: float
    field: str | None = None
    text: str | None = None
    computed: str | None = None
    font: str = "serif"
    size_pt: float = 12.0
    align: str = "left"
    wrap: bool = False
    color: str = "#000000"


@dataclass(frozen=True)
class QrBox:
    x: float
    y: float
    size: float


@dataclass(frozen=True)
class SealBox:
    x: float
    y: float
    size: float


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float = 0.3
    color: str = "#000000"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    stroke_width: float = 0.3
    color: str = "#000000"
    fill: str | None = None
    placeholder: str | None = None


@dataclass(frozen=True)
class DoubleBorder:
    margin: float
    gap: float
    outer_width: float = 1.0
    inner_width: float = 0.3
    color: str = "#000000"


Element = TextBox | QrBox | SealBox | Line | Rect | DoubleBorder


@dataclass(frozen=True)
class Template:
    width_mm: float
    height_mm: float
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class LicenceType:
    """One licence type of the catalogue (GB/T 36902 证照类型)."""

    type_code: str
    name: str
    name_en: str
    defining_organisation_name: str
    defining_organisation_uscc: str
    holder_kind: HolderKind
    holder_field: str
    fields: tuple[FieldSpec, ...]
    validity: ValidityRule
    template: Template
    seal_kind: SealKind
    notes: str = ""
    _by_key: Mapping[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", MappingProxyType({f.key: f for f in self.fields}))

    @property
    def holder_code_type(self) -> str:
        """Return the GB/T 36903 持证主体代码类型代码 of this type's holders (``001`` / ``111``)."""
        return self.holder_kind.code_type

    def has_field(self, key: str) -> bool:
        """Return True when this type has a field named ``key``."""
        return key in self._by_key

    def field(self, key: str) -> FieldSpec:
        """Return the field spec named ``key``; raise NotFound when the type has none."""
        try:
            return self._by_key[key]
        except KeyError:
            raise NotFound(f"licence type {self.type_code} has no field {key!r}", field=key) from None

    def field_faces(self, key: str) -> frozenset[str]:
        """Return the font faces the template draws field ``key`` with."""
        return frozenset(e.font for e in self.template.elements if isinstance(e, TextBox) and e.field == key)


# --- reading JSON --------------------------------------------------------------------------------


def _bad(key: str, detail: str, rule: str = "type definition") -> InvalidInput:
    return InvalidInput(f"{key}: {detail}", key=key, rule=rule)


class _Obj:
    """A JSON object being read: typed getters that name the key path on error, and a leftover-key check."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise _bad(path or "(root)", "must be a JSON object")
        self.data: dict[str, Any] = data
        self.path = path
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(
        self, name: str, kinds: tuple[type, ...], what: str, default: Any = ..., *, required: bool = True
    ) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if default is not ... or not required:
                return None if default is ... else default
            raise _bad(self.key(name), "is required")
        value = self.data[name]
        if isinstance(value, bool) and bool not in kinds:
            raise _bad(self.key(name), f"must be {what}")
        if not isinstance(value, kinds):
            raise _bad(self.key(name), f"must be {what}")
        return value

    def text(self, name: str, default: Any = ..., *, required: bool = True) -> Any:
        value = self.get(name, (str,), "a string", default, required=required)
        if isinstance(value, str) and not value.strip():
            raise _bad(self.key(name), "must not be empty")
        return value

    def number(self, name: str, default: Any = ..., *, positive: bool = False) -> Any:
        value = self.get(name, (int, float), "a number", default)
        if value is not None and (value < 0 or (positive and value == 0)):
            raise _bad(self.key(name), "must be positive" if positive else "must not be negative")
        return float(value) if value is not None else value

    def integer(self, name: str, default: Any = ..., *, required: bool = True) -> Any:
        return self.get(name, (int,), "an integer", default, required=required)

    def flag(self, name: str, default: bool) -> bool:
        return bool(self.get(name, (bool,), "true or false", default))

    def obj(self, name: str) -> _Obj:
        self.seen.add(name)
        if name not in self.data:
            raise _bad(self.key(name), "is required")
        return _Obj(self.data[name], self.key(name))

    def items(self, name: str) -> list[_Obj]:
        value = self.get(name, (list,), "a list")
        return [_Obj(item, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]

    def done(self) -> None:
        extra = sorted(set(self.data) - self.seen)
        if extra:
            raise _bad(self.key(extra[0]), "is not a known key")


_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


def _color(o: _Obj, name: str, default: str | None) -> Any:
    value = o.text(name, default, required=False)
    if value is not None and not _COLOR.fullmatch(value):
        raise _bad(o.key(name), "must be a colour #RRGGBB")
    return value


def _read_field(o: _Obj) -> FieldSpec:
    key = o.text("key")
    if not _KEY.fullmatch(key):
        raise _bad(
            o.key("key"),
            "must be lower-case ASCII letters, digits and _ (at most 40), starting with a letter",
        )
    type_text = o.text("type")
    try:
        ftype = FieldType(type_text)
    except ValueError:
        raise _bad(o.key("type"), f"must be one of {', '.join(t.value for t in FieldType)}") from None
    max_length = o.integer("max_length", required=False)
    if max_length is not None and max_length < 1:
        raise _bad(o.key("max_length"), "must be at least 1")
    pattern = o.text("pattern", required=False)
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _bad(o.key("pattern"), f"is not a regular expression: {exc}") from None
    enum = o.get("enum", (list,), "a list of strings", required=False)
    if ftype is FieldType.ENUM:
        if not enum or not all(isinstance(v, str) and v for v in enum) or len(set(enum)) != len(enum):
            raise _bad(o.key("enum"), "an enum field needs a list of distinct non-empty strings")
    elif enum is not None:
        raise _bad(o.key("enum"), f"only an enum field has values, this one is {ftype.value}")
    bounds: list[Decimal | None] = []
    for name in ("minimum", "maximum"):
        value = o.get(name, (int, float), "a number", required=False)
        if value is not None and ftype not in (FieldType.INTEGER, FieldType.MONEY):
            raise _bad(o.key(name), "only integer and money fields have bounds")
        bounds.append(None if value is None else Decimal(str(value)))
    spec = FieldSpec(
        key=key,
        label=o.text("label"),
        label_en=o.text("label_en"),
        type=ftype,
        required=o.flag("required", True),
        max_length=max_length,
        pattern=pattern,
        enum=tuple(enum or ()),
        minimum=bounds[0],
        maximum=bounds[1],
    )
    o.done()
    return spec


def _read_validity(o: _Obj, fields: Mapping[str, FieldSpec]) -> ValidityRule:
    kind = o.text("kind")
    if kind not in ("open-ended", "fixed-years", "from-fields"):
        raise _bad(o.key("kind"), "must be open-ended, fixed-years or from-fields")
    years = o.integer("years", required=False)
    start_field = o.text("start_field", required=False)
    end_field = o.text("end_field", required=False)
    if kind == "fixed-years" and (years is None or not 1 <= years <= 100):
        raise _bad(o.key("years"), "a fixed-years validity needs years between 1 and 100")
    if kind != "fixed-years" and years is not None:
        raise _bad(o.key("years"), f"only a fixed-years validity has years, this one is {kind}")
    if kind == "from-fields" and end_field is None:
        raise _bad(o.key("end_field"), "a from-fields validity needs end_field")
    if kind != "from-fields" and end_field is not None:
        raise _bad(o.key("end_field"), f"only a from-fields validity has end_field, this one is {kind}")
    for name, key in (("start_field", start_field), ("end_field", end_field)):
        if key is not None and (key not in fields or fields[key].type is not FieldType.DATE):
            raise _bad(o.key(name), f"{key!r} is not a date field of this type")
        if key is not None and not fields[key].required:
            raise _bad(o.key(name), f"{key!r} must be a required field to bound the validity")
    o.done()
    return ValidityRule(kind, years, start_field, end_field)


def _inside(o: _Obj, page: tuple[float, float], x: float, y: float, w: float, h: float) -> None:
    if x + w > page[0] + 1e-9 or y + h > page[1] + 1e-9:
        raise _bad(o.path, f"lies outside the {page[0]:g}×{page[1]:g} mm page")


def _read_element(o: _Obj, page: tuple[float, float], fields: Mapping[str, FieldSpec]) -> Element:
    kind = o.text("kind")
    element: Element
    if kind == "text":
        x, y = o.number("x"), o.number("y")
        w, h = o.number("width", positive=True), o.number("height", positive=True)
        _inside(o, page, x, y, w, h)
        bound = {n: o.text(n, required=False) for n in ("field", "text", "computed")}
        given = [n for n, v in bound.items() if v is not None]
        if len(given) != 1:
            raise _bad(o.key("field"), "a text element has exactly one of field, text, computed")
        if bound["field"] is not None and bound["field"] not in fields:
            raise _bad(o.key("field"), f"{bound['field']!r} is not a field of this type")
        if bound["computed"] is not None and bound["computed"] not in COMPUTED_VALUES:
            raise _bad(o.key("computed"), f"must be one of {', '.join(sorted(COMPUTED_VALUES))}")
        font = o.text("font", "serif")
        if font not in ("serif", "sans"):
            raise _bad(o.key("font"), "must be serif (Song) or sans (Hei)")
        if bound["text"] is not None:
            missing = missing_glyphs(bound["text"], font)
            if missing:
                raise _bad(o.key("text"), f"has characters the {font} font cannot draw: {missing}")
        align = o.text("align", "left")
        if align not in ("left", "center", "right"):
            raise _bad(o.key("align"), "must be left, center or right")
        element = TextBox(
            x,
            y,
            w,
            h,
            bound["field"],
            bound["text"],
            bound["computed"],
            font,
            o.number("size_pt", 12.0, positive=True),
            align,
            o.flag("wrap", False),
            _color(o, "color", "#000000"),
        )
    elif kind in ("qr", "seal"):
        x, y, size = o.number("x"), o.number("y"), o.number("size", positive=True)
        _inside(o, page, x, y, size, size)
        element = QrBox(x, y, size) if kind == "qr" else SealBox(x, y, size)
    elif kind == "line":
        x1, y1, x2, y2 = (o.number(n) for n in ("x1", "y1", "x2", "y2"))
        _inside(o, page, max(x1, x2), max(y1, y2), 0, 0)
        element = Line(x1, y1, x2, y2, o.number("width", 0.3, positive=True), _color(o, "color", "#000000"))
    elif kind == "rect":
        x, y = o.number("x"), o.number("y")
        w, h = o.number("width", positive=True), o.number("height", positive=True)
        _inside(o, page, x, y, w, h)
        element = Rect(
            x,
            y,
            w,
            h,
            o.number("stroke_width", 0.3),
            _color(o, "color", "#000000"),
            _color(o, "fill", None),
            o.text("placeholder", required=False),
        )
    elif kind == "double-border":
        margin, gap = o.number("margin"), o.number("gap", positive=True)
        if 2 * (margin + gap) >= min(page):
            raise _bad(o.key("margin"), "the border does not fit on the page")
        element = DoubleBorder(
            margin,
            gap,
            o.number("outer_width", 1.0, positive=True),
            o.number("inner_width", 0.3, positive=True),
            _color(o, "color", "#000000"),
        )
    else:
        raise _bad(o.key("kind"), "must be text, qr, seal, line, rect or double-border")
    o.done()
    return element


def _read_type(data: Any) -> LicenceType:
    root = _Obj(data, "")
    type_code = root.text("type_code")
    if not (isinstance(type_code, str) and len(type_code) == 21 and type_code[18:].isdigit()):
        raise _bad("type_code", "21 characters: the defining authority's USCC and a 3-digit sequence")
    try:
        uscc.validate(type_code[:18], field="type_code")
    except InvalidInput as exc:
        raise _bad(
            "type_code", f"defining authority code is not a valid USCC ({exc.extra['rule']})"
        ) from None
    defining = root.obj("defining_organisation")
    defining_name = defining.text("name")
    defining_uscc = defining.text("uscc")
    if defining_uscc != type_code[:18]:
        raise _bad(defining.key("uscc"), "must equal the first 18 characters of type_code")
    defining.done()

    fields: dict[str, FieldSpec] = {}
    for item in root.items("fields"):
        spec = _read_field(item)
        if spec.key in fields:
            raise _bad(item.key("key"), f"field {spec.key!r} is defined twice")
        fields[spec.key] = spec
    if not fields:
        raise _bad("fields", "a licence type has at least one field")

    holder = root.obj("holder")
    kind_text = holder.text("kind")
    try:
        holder_kind = HolderKind(kind_text)
    except ValueError:
        raise _bad(holder.key("kind"), "must be organisation or person") from None
    holder_field = holder.text("field")
    expected = FieldType.USCC if holder_kind is HolderKind.ORGANISATION else FieldType.CITIZEN_ID
    if (
        holder_field not in fields
        or fields[holder_field].type is not expected
        or not fields[holder_field].required
    ):
        raise _bad(
            holder.key("field"),
            f"must name a required {expected.value} field (holder is {holder_kind.value})",
        )
    holder.done()

    validity = _read_validity(root.obj("validity"), fields)

    t = root.obj("template")
    page = (t.number("width_mm", positive=True), t.number("height_mm", positive=True))
    elements = tuple(_read_element(e, page, fields) for e in t.items("elements"))
    for element_type, what in ((QrBox, "a qr element"), (SealBox, "a seal element")):
        if sum(isinstance(e, element_type) for e in elements) != 1:
            raise _bad(t.key("elements"), f"a template has exactly one {what}")
    drawn = {e.field for e in elements if isinstance(e, TextBox) and e.field}
    undrawn = [k for k in fields if k not in drawn]
    if undrawn:
        raise _bad(t.key("elements"), f"field {undrawn[0]!r} is not drawn by any text element")
    t.done()

    seal_code = root.integer("seal_kind")
    try:
        seal_kind = SealKind(seal_code)
    except ValueError:
        raise _bad("seal_kind", f"must be a seal kind code {[k.value for k in SealKind]}") from None
    licence_type = LicenceType(
        type_code=type_code,
        name=root.text("name"),
        name_en=root.text("name_en"),
        defining_organisation_name=defining_name,
        defining_organisation_uscc=defining_uscc,
        holder_kind=holder_kind,
        holder_field=holder_field,
        fields=tuple(fields.values()),
        validity=validity,
        template=Template(page[0], page[1], elements),
        seal_kind=seal_kind,
        notes=root.text("notes", ""),
    )
    root.done()
    return licence_type


def parse_licence_type(data: Mapping[str, Any] | str | bytes) -> LicenceType:
    """Return the licence type a JSON document (text or decoded) defines; InvalidInput names the key."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise InvalidInput(f"not JSON: {exc}", key="(root)", rule="JSON syntax") from None
    return _read_type(data)


# --- the catalogue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """The licence types known to this process, by code (read-only; :meth:`with_type` makes a new one)."""

    types: Mapping[str, LicenceType]

    def get(self, type_code: str) -> LicenceType:
        """Return the type with ``type_code``; raise NotFound naming it."""
        try:
            return self.types[type_code]
        except KeyError:
            raise NotFound(f"no licence type {type_code}", field="type_code") from None

    def with_type(self, licence_type: LicenceType) -> Catalog:
        """Return a catalogue with ``licence_type`` added; Conflict when its code is taken."""
        if licence_type.type_code in self.types:
            raise Conflict(f"licence type {licence_type.type_code} exists already", field="type_code")
        return Catalog(MappingProxyType({**self.types, licence_type.type_code: licence_type}))

    def __iter__(self) -> Any:
        return iter(self.types.values())

    def __len__(self) -> int:
        return len(self.types)


@lru_cache(maxsize=8)
def load_catalog(directory: Path | None = None) -> Catalog:
    """Return the catalogue read from ``directory`` (default: the shipped types), once per directory.

    A bad file raises ConfigurationError with ``file`` and ``key`` naming where; duplicate codes too.
    """
    directory = directory or DATA_DIR
    types: dict[str, LicenceType] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            licence_type = parse_licence_type(path.read_bytes())
        except InvalidInput as exc:
            raise ConfigurationError(
                f"licence type file {path.name}: {exc.detail}", file=path.name, key=exc.extra.get("key")
            ) from None
        if licence_type.type_code in types:
            raise ConfigurationError(
                f"licence type file {path.name}: type code {licence_type.type_code} is used twice",
                file=path.name,
                key="type_code",
            )
        types[licence_type.type_code] = licence_type
    return Catalog(MappingProxyType(types))


def add_type_from_json(data: Mapping[str, Any] | str | bytes, catalog: Catalog | None = None) -> LicenceType:
    """Return the licence type defined by ``data`` once it is checked and its code is free in ``catalog``.

    ``catalog`` defaults to the shipped one. Nothing is stored here:
    :class:`trustsvc.license.types.LicenceTypeRegistry` persists the type and uses ``catalog.with_type(...)``.
    """
    licence_type = parse_licence_type(data)
    (catalog or load_catalog()).with_type(licence_type)
    return licence_type


# --- field values --------------------------------------------------------------------------------


def _invalid(spec: FieldSpec, detail: str, rule: str) -> InvalidInput:
    return InvalidInput(f"{spec.key} ({spec.label}): {detail}", field=spec.key, rule=rule)


def _as_text(spec: FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid(spec, "must be text", "type")
    return value.strip()


def _normalise_date(spec: FieldSpec, value: Any, today: date | None) -> str:
    if isinstance(value, date):
        return value.isoformat()
    text = _as_text(spec, value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise _invalid(spec, "must be a date YYYY-MM-DD", "date format")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise _invalid(spec, f"{text} is not a calendar date", "date format") from None


def _bounded(spec: FieldSpec, number: Decimal) -> None:
    if spec.minimum is not None and number < spec.minimum:
        raise _invalid(spec, f"must be at least {spec.minimum}", "minimum")
    if spec.maximum is not None and number > spec.maximum:
        raise _invalid(spec, f"must be at most {spec.maximum}", "maximum")


def _normalise_integer(spec: FieldSpec, value: Any, today: date | None) -> int:
    if isinstance(value, bool):
        raise _invalid(spec, "must be an integer", "type")
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise _invalid(spec, "must be an integer", "type")
    _bounded(spec, Decimal(value))
    return value


def _normalise_money(spec: FieldSpec, value: Any, today: date | None) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _invalid(spec, "must be an amount in yuan", "money format")
    text = value.strip() if isinstance(value, str) else str(value)
    if not re.fullmatch(r"\d{1,15}(\.\d{1,2})?", text):
        raise _invalid(spec, "must be a non-negative amount in yuan with at most 2 decimals", "money format")
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        raise _invalid(spec, "must be an amount in yuan", "money format") from None
    _bounded(spec, amount)
    return f"{amount:.2f}"


def _normalise_enum(spec: FieldSpec, value: Any, today: date | None) -> str:
    text = _as_text(spec, value)
    if text not in spec.enum:
        raise _invalid(spec, f"{text!r} is not one of {', '.join(spec.enum)}", "enum")
    return text


def _normalise_uscc(spec: FieldSpec, value: Any, today: date | None) -> str:
    try:
        return uscc.validate(_as_text(spec, value), field=spec.key)
    except InvalidInput as exc:
        raise _invalid(spec, exc.detail.split(": ", 1)[-1], exc.extra["rule"]) from None


def _normalise_citizen_id(spec: FieldSpec, value: Any, today: date | None) -> str:
    try:
        return citizen_id.validate(_as_text(spec, value), today=today, field=spec.key).number
    except InvalidInput as exc:
        raise _invalid(spec, exc.detail.split(": ", 1)[-1], exc.extra["rule"]) from None


def _normalise_string(spec: FieldSpec, value: Any, today: date | None) -> str:
    return _as_text(spec, value)


_NORMALISERS: dict[FieldType, Callable[[FieldSpec, Any, date | None], Any]] = {
    FieldType.STRING: _normalise_string,
    FieldType.DATE: _normalise_date,
    FieldType.INTEGER: _normalise_integer,
    FieldType.ENUM: _normalise_enum,
    FieldType.USCC: _normalise_uscc,
    FieldType.CITIZEN_ID: _normalise_citizen_id,
    FieldType.MONEY: _normalise_money,
}


def validate_fields(
    licence_type: LicenceType, fields: Mapping[str, Any], *, today: date | None = None
) -> dict[str, Any]:
    """Return ``fields`` normalised (stripped text, ISO dates, upper-case codes, money as ``"0.00"``).

    Raises InvalidInput with ``field`` and ``rule``: ``unknown field``, ``required``, ``type``,
    ``date format``, ``money format``, ``enum``, ``max length``, ``pattern``, ``minimum``/``maximum``,
    ``glyph coverage`` (the template's font cannot draw a character) or the USCC / citizen-ID rule.
    Blank optional fields are dropped. ``today`` bounds citizen-ID birth dates (default: today in China).
    """
    if not isinstance(fields, Mapping):
        raise InvalidInput("fields must be a JSON object", field="fields", rule="type")
    unknown = sorted(str(k) for k in fields if not licence_type.has_field(k))
    if unknown:
        raise InvalidInput(
            f"{unknown[0]!r} is not a field of licence type {licence_type.name} ({licence_type.type_code})",
            field=str(unknown[0]),
            rule="unknown field",
        )
    result: dict[str, Any] = {}
    for spec in licence_type.fields:
        value = fields.get(spec.key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                raise _invalid(spec, "is required", "required")
            continue
        normal = _NORMALISERS[spec.type](spec, value, today)
        if isinstance(normal, str):
            if spec.max_length is not None and len(normal) > spec.max_length:
                raise _invalid(spec, f"is {len(normal)} characters, at most {spec.max_length}", "max length")
            if spec.pattern is not None and not re.fullmatch(spec.pattern, normal):
                raise _invalid(spec, f"does not match the pattern {spec.pattern}", "pattern")
            for face in sorted(licence_type.field_faces(spec.key)):
                missing = missing_glyphs(normal, face)  # type: ignore[arg-type]
                if missing:
                    raise _invalid(
                        spec, f"has characters the licence font cannot draw: {missing}", "glyph coverage"
                    )
        result[spec.key] = normal
    return result
