"""Settings from the environment over <home>/trustsvc.toml over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustsvc.config import (
    DEFAULT_MAX_CONTENT_LENGTH,
    PLACEHOLDER_REGION_CODE,
    Settings,
    placeholder_warnings,
    redact_url,
)
from trustsvc.errors import ConfigurationError

USCC = "91110000600037341L"
MASTER_KEY_HEX = "ab" * 32


def test_defaults_put_everything_under_an_absolute_home(tmp_path: Path) -> None:
    s = Settings.from_env({"TRUSTSVC_HOME": str(tmp_path / "h" / ".." / "home")})
    assert s.home == (tmp_path / "home").resolve()
    assert s.home.is_absolute()
    assert s.database_url == f"sqlite:///{s.home / 'trustsvc.db'}"
    assert s.keystore == "software"
    assert s.master_key_file == s.home / "master.key"
    assert s.keys_dir == s.home / "keys"
    assert s.master_key is None
    assert s.public_base_url == "http://127.0.0.1:8080"
    assert s.max_content_length == DEFAULT_MAX_CONTENT_LENGTH
    assert (s.region_code, s.org_code, s.org_name) == ("", "", "")


def test_default_home_is_dot_trustsvc_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).home == tmp_path.resolve() / ".trustsvc"


def test_environment_is_read_from_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTSVC_HOME", str(tmp_path))
    monkeypatch.setenv("TRUSTSVC_ORG_NAME", "浙江省大数据发展管理局")
    s = Settings.from_env()
    assert s.home == tmp_path.resolve()
    assert s.org_name == "浙江省大数据发展管理局"


def test_environment_overrides_toml_which_overrides_defaults(tmp_path: Path) -> None:
    (tmp_path / "trustsvc.toml").write_text(
        'public_base_url = "https://trust.example.gov.cn/"\n'
        'region_code = "330000"\n'
        f'org_code = "{USCC}"\n'
        'org_name = "from toml"\n'
        'master_key_file = "secrets/mk.bin"\n'
        "max_content_length = 1048576\n",
        encoding="utf-8",
    )
    s = Settings.from_env({"TRUSTSVC_HOME": str(tmp_path), "TRUSTSVC_ORG_NAME": "from env"})
    assert s.public_base_url == "https://trust.example.gov.cn"  # trailing slash dropped
    assert s.region_code == "330000"
    assert s.org_code == USCC
    assert s.org_name == "from env"
    assert s.master_key_file == tmp_path.resolve() / "secrets" / "mk.bin"
    assert s.max_content_length == 1048576


def test_postgresql_and_pkcs11_settings(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "TRUSTSVC_HOME": str(tmp_path),
            "TRUSTSVC_DATABASE_URL": "postgresql://trust:pw@db.internal/trust",
            "TRUSTSVC_KEYSTORE": "pkcs11",
            "TRUSTSVC_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
            "TRUSTSVC_PKCS11_TOKEN": "trustsvc",
            "TRUSTSVC_PKCS11_PIN": "1234",
            "TRUSTSVC_MAX_CONTENT_LENGTH": "2048",
        }
    )
    assert s.keystore == "pkcs11"
    assert s.pkcs11_pin == "1234"
    assert s.max_content_length == 2048


def test_repr_hides_secrets(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "TRUSTSVC_HOME": str(tmp_path),
            "TRUSTSVC_DATABASE_URL": "postgresql://trust:dbsecret@db.internal/trust",
            "TRUSTSVC_KEYSTORE": "pkcs11",
            "TRUSTSVC_PKCS11_MODULE": "/m.so",
            "TRUSTSVC_PKCS11_TOKEN": "t",
            "TRUSTSVC_PKCS11_PIN": "pin-secret-9876",
            "TRUSTSVC_MASTER_KEY": MASTER_KEY_HEX,
        }
    )
    assert s.master_key == MASTER_KEY_HEX  # the value is there for the key store ...
    text = repr(s) + str(s)
    for secret in ("pin-secret-9876", MASTER_KEY_HEX, "dbsecret"):
        assert secret not in text  # ... but never printed
    assert "pkcs11_pin=<set>" in text
    assert "master_key=<set>" in text
    assert "postgresql://trust:***@db.internal/trust" in text


def test_redact_url_leaves_urls_without_password_alone() -> None:
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert redact_url("postgresql://u:p@h:5432/d") == "postgresql://u:***@h:5432/d"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRUSTSVC_KEYSTORE": "vault"}, "keystore must be one of"),
        ({"TRUSTSVC_KEYSTORE": "pkcs11", "TRUSTSVC_PKCS11_MODULE": "/m.so"}, "TRUSTSVC_PKCS11_TOKEN"),
        ({"TRUSTSVC_DATABASE_URL": "mysql://u@h/d"}, "database_url"),
        ({"TRUSTSVC_PUBLIC_BASE_URL": "ftp://example.org"}, "public_base_url"),
        ({"TRUSTSVC_PUBLIC_BASE_URL": "trust.example.org"}, "public_base_url"),
        ({"TRUSTSVC_REGION_CODE": "33"}, "region_code"),
        ({"TRUSTSVC_ORG_CODE": "91110000600037341X"}, "org_code"),
        ({"TRUSTSVC_MAX_CONTENT_LENGTH": "lots"}, "max_content_length"),
        ({"TRUSTSVC_MAX_CONTENT_LENGTH": "0"}, "max_content_length"),
    ],
)
def test_bad_values_are_configuration_errors(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({"TRUSTSVC_HOME": str(tmp_path), **env})


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('databse_url = "sqlite://"\n', "unknown setting.*databse_url"),
        (f'master_key = "{MASTER_KEY_HEX}"\n', "unknown setting.*master_key"),
        ("region_code = 330000\n", "region_code must be a string"),
        ("region_code = \n", "cannot read"),
    ],
)
def test_bad_toml_is_a_configuration_error(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "trustsvc.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({"TRUSTSVC_HOME": str(tmp_path)})


def test_settings_can_be_built_directly(tmp_path: Path) -> None:
    s = Settings.build(tmp_path, org_name="x")
    assert s.database_url.startswith("sqlite:///")
    with pytest.raises(ConfigurationError, match="unknown setting"):
        Settings.build(tmp_path, colour="blue")


def _region_warnings(s: Settings) -> list[str]:
    return [w for w in placeholder_warnings(s) if "region_code" in w]


def test_unset_region_code_is_named_as_the_placeholder_esids_carry(tmp_path: Path) -> None:
    from trustsvc.seal.registry import UNSET_REGION_CODE

    assert PLACEHOLDER_REGION_CODE == UNSET_REGION_CODE
    (warning,) = _region_warnings(Settings.from_env({"TRUSTSVC_HOME": str(tmp_path)}))
    assert PLACEHOLDER_REGION_CODE in warning
    assert "set TRUSTSVC_REGION_CODE to your GB/T 2260 code" in warning


@pytest.mark.parametrize("code", ["330000", "330102", "110000"])
def test_a_six_digit_region_code_is_kept_and_silences_the_warning(tmp_path: Path, code: str) -> None:
    s = Settings.from_env({"TRUSTSVC_HOME": str(tmp_path), "TRUSTSVC_REGION_CODE": code})
    assert s.region_code == code
    assert _region_warnings(s) == []


@pytest.mark.parametrize("code", ["33", "3300000", "33000A", "33 000", "000000", "３３００００"])
def test_a_malformed_region_code_is_refused_naming_the_variable(tmp_path: Path, code: str) -> None:
    with pytest.raises(ConfigurationError, match=r"TRUSTSVC_REGION_CODE.*GB/T 2260"):
        Settings.from_env({"TRUSTSVC_HOME": str(tmp_path), "TRUSTSVC_REGION_CODE": code})
    with pytest.raises(ConfigurationError, match="TRUSTSVC_REGION_CODE"):
        Settings.build(tmp_path, region_code=code)
