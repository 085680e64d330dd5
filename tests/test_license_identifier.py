"""E-licence identifiers (MOD 37,36), USCC (GB 32100 + GB 11714) and citizen IDs (GB 11643).

python-stdnum is the independent reference here (tests only): production code implements the algorithms
itself from spec/standards.md §6.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc
from stdnum.iso7064 import mod_37_36 as stdnum_mod_37_36

from trustsvc.errors import InvalidInput
from trustsvc.license import citizen_id, identifier, uscc
from trustsvc.license.citizen_id import Sex
from trustsvc.license.identifier import LicenceIdentifier, build, mod_37_36_check, parse

EXAMPLE_U = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"
EXAMPLE_0 = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0"
EXAMPLE_9 = "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9"  # issuer is a division code
COUNTER_M = "1.2.156.3005.2.11100000000013661B006.113700000045046442.209FA4E88F9E4C878F3E9BED2CE7EA49.001.M"
VALID_USCCS = [
    "91110000600037341L",
    "11100000000013338W",
    "11430000006122244L",
    "11330105002500287C",
    "113700000045046442",
    "11100000MB03271699",
    "11100000000013661B",
]
TODAY = date(2026, 1, 2)

A31 = uscc.ALPHABET
A36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def rule_of(excinfo: pytest.ExceptionInfo[InvalidInput]) -> str:
    return str(excinfo.value.extra["rule"])


# --- MOD 37,36 and the identifier ----------------------------------------------------------------


@pytest.mark.parametrize(("text", "check"), [(EXAMPLE_U, "U"), (EXAMPLE_0, "0"), (EXAMPLE_9, "9")])
def test_worked_examples_compute_their_check_character(text: str, check: str) -> None:
    body = "".join(text.split(".")[5:9])
    assert mod_37_36_check(body) == check == stdnum_mod_37_36.calc_check_digit(body)


def test_worked_example_u_parses_into_its_parts_and_prints_back() -> None:
    ident = parse(EXAMPLE_U)
    assert ident == LicenceIdentifier("11100000000013338W011", "11430000006122244L", "20230000403", 1, "U")
    assert ident.defining_authority == "11100000000013338W"
    assert ident.body == "11100000000013338W01111430000006122244L20230000403001"
    assert len(ident.body) == 53
    assert str(ident) == EXAMPLE_U
    assert parse(EXAMPLE_0).version == 2


def test_build_computes_the_worked_examples() -> None:
    assert str(build("11100000000013338W011", "11430000006122244L", "20230000403")) == EXAMPLE_U
    assert str(build("11100000000013338W009", "11330105002500287C", "2025052201", 2)) == EXAMPLE_0


def test_issuer_that_is_a_division_code_needs_the_legacy_switch() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse(EXAMPLE_9)
    assert excinfo.value.extra["part"] == "issuer_code"
    assert rule_of(excinfo) == "USCC length"
    assert parse(EXAMPLE_9, allow_legacy=True).issuer_code == "340100"


def test_counter_example_computes_d_not_m() -> None:
    body = "".join(COUNTER_M.split(".")[5:9])
    assert mod_37_36_check(body) == "D"
    with pytest.raises(InvalidInput) as excinfo:
        parse(COUNTER_M)
    assert excinfo.value.extra == {
        "field": "identifier",
        "part": "check",
        "rule": "identifier check character",
    }
    assert "'D'" in excinfo.value.detail
    assert parse(COUNTER_M[:-1] + "D").check == "D"


GOOD = "11100000000013338W011.11430000006122244L.20230000403.001.U"


@pytest.mark.parametrize(
    ("text", "part", "rule"),
    [
        ("1.2.156.3005.3." + GOOD, "root", "identifier root"),
        ("1.2.156.3005.2." + GOOD[:-2], "root", "identifier structure"),
        ("1.2.156.3005.2." + GOOD.replace("338W", "338X"), "type_code", "USCC check character"),
        ("1.2.156.3005.2." + GOOD.replace("W011", "W01A"), "type_code", "type code sequence"),
        ("1.2.156.3005.2." + GOOD.replace("W011", "W0111"), "type_code", "type code length"),
        ("1.2.156.3005.2." + GOOD.replace("2244L", "2244M"), "issuer_code", "USCC check character"),
        ("1.2.156.3005.2." + GOOD.replace(".20230000403", ".2023000040a"), "serial", "serial format"),
        ("1.2.156.3005.2." + GOOD.replace(".001.", ".000."), "version", "version range"),
        ("1.2.156.3005.2." + GOOD.replace(".001.", ".01."), "version", "version format"),
        ("1.2.156.3005.2." + GOOD.replace(".U", ".V"), "check", "identifier check character"),
        ("1.2.156.3005.2." + GOOD.replace(".U", ".UU"), "check", "identifier check character"),
    ],
)
def test_parse_names_the_failing_part_and_rule(text: str, part: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse(text)
    assert excinfo.value.extra["field"] == "identifier"
    assert excinfo.value.extra["part"] == part
    assert rule_of(excinfo) == rule


def test_build_refuses_bad_parts_naming_the_part() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        build("11100000000013338W011", "11430000006122244L", "x" * 3)
    assert excinfo.value.extra["field"] == "serial"
    with pytest.raises(InvalidInput) as excinfo:
        build("11100000000013338W011", "11430000006122244L", "A" * 33)
    assert rule_of(excinfo) == "serial format"
    with pytest.raises(InvalidInput) as excinfo:
        build("11100000000013338W011", "11430000006122244L", "1", 1000)
    assert rule_of(excinfo) == "version range"


def test_constructing_with_a_wrong_check_character_is_refused() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        LicenceIdentifier("11100000000013338W011", "11430000006122244L", "20230000403", 1, "V")
    assert rule_of(excinfo) == "identifier check character"


def test_next_version_keeps_the_licence_and_recomputes_the_check() -> None:
    nxt = parse(EXAMPLE_U).next_version()
    assert (nxt.serial, nxt.version) == ("20230000403", 2)
    assert nxt.check == stdnum_mod_37_36.calc_check_digit(nxt.body)


def _uscc_from(prefix8: str, org8: str) -> str:
    first17 = prefix8 + org8 + uscc.organisation_code_check(org8)
    return first17 + uscc.check_character(first17)


valid_uscc = st.builds(
    _uscc_from,
    st.text("0123456789", min_size=8, max_size=8),
    st.text(A31, min_size=8, max_size=8),
)


@settings(max_examples=600, deadline=None)
@given(
    definer=valid_uscc,
    sequence=st.integers(0, 999),
    issuer=valid_uscc,
    serial=st.text(A36, min_size=1, max_size=identifier.SERIAL_MAX_LENGTH),
    version=st.integers(1, 999),
)
def test_built_identifiers_match_stdnum_and_round_trip(
    definer: str, sequence: int, issuer: str, serial: str, version: int
) -> None:
    assert stdnum_uscc.is_valid(definer) and stdnum_uscc.is_valid(issuer)
    ident = build(f"{definer}{sequence:03d}", issuer, serial, version)
    assert ident.check == stdnum_mod_37_36.calc_check_digit(ident.body)
    assert stdnum_mod_37_36.is_valid(ident.body + ident.check)
    assert parse(str(ident)) == ident


@settings(max_examples=600, deadline=None)
@given(st.text(A36, min_size=1, max_size=80))
def test_mod_37_36_equals_stdnum_on_any_body(body: str) -> None:
    assert mod_37_36_check(body) == stdnum_mod_37_36.calc_check_digit(body)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, 52), replacement=st.sampled_from(A36))
def test_any_single_substitution_in_the_body_is_refused(position: int, replacement: str) -> None:
    ident = parse(EXAMPLE_U)
    body = ident.body
    if body[position] == replacement:
        return
    mutated = body[:position] + replacement + body[position + 1 :]
    text = f"{identifier.ROOT}.{mutated[:21]}.{mutated[21:39]}.{mutated[39:50]}.{mutated[50:]}.U"
    with pytest.raises(InvalidInput):
        parse(text)


def test_characters_outside_the_alphabet_are_refused_by_the_check_function() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        mod_37_36_check("abc")
    assert rule_of(excinfo) == "identifier character set"


# --- USCC ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", VALID_USCCS)
def test_spec_uscc_examples_are_valid(code: str) -> None:
    assert uscc.validate(code) == code
    assert uscc.validate(f" {code.lower()} ") == code


def test_uscc_worked_example_sum_is_538() -> None:
    code = "91110000600037341L"
    total = sum(A31.index(c) * w for c, w in zip(code[:17], uscc.WEIGHTS, strict=True))
    assert total == 538
    assert uscc.check_character(code[:17]) == "L"
    assert tuple(3**i % 31 for i in range(17)) == uscc.WEIGHTS
    assert uscc.organisation_code_check("60003734") == "1"


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("91110000600037341M", "USCC check character"),
        ("91110000600037342L", "organisation code check digit"),
        ("91110000600037341", "USCC length"),
        ("91110000600037341LL", "USCC length"),
        ("9111000060003734IL", "USCC character set"),
        ("91110000600O37341L", "USCC character set"),
        ("911A0000600037341L", "USCC administrative division"),
        ("91350100M0001TGQXM", "USCC check character"),  # the known pilot code (spec §6.6)
    ],
)
def test_mutated_usccs_are_refused_naming_the_rule(code: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        uscc.validate(code, field="holder")
    assert rule_of(excinfo) == rule
    assert excinfo.value.extra["field"] == "holder"


def test_org_code_mutation_with_a_recomputed_uscc_check_is_caught_by_gb_11714() -> None:
    first17 = "9111000060003734" + "2"
    code = first17 + uscc.check_character(first17)
    assert stdnum_uscc.is_valid(code)  # stdnum does not look at the embedded organisation code
    with pytest.raises(InvalidInput) as excinfo:
        uscc.validate(code)
    assert rule_of(excinfo) == "organisation code check digit"


def test_legacy_switch_accepts_the_pilot_code_but_not_garbage() -> None:
    assert uscc.validate("91350100M0001TGQXM", allow_legacy=True) == "91350100M0001TGQXM"
    for bad in ("91350100M0001TGQX", "91350100M0001TGQXI", "9135O100M0001TGQXM"):
        with pytest.raises(InvalidInput):
            uscc.validate(bad, allow_legacy=True)


def test_letter_authority_codes_are_accepted_unlike_stdnum() -> None:
    first17 = "N2110000600037341"
    code = first17 + uscc.check_character(first17)
    assert uscc.is_valid(code)
    assert not stdnum_uscc.is_valid(code)


def _org_ok(code: str) -> bool:
    total = sum(A36.index(c) * w for c, w in zip(code[8:16], (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    return "0123456789X0"[11 - total % 11] == code[16]


@settings(max_examples=600, deadline=None)
@given(
    prefix=st.text("0123456789", min_size=8, max_size=8),
    org=st.text(A31, min_size=8, max_size=8),
    fix_org=st.booleans(),
    org_check=st.sampled_from(A31),
    fix_check=st.booleans(),
    check=st.sampled_from(A31),
)
def test_uscc_validity_equals_stdnum_plus_the_organisation_code_check(
    prefix: str, org: str, fix_org: bool, org_check: str, fix_check: bool, check: str
) -> None:
    first17 = prefix + org + (uscc.organisation_code_check(org) if fix_org else org_check)
    code = first17 + (stdnum_uscc.calc_check_digit(first17) if fix_check else check)
    assert uscc.is_valid(code) == (stdnum_uscc.is_valid(code) and _org_ok(code))


# --- citizen ID ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth", "sex", "region"),
    [
        ("11010519491231002X", date(1949, 12, 31), Sex.FEMALE, "110105"),
        ("440524188001010014", date(1880, 1, 1), Sex.MALE, "440524"),
        ("360426199101010071", date(1991, 1, 1), Sex.MALE, "360426"),
    ],
)
def test_spec_citizen_id_examples_are_valid(number: str, birth: date, sex: Sex, region: str) -> None:
    cid = citizen_id.validate(number, today=TODAY)
    assert (cid.number, cid.birth_date, cid.sex, cid.region) == (number, birth, sex, region)


def test_citizen_id_worked_example_sum_is_167() -> None:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert sum(int(c) * w for c, w in zip("11010519491231002", weights, strict=True)) == 167
    assert citizen_id.validate("11010519491231002x", today=TODAY).number == "11010519491231002X"


def _with_check(first17: str) -> str:
    return first17 + citizen_id.check_character(first17)


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("110105194912310021", "citizen ID check character"),
        ("440524188001010015", "citizen ID check character"),
        (_with_check("11010519490231002"), "citizen ID birth date"),
        (_with_check("11010519491301002"), "citizen ID birth date"),
        (_with_check("11010520260103002"), "citizen ID birth date in the future"),
        ("11010519491231002", "citizen ID length"),
        ("1101051949123100XX", "citizen ID character set"),
        ("11010519491231002Y", "citizen ID character set"),
        (_with_check("01010519491231002"), "citizen ID address code"),
    ],
)
def test_mutated_citizen_ids_are_refused_naming_the_rule(number: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        citizen_id.validate(number, today=TODAY, field="holder_id")
    assert rule_of(excinfo) == rule
    assert excinfo.value.extra["field"] == "holder_id"


def test_today_is_injected() -> None:
    number = _with_check("11010520260102002")
    assert citizen_id.validate(number, today=date(2026, 1, 2)).birth_date == date(2026, 1, 2)
    with pytest.raises(InvalidInput):
        citizen_id.validate(number, today=date(2026, 1, 1))


@settings(max_examples=600, deadline=None)
@given(
    region=st.sampled_from(["110105", "310101"]),
    year=st.integers(1900, 2025),
    month=st.integers(1, 12),
    day=st.integers(1, 31),
    order=st.integers(0, 999),
    fix_check=st.booleans(),
    check=st.sampled_from("0123456789X"),
)
def test_citizen_id_validity_equals_stdnum(
    region: str, year: int, month: int, day: int, order: int, fix_check: bool, check: str
) -> None:
    first17 = f"{region}{year:04d}{month:02d}{day:02d}{order:03d}"
    number = first17 + (stdnum_ric.calc_check_digit(first17 + "0") if fix_check else check)
    try:
        citizen_id.validate(number, today=TODAY)
        ours = True
    except InvalidInput:
        ours = False
    assert ours == stdnum_ric.is_valid(number)
