"""What the licence tests share: the shipped types' codes, valid field sets, an issuing organisation with an
SM2 PKI, a seal and a business-system API key (:func:`issuer` fixture), and request bodies.

The ``issuer`` fixture is registered for every test by tests/conftest.py; licence tests pin their clock far
from the real time (``pinned_clock`` below) to show nothing depends on the system clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import FakeClock
from trustsvc.auth import create_api_key
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.service import TrustService

BUSINESS = "11100000MB03271699901"
OPERATIONS = "11100000000013661B903"
ISSUER = "11430000006122244L"
ISSUER_NAME = "长沙市岳麓区市场监督管理局"
HOLDER = "91110000600037341L"
FIELDS: dict[str, Any] = {
    "name": "长沙市岳麓区湘江示范科技有限公司",
    "uscc": HOLDER,
    "entity_type": "有限责任公司（自然人投资或控股）",
    "legal_representative": "张三",
    "business_scope": "软件开发；信息技术咨询服务。",
    "registered_capital": "1000000",
    "established_on": "2020-05-01",
    "business_term": "2020年05月01日至长期",
    "domicile": "湖南省长沙市岳麓区麓谷大道100号",
    "registration_authority": ISSUER_NAME,
}
OPERATIONS_FIELDS: dict[str, Any] = {
    "name": "李四",
    "sex": "女",
    "citizen_id": "11010519491231002X",
    "category": "电工作业",
    "operation_item": "低压电工作业",
    "first_issued_on": "2020-03-01",
}


@dataclass
class Issuer:
    service: TrustService
    es_id: str
    system: str
    principal: str
    headers: dict[str, str]

    def issue(self, case_id: str = "CASE-1", **overrides: Any) -> Any:
        options: dict[str, Any] = {
            "matter_code": "M-001",
            "type_code": BUSINESS,
            "holder": {"code": HOLDER},
            "fields": FIELDS,
            "es_id": self.es_id,
        }
        options.update(overrides)
        return self.service.licences.issue(
            self.system,
            case_id,
            options["matter_code"],
            options["type_code"],
            options["holder"],
            options["fields"],
            options["es_id"],
            principal=self.principal,
        )


def api_key(service: TrustService, name: str, *roles: str) -> tuple[dict[str, str], str]:
    with service.session() as session, session.begin():
        key, token = create_api_key(session, name, list(roles))
        return {"Authorization": f"Bearer {token}"}, f"apikey:{key.prefix}"


@pytest.fixture
def issuer(service: TrustService) -> Issuer:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    headers, principal = api_key(service, "审批系统", "business-system")
    made = service.seals.create_seal(ISSUER, ISSUER_NAME, 1, actor="test", authorised=[principal])
    return Issuer(service, made.seal.es_id, "审批系统", principal, headers)


def body(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "case_id": "CASE-1",
        "matter_code": "M-001",
        "type_code": BUSINESS,
        "holder": {"name": FIELDS["name"], "code": HOLDER},
        "fields": dict(FIELDS),
    }
    request.update(overrides)
    return request


def pinned_clock() -> FakeClock:
    """A clock pinned at a whole second far from the real time: sealing, time-stamps, PDF signing times,
    audit and licence dates all follow the service clock, so nothing here may depend on the system clock."""
    return FakeClock(datetime(2026, 3, 2, 1, 2, 3, tzinfo=UTC))
