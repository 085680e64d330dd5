"""Settings: where the service keeps its state and how it presents itself.

Values come from ``TRUSTSVC_*`` environment variables, over an optional ``<home>/trustsvc.toml``, over
defaults. The home directory itself can only come from the environment (the TOML file lives in it).

Secrets (the PKCS#11 PIN, the master key value, a database password) never appear in ``repr()``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from trustsvc.errors import ConfigurationError

DEFAULT_HOME = "./.trustsvc"
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_MAX_CONTENT_LENGTH = 32 * 1024 * 1024
CONFIG_FILE_NAME = "trustsvc.toml"
KEYSTORE_KINDS = ("software", "pkcs11")

# Settings field -> environment variable. TRUSTSVC_HOME is handled separately.
_ENV_VARS: dict[str, str] = {
    "database_url": "TRUSTSVC_DATABASE_URL",
    "keystore": "TRUSTSVC_KEYSTORE",
    "pkcs11_module": "TRUSTSVC_PKCS11_MODULE",
    "pkcs11_token": "TRUSTSVC_PKCS11_TOKEN",
    "pkcs11_pin": "TRUSTSVC_PKCS11_PIN",
    "master_key": "TRUSTSVC_MASTER_KEY",
    "master_key_file": "TRUSTSVC_MASTER_KEY_FILE",
    "public_base_url": "TRUSTSVC_PUBLIC_BASE_URL",
    "region_code": "TRUSTSVC_REGION_CODE",
    "org_code": "TRUSTSVC_ORG_CODE",
    "org_name": "TRUSTSVC_ORG_NAME",
    "max_content_length": "TRUSTSVC_MAX_CONTENT_LENGTH",
}
# The master key value is deliberately not accepted from the TOML file: a key written next to the
# key store it protects protects nothing. Use master_key_file (or the environment) instead.
_TOML_KEYS = frozenset(_ENV_VARS) - {"master_key"}

# GB/T 2260 administrative division code: six digits, e.g. 330000 for Zhejiang.
_REGION_CODE = re.compile(r"[0-9]{6}")


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything the service needs to know about its deployment."""

    home: Path
    database_url: str
    master_key_file: Path
    keystore: str = "software"
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    pkcs11_pin: str | None = field(default=None, repr=False)
    master_key: str | None = field(default=None, repr=False)
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    region_code: str = ""
    org_code: str = ""
    org_name: str = ""
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH

    def __post_init__(self) -> None:
        _validate(self)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            if not f.repr:
                parts.append(f"{f.name}={'<set>' if getattr(self, f.name) else None}")
            elif f.name == "database_url":
                parts.append(f"database_url={redact_url(self.database_url)!r}")
            else:
                parts.append(f"{f.name}={getattr(self, f.name)!r}")
        return f"Settings({', '.join(parts)})"

    @property
    def keys_dir(self) -> Path:
        """Directory of the software key store."""
        return self.home / "keys"

    @property
    def config_file(self) -> Path:
        return self.home / CONFIG_FILE_NAME

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Return the settings from ``environ`` (default ``os.environ``) over ``<home>/trustsvc.toml``."""
        env = os.environ if environ is None else environ
        home = Path(env.get("TRUSTSVC_HOME") or DEFAULT_HOME).expanduser().resolve()
        values: dict[str, Any] = _read_toml(home / CONFIG_FILE_NAME)
        for name, var in _ENV_VARS.items():
            if env.get(var):
                values[name] = env[var]
        return cls.build(home, **values)

    @classmethod
    def build(cls, home: Path, **values: Any) -> Settings:
        """Return settings for ``home`` with defaults filled in and relative paths resolved against it."""
        unknown = set(values) - set(_ENV_VARS)
        if unknown:
            raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        home = Path(home).expanduser().resolve()
        values.setdefault("database_url", f"sqlite:///{home / 'trustsvc.db'}")
        values["master_key_file"] = _path_under(home, values.get("master_key_file") or "master.key")
        if "max_content_length" in values:
            values["max_content_length"] = _positive_int("max_content_length", values["max_content_length"])
        for name, value in values.items():
            if name not in ("max_content_length", "master_key_file") and not isinstance(value, str):
                raise ConfigurationError(f"setting {name} must be a string, not {type(value).__name__}")
        return cls(home=home, **values)


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    unknown = set(data) - _TOML_KEYS
    if unknown:
        raise ConfigurationError(f"{path}: unknown setting(s): {', '.join(sorted(unknown))}")
    return data


def _path_under(home: Path, value: str | os.PathLike[str]) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else home / path


def _positive_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"setting {name} must be an integer, not {value!r}") from None
    if isinstance(value, bool) or number <= 0:
        raise ConfigurationError(f"setting {name} must be a positive integer, not {value!r}")
    return number


def _validate(s: Settings) -> None:
    scheme = s.database_url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigurationError(
            f"database_url must be a sqlite:// or postgresql:// URL, not {redact_url(s.database_url)!r}"
        )
    if s.keystore not in KEYSTORE_KINDS:
        raise ConfigurationError(f"keystore must be one of {', '.join(KEYSTORE_KINDS)}, not {s.keystore!r}")
    if s.keystore == "pkcs11":
        missing = [
            _ENV_VARS[name]
            for name in ("pkcs11_module", "pkcs11_token", "pkcs11_pin")
            if not getattr(s, name)
        ]
        if missing:
            raise ConfigurationError(f"keystore pkcs11 needs {', '.join(missing)}")
    url = urlsplit(s.public_base_url)
    if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
        raise ConfigurationError(f"public_base_url must be an http(s) URL, not {s.public_base_url!r}")
    if s.public_base_url.endswith("/"):
        object.__setattr__(s, "public_base_url", s.public_base_url.rstrip("/"))
    if s.region_code and not _REGION_CODE.fullmatch(s.region_code):
        raise ConfigurationError(f"region_code must be a six-digit GB/T 2260 code, not {s.region_code!r}")
    if s.org_code:
        from stdnum.cn import uscc

        if not uscc.is_valid(s.org_code):
            raise ConfigurationError(
                f"org_code must be a valid unified social credit code (GB 32100), not {s.org_code!r}"
            )
    if s.max_content_length <= 0:
        raise ConfigurationError("max_content_length must be positive")
