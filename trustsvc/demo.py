"""``trustsvc demo``: what a newcomer needs to see one licence of each catalogue type, made idempotently.

On an initialised home :func:`run_demo` makes, each only when missing:

* the API key ``demo`` (role ``business-system``): the demo business system. Its token is returned only
  when it is made now (it is never stored), so it can also drive the HTTP API
  (``POST /api/v1/licenses``); the licences below are issued under its name, as over HTTP;
* one seal per seal kind the demo types ask for, of the placeholder organisation of
  :mod:`trustsvc.config` (:data:`~trustsvc.config.PLACEHOLDER_ORG_NAME`, never the operator's own
  ``org_name``: a demo must not make seals in a real organisation's name), granted to that key;
* one licence per catalogue type that :data:`DEMO_FIELDS` has data for, on the case ids ``DEMO-<type
  code>``: issuance is idempotent on (system, case id), so a second run issues nothing new.

**Not on a production home.** The demo makes an active API key, seals and sealed licences, and the
fictitious organisation then appears in the signed trust list as an issuing organisation. So it runs only
while the operator organisation is still the placeholder (a fresh or test home); on a home with a real
``org_code`` it refuses (InvalidState) unless ``force`` is given, and with ``if_empty`` (``make run``) it
quietly does nothing.

The demo data are fictitious: the USCCs and citizen ID are made up to pass their check characters
(``…DEM0…`` in the organisation codes) and belong to nobody we know of.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select

from trustsvc.auth import ApiKey, Role, create_api_key
from trustsvc.config import PLACEHOLDER_ORG_NAME, PLACEHOLDER_ORG_USCC
from trustsvc.errors import InvalidState
from trustsvc.license.catalog import LicenceType
from trustsvc.seal.kinds import SealKind
from trustsvc.service import TrustService

__all__ = ["DEMO_FIELDS", "DEMO_KEY_NAME", "DemoLicence", "DemoReport", "case_id_for", "run_demo"]

DEMO_KEY_NAME: Final = "demo"
DEMO_MATTER_CODE: Final = "DEMO-0001"
DEMO_ORG_USCC: Final = PLACEHOLDER_ORG_USCC
DEMO_ORG_NAME: Final = PLACEHOLDER_ORG_NAME

#: Field values of one demo licence per shipped type code.
DEMO_FIELDS: Final[dict[str, dict[str, Any]]] = {
    # 营业执照
    "11100000MB03271699901": {
        "name": "某市示范数字科技有限公司",
        "uscc": "91430104MA4DEM010C",
        "entity_type": "有限责任公司（自然人投资或控股）",
        "legal_representative": "王晓明",
        "business_scope": (
            "一般项目：软件开发；信息系统集成服务；数据处理和存储支持服务；信息技术咨询服务。"
            "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"
        ),
        "registered_capital": "5000000",
        "established_on": "2021-03-15",
        "business_term": "2021年03月15日至长期",
        "domicile": "某省某市高新区创新大道88号科技园3栋501室",
        "registration_authority": "某市市场监督管理局",
    },
    # 食品经营许可证
    "11100000MB03271699902": {
        "operator_name": "某市示范餐饮管理有限公司",
        "uscc": "91430105MA4DEM029P",
        "legal_representative": "李红梅",
        "domicile": "某省某市开福区湘江北路128号",
        "premises": "某省某市开福区湘江北路128号一楼101号门面",
        "business_format": "餐饮服务经营者",
        "business_items": "热食类食品制售；冷食类食品制售；自制饮品制售",
        "licence_number": "JY24301050012345",
        "valid_until": "2031-06-30",
        "supervising_authority": "某市市场监督管理局开福分局",
        "signatory": "赵建国",
    },
    # 特种作业操作证
    "11100000000013661B903": {
        "name": "陈静",
        "sex": "女",
        "citizen_id": "430104198806120421",
        "category": "电工作业",
        "operation_item": "低压电工作业",
        "first_issued_on": "2022-08-01",
    },
}


@dataclass(frozen=True)
class DemoLicence:
    """One demo licence and where to get and check it."""

    type_code: str
    type_name: str
    identifier: str
    created: bool
    status_url: str
    downloads: dict[str, str]  # the holder's links: pdf, ofd


@dataclass
class DemoReport:
    """What :func:`run_demo` found or made."""

    base_url: str
    skipped: bool = False  # --if-empty and some licence exists, or --if-empty on a production home
    skip_reason: str = ""
    api_key_prefix: str | None = None
    api_key_token: str | None = None  # only when the key was made now
    seals: list[tuple[str, bool]] = field(default_factory=list)  # (esID, made now)
    licences: list[DemoLicence] = field(default_factory=list)
    without_data: list[str] = field(default_factory=list)  # catalogue types the demo has no data for

    def lines(self) -> list[str]:
        """Return the report as the command prints it (Chinese and English, ready-to-paste commands)."""
        if self.skipped:
            return [self.skip_reason]
        out = []
        if self.api_key_token is not None:
            out += [
                f"演示业务系统 demo business system: API key {self.api_key_prefix} (name {DEMO_KEY_NAME!r}, "
                "role business-system); its token is shown only now:",
                f"  {self.api_key_token}",
            ]
        else:
            out.append(f"演示业务系统 demo business system: API key {self.api_key_prefix} (exists already)")
        for es_id, made in self.seals:
            out.append(f"演示印章 demo seal: {es_id} ({'made now' if made else 'exists already'})")
        for number, item in enumerate(self.licences, start=1):
            done = "issued now" if item.created else "issued before"
            out += ["", f"{item.type_name} ({item.type_code}): {done}"]
            out.append(f"  identifier: {item.identifier}")
            for fmt, url in sorted(item.downloads.items()):
                out.append(f"  holder download ({fmt}): {url}")
            out.append(f"  status: {item.status_url}")
            if "pdf" in item.downloads:
                name = f"demo-{number}.pdf"
                fetch = f"curl -fsS -o {shlex.quote(name)} {shlex.quote(item.downloads['pdf'])}"
                out.append(f"  verify: {fetch} && trustsvc verify {shlex.quote(name)}")
                out.append(f"          curl -F file=@{shlex.quote(name)} {self.base_url}/api/v1/verify")
        for code in self.without_data:
            out.append(f"(no demo data for licence type {code}: not issued)")
        return out


def case_id_for(type_code: str) -> str:
    """Return the case id of the demo licence of ``type_code``."""
    return f"DEMO-{type_code}"


def run_demo(service: TrustService, *, actor: str, if_empty: bool = False, force: bool = False) -> DemoReport:
    """Return the demo report after making what is missing (see the module docstring); idempotent.

    Needs an initialised home (``trustsvc init``: the PKI makes the seals and time-stamps the licences).
    ``if_empty``: do nothing when any licence exists (how ``make run`` calls it). ``force``: run on a home
    with a real organisation configured (see the module docstring).
    """
    report = DemoReport(base_url=service.settings.public_base_url)
    production = service.settings.pki_org_uscc != PLACEHOLDER_ORG_USCC
    if production and not force:
        if if_empty:
            report.skipped = True
            report.skip_reason = "a real organisation is configured (org_code): no demo licences on this home"
            return report
        raise InvalidState(
            f"this home belongs to {service.settings.pki_org_name} ({service.settings.org_code}): the demo "
            "makes an API key, seals and licences of a fictitious organisation that would appear in the "
            "signed trust list; run it on a test home, or pass --force"
        )
    if if_empty and service.licences.count() > 0:
        report.skipped = True
        report.skip_reason = (
            "licences exist already: nothing to do (run `trustsvc demo` without --if-empty to add)"
        )
        return report
    principal, token = _demo_key(service, actor)
    report.api_key_prefix, report.api_key_token = principal.split(":", 1)[1], token
    catalog = service.licence_types.catalog()
    types = [t for t in catalog if t.type_code in DEMO_FIELDS]
    report.without_data = sorted(t.type_code for t in catalog if t.type_code not in DEMO_FIELDS)
    seals: dict[SealKind, str] = {}
    for kind in sorted({t.seal_kind for t in types}):
        es_id, made = _demo_seal(service, kind, principal, actor)
        seals[kind] = es_id
        report.seals.append((es_id, made))
    for licence_type in types:
        es_id = seals[licence_type.seal_kind]
        report.licences.append(_demo_licence(service, licence_type, es_id, principal, actor))
    return report


def _demo_key(service: TrustService, actor: str) -> tuple[str, str | None]:
    """Return the principal of the active API key ``demo`` and its token when made now (else None)."""
    with service.session() as session, session.begin():
        keys = session.execute(
            select(ApiKey)
            .where(ApiKey.name == DEMO_KEY_NAME, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.id)
        ).scalars()
        existing = next((k for k in keys if k.has_role(Role.BUSINESS_SYSTEM.value)), None)
        if existing is not None:
            return f"apikey:{existing.prefix}", None
        key, token = create_api_key(session, DEMO_KEY_NAME, [Role.BUSINESS_SYSTEM.value], now=service.clock())
        service.audit.append(
            session,
            actor=actor,
            action="apikey.create",
            subject=f"apikey:{key.prefix}",
            details={"name": key.name, "roles": key.roles, "purpose": "demo"},
        )
        return f"apikey:{key.prefix}", token


def _demo_seal(service: TrustService, kind: SealKind, principal: str, actor: str) -> tuple[str, bool]:
    """Return the esID of the demo organisation's active seal of ``kind`` granted to ``principal``."""
    seals = service.seals
    found = seals.list(org=DEMO_ORG_USCC, kind=kind, status="active", principal=principal, limit=1)
    if found:
        return found[0].es_id, False
    made = seals.create_seal(
        DEMO_ORG_USCC, DEMO_ORG_NAME, kind, actor=actor, department="演示", authorised=[principal]
    )
    return made.seal.es_id, True


def _demo_licence(
    service: TrustService, licence_type: LicenceType, es_id: str, principal: str, actor: str
) -> DemoLicence:
    licences = service.licences
    record, created = licences.issue(
        DEMO_KEY_NAME,
        case_id_for(licence_type.type_code),
        DEMO_MATTER_CODE,
        licence_type.type_code,
        None,
        DEMO_FIELDS[licence_type.type_code],
        es_id,
        principal=principal,
        actor=actor,
    )
    return DemoLicence(
        type_code=record.type_code,
        type_name=record.type_name or licence_type.name,
        identifier=record.identifier,
        created=created,
        status_url=licences.status_url(record.identifier),
        downloads=licences.holder_download_urls(record),
    )
