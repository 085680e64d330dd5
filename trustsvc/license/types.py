"""Licence types an administrator adds without code (证照类型登记), stored in the database.

:class:`LicenceTypeRegistry` keeps the catalogue that issuance reads: the shipped types (JSON files under
``trustsvc/data/license_types``, :func:`~trustsvc.license.catalog.load_catalog`) plus the rows of
``licence_types``.

* :meth:`~LicenceTypeRegistry.add` checks a JSON definition exactly as a shipped file is checked
  (:func:`~trustsvc.license.catalog.parse_licence_type`: InvalidInput naming the ``key``), refuses one over
  :data:`~trustsvc.license.models.MAX_TYPE_DEFINITION` bytes (PayloadTooLarge) and a code taken by a shipped
  or stored type (Conflict naming ``type_code``), and stores the canonical JSON, its SM3 and the
  ``licence_type.add`` audit record in one transaction. Two processes adding the same code at once: the
  unique constraint on ``type_code`` lets one win, the other gets the same Conflict.
* Types are **never deleted or changed**: issued licences name them, and a verifier years later must still
  find the type a licence was issued under. A corrected type is a new type code.
* :meth:`~LicenceTypeRegistry.catalog` is cached per process, keyed on ``(count, max id)`` of
  ``licence_types``, which one cheap query reads on every call. Rows are only ever inserted, so the key
  changes whenever another process adds a type (count catches a lower id committed late): a type added
  anywhere is usable for issuance by every process at once, with no restart and no TTL to wait out.
* A stored definition that no longer parses (the checks became stricter in a later release, or a shipped
  type now has its code) is skipped with a warning, once per process: it must not stop issuance of the
  other types. Its code stays taken.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustsvc.audit import AuditLog
from trustsvc.db import Clock
from trustsvc.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from trustsvc.keys.sm3 import sm3
from trustsvc.license.catalog import DATA_DIR, Catalog, LicenceType, load_catalog, parse_licence_type
from trustsvc.license.models import MAX_TYPE_DEFINITION, LicenceTypeRow

__all__ = [
    "AUDIT_ADD_TYPE",
    "MAX_TYPE_NAME",
    "LicenceTypeEntry",
    "LicenceTypeRegistry",
    "TypeSource",
    "canonical_definition",
]

log = logging.getLogger(__name__)

AUDIT_ADD_TYPE: Final = "licence_type.add"
MAX_TYPE_NAME: Final = 200  # LicenceTypeRow.name
MAX_ACTOR: Final = 200  # LicenceTypeRow.created_by


class TypeSource(StrEnum):
    """Where a licence type comes from: a file shipped with trustsvc, or added by an administrator."""

    SHIPPED = "shipped"
    ADDED = "added"


@dataclass(frozen=True)
class LicenceTypeEntry:
    """A licence type of the catalogue with its definition and provenance (``created_*`` None if shipped)."""

    licence_type: LicenceType
    source: TypeSource
    definition: str  # canonical JSON text
    definition_sm3: str
    created_by: str | None = None
    created_at: datetime | None = None

    @property
    def type_code(self) -> str:
        return self.licence_type.type_code


@dataclass(frozen=True)
class _Snapshot:
    key: tuple[int, int]  # (count, max id) of licence_types
    catalog: Catalog
    added: Mapping[str, LicenceTypeEntry]


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise InvalidInput(f"{key}: appears twice in one object", key=key, rule="type definition")
        seen[key] = value
    return seen


def _dump(document: Any) -> str:
    try:
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"not plain JSON: {exc}", key="(root)", rule="JSON syntax") from None


def canonical_definition(definition: bytes | str | Mapping[str, Any]) -> tuple[Any, str]:
    """Return (the decoded document, its canonical JSON text) within the size limit.

    Canonical: sorted keys, no whitespace, non-ASCII kept — so the stored text and its SM3 do not depend
    on how the administrator's editor formatted the file. Duplicate keys are refused (the second would
    silently win), as are NaN and nesting too deep to read.
    """
    if isinstance(definition, str | bytes):
        raw = definition.encode("utf-8") if isinstance(definition, str) else definition
        _check_size(len(raw))
        try:
            document = json.loads(raw, object_pairs_hook=_refuse_duplicates)
        except (ValueError, RecursionError) as exc:
            raise InvalidInput(f"not JSON: {exc}", key="(root)", rule="JSON syntax") from None
    else:
        document = definition
    text = _dump(document)
    _check_size(len(text.encode("utf-8")))
    return document, text


def _check_size(size: int) -> None:
    if size > MAX_TYPE_DEFINITION:
        raise PayloadTooLarge(
            f"a licence type definition is at most {MAX_TYPE_DEFINITION} bytes of JSON, this one is {size}",
            key="(root)",
            rule="size",
        )


@lru_cache(maxsize=8)
def _shipped_entries(directory: Path) -> Mapping[str, LicenceTypeEntry]:
    """Return the shipped types of ``directory`` with their definitions (the files are checked at load)."""
    catalog = load_catalog(directory)
    entries: dict[str, LicenceTypeEntry] = {}
    for path in sorted(directory.glob("*.json")):
        document, text = canonical_definition(path.read_bytes())
        licence_type = catalog.get(document["type_code"])
        entries[licence_type.type_code] = LicenceTypeEntry(
            licence_type, TypeSource.SHIPPED, text, sm3(text.encode("utf-8")).hex()
        )
    return MappingProxyType(entries)


class LicenceTypeRegistry:
    """The licence type catalogue: shipped types plus those added in the database (module docstring)."""

    def __init__(
        self,
        *,
        sessions: Callable[[], Session],
        read_sessions: Callable[[], Session],
        audit: AuditLog,
        clock: Clock,
        shipped_dir: Path | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._audit = audit
        self._clock = clock
        self._shipped_dir = shipped_dir or DATA_DIR
        self._snapshot: _Snapshot | None = None
        self._warned: set[str] = set()  # definition SM3s already reported unusable

    # --- reading ---------------------------------------------------------------------------------

    def catalog(self) -> Catalog:
        """Return the catalogue of shipped and added types, as the database has it now."""
        return self._current().catalog

    def get(self, type_code: str) -> LicenceTypeEntry:
        """Return the type with ``type_code`` and its definition; NotFound naming ``type_code``."""
        code = type_code.strip() if isinstance(type_code, str) else ""
        entry = self._shipped().get(code) or self._current().added.get(code)
        if entry is None:
            raise NotFound(f"no licence type {code[:32]!r}", field="type_code")
        return entry

    def list(self) -> list[LicenceTypeEntry]:
        """Return every usable type: the shipped ones by code, then the added ones in the order added."""
        shipped = [self._shipped()[code] for code in sorted(self._shipped())]
        return [*shipped, *self._current().added.values()]

    # --- adding ----------------------------------------------------------------------------------

    def add(self, definition: bytes | str | Mapping[str, Any], *, actor: str) -> LicenceType:
        """Return the licence type ``definition`` defines, once checked and stored (audited, one transaction).

        InvalidInput names the wrong ``key``; PayloadTooLarge over the size limit; Conflict naming
        ``type_code`` when a shipped or stored type has the code (also when another process won a race).
        """
        if not actor or len(actor) > MAX_ACTOR:
            raise InvalidInput(f"actor must be 1 to {MAX_ACTOR} characters", field="actor")
        document, text = canonical_definition(definition)
        licence_type = parse_licence_type(document)
        if len(licence_type.name) > MAX_TYPE_NAME:
            raise InvalidInput(
                f"name: at most {MAX_TYPE_NAME} characters", key="name", rule="type definition"
            )
        code = licence_type.type_code
        if code in load_catalog(self._shipped_dir).types:
            raise _taken(code, "a shipped type")
        digest = sm3(text.encode("utf-8")).hex()
        try:
            with self._sessions() as session, session.begin():
                if self._stored_row(session, code) is not None:
                    raise _taken(code, "an added type")
                session.add(
                    LicenceTypeRow(
                        type_code=code,
                        name=licence_type.name,
                        definition=text,
                        definition_sm3=digest,
                        created_by=actor,
                        created_at=self._clock(),
                    )
                )
                session.flush()
                self._audit.append(
                    session,
                    actor=actor,
                    action=AUDIT_ADD_TYPE,
                    subject=f"licence-type:{code}",
                    details={"type_code": code, "name": licence_type.name, "definition_sm3": digest},
                )
        except IntegrityError as exc:
            if not self._code_is_stored(code):
                raise
            raise _taken(code, "an added type") from exc
        log.info("licence type %s (%s) added by %s", code, licence_type.name, actor)
        return licence_type

    # --- plumbing --------------------------------------------------------------------------------

    def _shipped(self) -> Mapping[str, LicenceTypeEntry]:
        return _shipped_entries(self._shipped_dir)

    @staticmethod
    def _stored_row(session: Session, code: str) -> LicenceTypeRow | None:
        query = select(LicenceTypeRow).where(LicenceTypeRow.type_code == code)
        return session.execute(query).scalar_one_or_none()

    def _code_is_stored(self, code: str) -> bool:
        with self._read_sessions() as session, session.begin():
            return self._stored_row(session, code) is not None

    def _current(self) -> _Snapshot:
        with self._read_sessions() as session, session.begin():
            count, max_id = session.execute(
                select(func.count(LicenceTypeRow.id), func.max(LicenceTypeRow.id))
            ).one()
            key = (int(count), int(max_id or 0))
            snapshot = self._snapshot
            if snapshot is not None and snapshot.key == key:
                return snapshot
            rows = session.execute(select(LicenceTypeRow).order_by(LicenceTypeRow.id)).scalars().all()
            loaded = [
                _Row(r.id, r.type_code, r.definition, r.definition_sm3, r.created_by, r.created_at)
                for r in rows
            ]
        # Another thread may build the same snapshot at the same time; either result is right.
        self._snapshot = snapshot = self._build(loaded)
        return snapshot

    def _build(self, rows: Sequence[_Row]) -> _Snapshot:
        shipped = load_catalog(self._shipped_dir)
        types = dict(shipped.types)
        added: dict[str, LicenceTypeEntry] = {}
        for row in rows:
            licence_type = self._usable(row, types)
            if licence_type is None:
                continue
            types[row.type_code] = licence_type
            added[row.type_code] = LicenceTypeEntry(
                licence_type, TypeSource.ADDED, row.definition, row.sm3, row.created_by, row.created_at
            )
        key = (len(rows), max((r.id for r in rows), default=0))
        return _Snapshot(key, Catalog(MappingProxyType(types)), MappingProxyType(added))

    def _usable(self, row: _Row, known: Mapping[str, LicenceType]) -> LicenceType | None:
        # Any failure here is a definition this release cannot read: skip it, never stop the others.
        try:
            licence_type = parse_licence_type(row.definition)
            if licence_type.type_code != row.type_code:
                raise InvalidInput(f"defines {licence_type.type_code}, stored as {row.type_code}")
            if row.type_code in known:
                raise InvalidInput("a shipped type has the same code")
        except Exception as exc:
            if row.sm3 not in self._warned:
                self._warned.add(row.sm3)
                log.warning("licence type %s is stored but unusable, skipped: %s", row.type_code, exc)
            return None
        return licence_type


@dataclass(frozen=True)
class _Row:
    """A ``licence_types`` row, detached from its session."""

    id: int
    type_code: str
    definition: str
    sm3: str
    created_by: str
    created_at: datetime


def _taken(code: str, what: str) -> Conflict:
    return Conflict(f"licence type code {code} is taken by {what}", field="type_code", type_code=code)
