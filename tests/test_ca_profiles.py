"""Certificate profiles: what each kind fixes, and how subjects are built and checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from asn1crypto import x509

from trustsvc.ca import profiles
from trustsvc.ca.profiles import (
    DEFAULT_POLICY_OID,
    ID_KP_DOCUMENT_SIGNING,
    ID_KP_SEAL_MAKING,
    ID_TSL_KP_TSL_SIGNING,
    PROFILES,
    ProfileKind,
    SubjectInfo,
    get_profile,
    person_pseudonym_matches,
    pseudonymous_person_id,
    uscc_of,
)
from trustsvc.errors import InvalidInput

USCC = "91110000600037341L"
OTHER_USCC = "11100000000013338W"
CITIZEN_ID = "11010519491231002X"
PSEUDONYM_KEY = b"k" * 32


def test_every_kind_has_a_profile() -> None:
    assert set(PROFILES) == set(ProfileKind)
    assert {k.value for k in ProfileKind} == {
        "root",
        "issuing-ca",
        "seal-maker",
        "seal-signer",
        "person-signer",
        "ocsp-responder",
        "tsa",
        "tls-client",
        "trust-list-signer",
    }


@pytest.mark.parametrize(
    ("kind", "key_usage", "eku", "eku_critical", "years"),
    [
        (ProfileKind.ROOT, {"key_cert_sign", "crl_sign"}, (), False, 20),
        (ProfileKind.ISSUING_CA, {"key_cert_sign", "crl_sign"}, (), False, 10),
        (ProfileKind.SEAL_MAKER, {"digital_signature", "non_repudiation"}, (ID_KP_SEAL_MAKING,), False, 3),
        (
            ProfileKind.SEAL_SIGNER,
            {"digital_signature", "non_repudiation"},
            (ID_KP_DOCUMENT_SIGNING,),
            False,
            3,
        ),
        (
            ProfileKind.PERSON_SIGNER,
            {"digital_signature", "non_repudiation"},
            (ID_KP_DOCUMENT_SIGNING,),
            False,
            2,
        ),
        (ProfileKind.OCSP_RESPONDER, {"digital_signature"}, ("ocsp_signing",), False, 1),
        (ProfileKind.TSA, {"digital_signature"}, ("time_stamping",), True, 5),
        (ProfileKind.TLS_CLIENT, {"digital_signature"}, ("client_auth",), False, 2),
        (
            ProfileKind.TRUST_LIST_SIGNER,
            {"digital_signature", "non_repudiation"},
            (ID_TSL_KP_TSL_SIGNING,),
            False,
            3,
        ),
    ],
)
def test_profile_fixes_usage_and_validity(
    kind: ProfileKind, key_usage: set[str], eku: tuple[str, ...], eku_critical: bool, years: int
) -> None:
    profile = PROFILES[kind]
    assert profile.key_usage == key_usage
    assert profile.extended_key_usage == eku
    assert profile.extended_key_usage_critical is eku_critical
    assert profile.validity_years == years


def test_only_ca_profiles_are_ca_and_issuing_ca_has_path_length_zero() -> None:
    assert {k for k, p in PROFILES.items() if p.is_ca} == {ProfileKind.ROOT, ProfileKind.ISSUING_CA}
    assert PROFILES[ProfileKind.ISSUING_CA].path_length == 0
    assert PROFILES[ProfileKind.ROOT].path_length is None


def test_root_has_no_pointers_or_policies_and_others_do() -> None:
    root = PROFILES[ProfileKind.ROOT]
    assert root.self_signed
    assert not (root.crl_distribution_point or root.ocsp_url or root.ca_issuers_url or root.policy_oids)
    for kind, profile in PROFILES.items():
        if kind is ProfileKind.ROOT:
            continue
        assert profile.crl_distribution_point and profile.ca_issuers_url
        assert profile.policy_oids == (DEFAULT_POLICY_OID,)


def test_ocsp_responder_has_nocheck_and_no_ocsp_pointer() -> None:
    ocsp = PROFILES[ProfileKind.OCSP_RESPONDER]
    assert ocsp.ocsp_no_check and not ocsp.ocsp_url
    assert not any(p.ocsp_no_check for k, p in PROFILES.items() if k is not ProfileKind.OCSP_RESPONDER)


def test_get_profile_takes_configured_policy_cps_and_seal_making_oid() -> None:
    profile = get_profile(
        "seal-maker", policy_oid="1.2.3.4.5", cps_uri="http://pki.example/cps", seal_making_oid="1.2.3.4.6"
    )
    assert profile.policy_oids == ("1.2.3.4.5",)
    assert profile.cps_uri == "http://pki.example/cps"
    assert profile.extended_key_usage == ("1.2.3.4.6",)
    assert get_profile(ProfileKind.ROOT, policy_oid="1.2.3.4.5").policy_oids == ()


@pytest.mark.parametrize(
    "oid", ["", "1", "3.1", "1.02", "1.2.x", "1..2", "1.40.1", "2.25.39527929943477972019229623829756453538"]
)
def test_get_profile_refuses_a_malformed_policy_oid(oid: str) -> None:
    with pytest.raises(InvalidInput):
        get_profile("tsa", policy_oid=oid)


def test_default_policy_is_under_the_rfc_5612_documentation_arc() -> None:
    assert DEFAULT_POLICY_OID == "1.3.6.1.4.1.32473.1.1"
    assert ID_KP_SEAL_MAKING == "1.3.6.1.4.1.32473.2.1"
    assert get_profile("tsa", policy_oid="2.999.4294967295").policy_oids == ("2.999.4294967295",)


def test_get_profile_refuses_unknown_kind_and_bad_cps() -> None:
    with pytest.raises(InvalidInput, match="unknown certificate profile"):
        get_profile("web-server")
    with pytest.raises(InvalidInput):
        get_profile("tsa", cps_uri="ftp://x/cps")


# --- subjects ------------------------------------------------------------------------------------


def _seal_signer_subject() -> SubjectInfo:
    return SubjectInfo(
        common_name="某市市场监督管理局行政审批专用章",
        organization="某市市场监督管理局",
        organizational_unit="行政审批科",
        uscc=USCC,
        state="某省",
        locality="某市",
    )


def test_subject_is_ordered_and_encoded_as_utf8_except_country() -> None:
    name = PROFILES[ProfileKind.SEAL_SIGNER].build_subject(_seal_signer_subject())
    rdns = [rdn[0] for rdn in name.chosen]
    assert [ava["type"].native for ava in rdns] == [
        "country_name",
        "state_or_province_name",
        "locality_name",
        "organization_name",
        "organizational_unit_name",
        "organization_identifier",
        "common_name",
    ]
    encodings = {ava["type"].native: ava["value"].name for ava in rdns}
    assert encodings.pop("country_name") == "printable_string"
    assert set(encodings.values()) == {"utf8_string"}
    native = x509.Name.load(name.dump()).native
    assert native["organization_name"] == "某市市场监督管理局"
    assert native["organization_identifier"] == "NTRCN-" + USCC


def test_uscc_is_read_back_from_organization_identifier() -> None:
    name = PROFILES[ProfileKind.SEAL_MAKER].build_subject(
        SubjectInfo(common_name="制章系统", organization="某省数据局", uscc=OTHER_USCC)
    )
    assert uscc_of(x509.Name.load(name.dump())) == OTHER_USCC
    assert uscc_of(x509.Name.build({"common_name": "x"})) is None


def test_invalid_uscc_is_refused() -> None:
    info = SubjectInfo(common_name="印章", organization="某单位", uscc="91110000600037341M")
    with pytest.raises(InvalidInput, match="social credit code"):
        PROFILES[ProfileKind.SEAL_SIGNER].build_subject(info)


@pytest.mark.parametrize(
    ("kind", "info", "message"),
    [
        (
            ProfileKind.SEAL_SIGNER,
            SubjectInfo(common_name="章", organization="单位"),
            "organization_identifier",
        ),
        (ProfileKind.SEAL_MAKER, SubjectInfo(common_name="制章", uscc=USCC), "organization_name"),
        (ProfileKind.PERSON_SIGNER, SubjectInfo(common_name="张三"), "serial_number"),
        (
            ProfileKind.SEAL_SIGNER,
            SubjectInfo(common_name="章", organization="单位", uscc=USCC, person_pseudonym="PID-" + "A" * 40),
            "does not allow subject attribute serial_number",
        ),
    ],
)
def test_profile_enforces_required_and_allowed_attributes(
    kind: ProfileKind, info: SubjectInfo, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        PROFILES[kind].build_subject(info)


@pytest.mark.parametrize(
    "info",
    [
        SubjectInfo(common_name="章" * 65, organization="单位"),
        SubjectInfo(common_name=" 审批系统", organization="单位"),
        SubjectInfo(common_name="审批\n系统", organization="单位"),
        SubjectInfo(common_name="审批系统", organization="单位", country="US"),
        SubjectInfo(common_name="审批系统", organization="单位", country="中国"),
    ],
)
def test_bad_subject_values_are_refused(info: SubjectInfo) -> None:
    with pytest.raises(InvalidInput):
        PROFILES[ProfileKind.TLS_CLIENT].build_subject(info)


def test_sixty_four_chinese_characters_fit_the_common_name_bound() -> None:
    name = PROFILES[ProfileKind.TLS_CLIENT].build_subject(
        SubjectInfo(common_name="章" * 64, organization="单位")
    )
    assert name.native["common_name"] == "章" * 64


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("common_name", f"张三{CITIZEN_ID}"),
        ("organizational_unit", f"窗口 {CITIZEN_ID.lower()}"),
        ("common_name", f"9{CITIZEN_ID}"),
    ],
)
def test_citizen_id_in_clear_is_refused_anywhere_in_the_subject(where: str, value: str) -> None:
    values = {"common_name": "张三", "organizational_unit": "窗口", "person_pseudonym": "PID-" + "0" * 40}
    values[where] = value
    with pytest.raises(InvalidInput, match="citizen ID"):
        PROFILES[ProfileKind.PERSON_SIGNER].build_subject(SubjectInfo(**values))


def test_person_signer_subject_carries_a_pseudonym_not_the_citizen_id() -> None:
    pseudonym = pseudonymous_person_id(CITIZEN_ID, key=PSEUDONYM_KEY)
    name = PROFILES[ProfileKind.PERSON_SIGNER].build_subject(
        SubjectInfo(common_name="张三", organization="某市政务服务中心", person_pseudonym=pseudonym)
    )
    der = name.dump()
    assert CITIZEN_ID.encode() not in der
    assert name.native["serial_number"] == pseudonym
    serial_ava = next(rdn[0] for rdn in name.chosen if rdn[0]["type"].native == "serial_number")
    assert serial_ava["value"].name == "printable_string"


def test_person_signer_may_name_the_organisation_they_sign_for() -> None:
    name = PROFILES[ProfileKind.PERSON_SIGNER].build_subject(
        SubjectInfo(
            common_name="张三",
            organization="某市政务服务中心",
            organizational_unit="综合窗口",
            uscc=USCC,
            person_pseudonym=pseudonymous_person_id(CITIZEN_ID, key=PSEUDONYM_KEY),
        )
    )
    assert uscc_of(name) == USCC


def test_missing_attributes_are_all_named() -> None:
    with pytest.raises(InvalidInput, match="organization_identifier, organization_name"):
        PROFILES[ProfileKind.SEAL_SIGNER].build_subject(SubjectInfo(common_name="章"))


def test_a_citizen_id_passed_as_pseudonym_is_refused() -> None:
    with pytest.raises(InvalidInput):
        PROFILES[ProfileKind.PERSON_SIGNER].build_subject(
            SubjectInfo(common_name="张三", person_pseudonym=CITIZEN_ID)
        )


def test_pseudonym_is_keyed_deterministic_and_normalised() -> None:
    a = pseudonymous_person_id(CITIZEN_ID, key=PSEUDONYM_KEY)
    assert a == pseudonymous_person_id(CITIZEN_ID.lower(), key=PSEUDONYM_KEY)
    assert a.startswith("PID-") and len(a) == 44
    assert a != pseudonymous_person_id(CITIZEN_ID, key=b"j" * 32)
    assert a != pseudonymous_person_id("360426199101010071", key=PSEUDONYM_KEY)
    assert person_pseudonym_matches(a, CITIZEN_ID, key=PSEUDONYM_KEY)
    assert not person_pseudonym_matches(a, "360426199101010071", key=PSEUDONYM_KEY)
    assert not person_pseudonym_matches(a, "not an id", key=PSEUDONYM_KEY)


def test_pseudonym_refuses_invalid_id_and_short_key() -> None:
    with pytest.raises(InvalidInput, match="citizen ID"):
        pseudonymous_person_id("110105194912310021", key=PSEUDONYM_KEY)
    with pytest.raises(InvalidInput, match="16 bytes"):
        pseudonymous_person_id(CITIZEN_ID, key=b"short")


# --- validity ------------------------------------------------------------------------------------


def test_validity_is_whole_years_in_utc_without_microseconds() -> None:
    start = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    not_before, not_after = PROFILES[ProfileKind.ROOT].validity(start)
    assert not_before == datetime(2026, 3, 1, 0, 30, 15, tzinfo=UTC)
    assert not_after == datetime(2046, 3, 1, 0, 30, 15, tzinfo=UTC)
    assert not_before.tzinfo is UTC


def test_validity_from_29_february_ends_on_28_february() -> None:
    _, end = PROFILES[ProfileKind.TLS_CLIENT].validity(datetime(2028, 2, 29, tzinfo=UTC))
    assert end == datetime(2030, 2, 28, tzinfo=UTC)


def test_validity_is_clamped_to_the_issuer() -> None:
    issuer_end = datetime(2027, 1, 1, tzinfo=UTC)
    _, end = PROFILES[ProfileKind.SEAL_SIGNER].validity(
        datetime(2026, 1, 1, tzinfo=UTC), issuer_not_after=issuer_end
    )
    assert end == issuer_end
    with pytest.raises(InvalidInput, match="expires"):
        PROFILES[ProfileKind.SEAL_SIGNER].validity(
            datetime(2028, 1, 1, tzinfo=UTC), issuer_not_after=issuer_end
        )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        PROFILES[ProfileKind.TSA].validity(datetime(2026, 1, 1))


def test_utc_seconds_drops_microseconds() -> None:
    moment = datetime(2030, 5, 6, 7, 8, 9, 999999, tzinfo=UTC)
    assert profiles.utc_seconds(moment) == datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
