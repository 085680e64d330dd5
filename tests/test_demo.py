"""``trustsvc demo`` (what ``make run`` calls after ``trustsvc init``): on a fresh home it issues one licence
of each catalogue type whose printed holder links download through the HTTP API and verify VALID; running
it again issues nothing new, and ``--if-empty`` does nothing once a licence exists."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from click.testing import Result
from flask.testing import FlaskClient

from tests.conftest import CliRun
from trustsvc.api import create_app
from trustsvc.config import PLACEHOLDER_ORG_USCC, Settings
from trustsvc.demo import DEMO_FIELDS, DEMO_KEY_NAME, case_id_for
from trustsvc.license.catalog import load_catalog
from trustsvc.license.issuance import STATEMENT_TYPE
from trustsvc.seal.status import verify_status_answer
from trustsvc.service import TrustService


@dataclass
class Printed:
    """One licence block of the demo's output."""

    type_code: str
    identifier: str
    downloads: dict[str, str]
    status_url: str
    verify_lines: list[str]


def licences_printed(output: str) -> list[Printed]:
    blocks = []
    for block in output.split("\n\n")[1:]:
        head, *lines = block.splitlines()
        type_code = re.search(r"\((\w{21})\)", head)
        assert type_code is not None, head
        values = dict(line.strip().split(": ", 1) for line in lines if not line.startswith("          "))
        blocks.append(
            Printed(
                type_code=type_code.group(1),
                identifier=values["identifier"],
                downloads={fmt: values[f"holder download ({fmt})"] for fmt in ("pdf", "ofd")},
                status_url=values["status"],
                verify_lines=[
                    values["verify"],
                    *(line.strip() for line in lines if line.startswith("     ")),
                ],
            )
        )
    return blocks


def get(client: FlaskClient, url: str, **kwargs: object) -> bytes:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:8080"  # the default public base URL
    response = client.get(parts.path, query_string=parts.query, **kwargs)
    assert response.status_code == 200, (url, response.get_data(as_text=True))
    return response.get_data()


def test_demo_on_a_fresh_home_issues_one_valid_licence_of_each_type(
    run_cli: CliRun, settings: Settings, tmp_path: Path
) -> None:
    assert run_cli("init").exit_code == 0
    result = run_cli("demo", "--if-empty")  # as `make run` calls it: the home has no licence yet
    assert result.exit_code == 0, result.stderr
    token = re.search(r"^  (tsk_\S+)$", result.stdout, re.MULTILINE)
    assert token is not None and "its token is shown only now" in result.stdout
    printed = licences_printed(result.stdout)
    shipped = {t.type_code for t in load_catalog()}
    assert {p.type_code for p in printed} == shipped == set(DEMO_FIELDS)  # every shipped type has demo data

    service = TrustService.from_settings(settings)
    try:
        client = create_app(service=service).test_client()
        for item in printed:
            record = service.licences.get(item.identifier)
            assert (record.system, record.case_id) == (DEMO_KEY_NAME, case_id_for(item.type_code))
            assert record.issuer_code == PLACEHOLDER_ORG_USCC
            assert item.status_url == service.licences.status_url(item.identifier)
            for fmt, url in item.downloads.items():
                assert "token=" in url
                data = get(client, url)
                assert data == (record.pdf if fmt == "pdf" else record.ofd)
                verdict = service.verifier.verify(data)
                assert verdict.report == "VALID" and verdict.format == fmt
            answer = verify_status_answer(get(client, item.status_url), statement_type=STATEMENT_TYPE)
            assert answer.statement["identifier"] == item.identifier
            assert answer.statement["status"] == "valid"
            # The printed verify lines: download the holder's PDF, then `trustsvc verify` or POST it.
            fetch, post = item.verify_lines
            assert fetch.startswith("curl -fsS -o demo-") and f"'{item.downloads['pdf']}'" in fetch
            assert fetch.endswith(" && trustsvc verify " + fetch.split()[3])
            assert post == f"curl -F file=@{fetch.split()[3]} http://127.0.0.1:8080/api/v1/verify"
            posted = client.post("/api/v1/verify", data={"file": (io.BytesIO(record.pdf), "demo.pdf")})
            assert posted.status_code == 200 and posted.get_json()["indication"] == "VALID"
        # The demo business system's token works with the HTTP API for its own licences.
        mine = get(
            client,
            f"http://127.0.0.1:8080/api/v1/licenses/{printed[0].identifier}/licence.pdf",
            headers={"Authorization": f"Bearer {token.group(1)}"},
        )
        assert mine == service.licences.get(printed[0].identifier).pdf
    finally:
        service.close()

    again = run_cli("demo")
    assert again.exit_code == 0, again.stderr
    assert "tsk_" not in again.stdout and "(exists already)" in again.stdout
    assert again.stdout.count("issued before") == len(shipped) and "issued now" not in again.stdout
    assert [p.identifier for p in licences_printed(again.stdout)] == [p.identifier for p in printed]
    assert licences_printed(again.stdout)[0].downloads == printed[0].downloads

    skipped = run_cli("demo", "--if-empty")
    assert skipped.exit_code == 0 and skipped.stdout.startswith("licences exist already: nothing to do")

    service = TrustService.from_settings(settings)
    try:
        assert service.licences.count() == len(shipped)
        assert len(service.seals.list(org=PLACEHOLDER_ORG_USCC)) == 1  # all shipped types use kind 1
    finally:
        service.close()
    keys = run_cli("apikey", "list").stdout.splitlines()
    assert len([line for line in keys if line.split()[1:2] == [DEMO_KEY_NAME]]) == 1


def test_demo_on_a_home_without_init_says_what_to_do(run_cli: CliRun) -> None:
    result: Result = run_cli("demo")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("trustsvc: error:") and result.stderr.count("\n") == 1


def test_demo_refuses_a_home_with_a_real_organisation_unless_forced(
    cli_env: dict[str, str], settings: Settings
) -> None:
    production = CliRun(
        {**cli_env, "TRUSTSVC_ORG_CODE": "11430000006122244L", "TRUSTSVC_ORG_NAME": "湖南省政务服务中心"}
    )
    assert production("init").exit_code == 0
    refused = production("demo")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert "湖南省政务服务中心 (11430000006122244L)" in refused.stderr and "--force" in refused.stderr
    quiet = production("demo", "--if-empty")  # as `make run` calls it: a production home is left alone
    assert quiet.exit_code == 0 and quiet.stdout.startswith("a real organisation is configured")
    listing = production("apikey", "list").stdout
    assert DEMO_KEY_NAME not in listing.split()

    forced = production("demo", "--force")
    assert forced.exit_code == 0, forced.stderr
    service = TrustService.from_settings(
        Settings.from_env({**cli_env, "TRUSTSVC_ORG_CODE": "11430000006122244L"})
    )
    try:
        assert service.licences.count() == len(DEMO_FIELDS)
    finally:
        service.close()
