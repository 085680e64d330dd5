"""Settings: where the service keeps its state and how it presents itself.

Values come from ``TRUSTSVC_*`` environment variables, over an optional ``<home>/trustsvc.toml``, over
defaults. The home directory itself can only come from the environment (the TOML file lives in it).

Secrets (the PKCS#11 PIN, the master key value, the person pseudonym key, a database password) never
appear in ``repr()``.

Certificate authority settings and their placeholders:

* ``certificate_policy_oid`` and ``seal_making_oid`` default to OIDs under 1.3.6.1.4.1.32473, the enterprise
  number RFC 5612 reserves for documentation (see :mod:`trustsvc.ca.profiles`); a production deployment
  sets OIDs under an arc it owns. :func:`placeholder_warnings` names every placeholder still in use and the
  service logs them at start-up.
* ``org_name`` and ``org_code`` (the operator's unified social credit code) name the organisation in the
  subjects of the CA, OCSP, TSA and seal-maker certificates ``trustsvc init`` makes. Left empty, those
  certificates carry :data:`PLACEHOLDER_ORG_NAME` and :data:`PLACEHOLDER_ORG_USCC` (a code that passes
  the GB 32100 check, taken from the published examples, and belongs to no operator of this service):
  set both before the first ``trustsvc init`` — CA certificates are not re-issued when they change.
* ``person_pseudonym_key`` (the HMAC-SM3 key behind person-certificate pseudonyms) comes only from
  ``TRUSTSVC_PERSON_PSEUDONYM_KEY`` (hex, at least 16 bytes) or from ``<home>/pseudonym.key``, created by
  ``trustsvc init``; never from the TOML file. It must stay the same for the life of the CA.
* ``crl_refresh_seconds`` (default 1 h): a stored CRL is re-made once it is this old; ``crl_validity_seconds``
  (default 24 h): nextUpdate - thisUpdate.
* ``ocsp_refresh_seconds`` / ``ocsp_validity_seconds``: the same two for pre-signed OCSP responses (defaults
  as for CRLs: re-signed after 1 h, nextUpdate 24 h after producedAt; see :mod:`trustsvc.ca.status`).
* ``tsa_policy_oid`` (default a placeholder under the RFC 5612 arc, named by :func:`placeholder_warnings`)
  and ``tsa_accuracy_ms`` (default 1000: tokens state an accuracy of 1 s) shape every time-stamp token.
* ``region_code`` (``TRUSTSVC_REGION_CODE``): the service's GB/T 2260 administrative division code, six
  digits (a province-level service ends in ``0000``), e.g. 330000. It begins every esID the seal registry
  makes and names the territory in our trust list; left empty, esIDs carry the placeholder
  :data:`PLACEHOLDER_REGION_CODE` and :func:`placeholder_warnings` says so. ``000000`` is no territory
  and is refused. Set it before the first seal is made: esIDs are not renumbered.
* ``region_name`` (e.g. 某省) names the territory in our trust list next to ``region_code``;
  ``trust_list_refresh_seconds`` (default 24 h): the published trust list is re-signed once it is this old;
  ``trust_list_validity_seconds`` (default 7 days): its nextUpdate - issued_at (see
  :mod:`trustsvc.verify.trustlist`).
* ``fetch_timeout`` (default 10 s) and ``fetch_max_bytes`` (default 4 MiB) bound every status answer the
  verification engine fetches from another issuer (OCSP, CRL, seal status; see :mod:`trustsvc.verify.status`).
  Loopback and private addresses are allowed: that is how two instances on one machine talk.
"""

from __future__ import annotations

import os
import re
import secrets
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
PSEUDONYM_KEY_FILE_NAME = "pseudonym.key"
PSEUDONYM_KEY_SIZE = 32
MIN_PSEUDONYM_KEY_SIZE = 16

# The same placeholders as trustsvc.ca.profiles.DEFAULT_POLICY_OID / ID_KP_SEAL_MAKING (RFC 5612 arc);
# config may not import the ca package, tests/test_ca_authority.py checks that they agree.
PLACEHOLDER_OID_ARC = "1.3.6.1.4.1.32473"
DEFAULT_CERTIFICATE_POLICY_OID = PLACEHOLDER_OID_ARC + ".1.1"
DEFAULT_SEAL_MAKING_OID = PLACEHOLDER_OID_ARC + ".2.1"
#: Organisation named in the embedded PKI's certificates when ``org_name`` is not set.
PLACEHOLDER_ORG_NAME = "某省政务服务数据管理局"
#: Unified social credit code used when ``org_code`` is not set: valid (GB 32100), an example from the spec.
PLACEHOLDER_ORG_USCC = "11100000000013338W"
DEFAULT_CRL_REFRESH_SECONDS = 3600
DEFAULT_CRL_VALIDITY_SECONDS = 24 * 3600
DEFAULT_OCSP_REFRESH_SECONDS = DEFAULT_CRL_REFRESH_SECONDS
DEFAULT_OCSP_VALIDITY_SECONDS = DEFAULT_CRL_VALIDITY_SECONDS
DEFAULT_TSA_POLICY_OID = PLACEHOLDER_OID_ARC + ".1.2"
DEFAULT_TSA_ACCURACY_MS = 1000
DEFAULT_TRUST_LIST_REFRESH_SECONDS = 24 * 3600
DEFAULT_TRUST_LIST_VALIDITY_SECONDS = 7 * 24 * 3600
DEFAULT_FETCH_TIMEOUT = 10
DEFAULT_FETCH_MAX_BYTES = 4 * 1024 * 1024

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
    "region_name": "TRUSTSVC_REGION_NAME",
    "org_code": "TRUSTSVC_ORG_CODE",
    "org_name": "TRUSTSVC_ORG_NAME",
    "max_content_length": "TRUSTSVC_MAX_CONTENT_LENGTH",
    "certificate_policy_oid": "TRUSTSVC_CERTIFICATE_POLICY_OID",
    "cps_uri": "TRUSTSVC_CPS_URI",
    "seal_making_oid": "TRUSTSVC_SEAL_MAKING_OID",
    "person_pseudonym_key": "TRUSTSVC_PERSON_PSEUDONYM_KEY",
    "crl_refresh_seconds": "TRUSTSVC_CRL_REFRESH_SECONDS",
    "crl_validity_seconds": "TRUSTSVC_CRL_VALIDITY_SECONDS",
    "ocsp_refresh_seconds": "TRUSTSVC_OCSP_REFRESH_SECONDS",
    "ocsp_validity_seconds": "TRUSTSVC_OCSP_VALIDITY_SECONDS",
    "tsa_policy_oid": "TRUSTSVC_TSA_POLICY_OID",
    "tsa_accuracy_ms": "TRUSTSVC_TSA_ACCURACY_MS",
    "trust_list_refresh_seconds": "TRUSTSVC_TRUST_LIST_REFRESH_SECONDS",
    "trust_list_validity_seconds": "TRUSTSVC_TRUST_LIST_VALIDITY_SECONDS",
    "fetch_timeout": "TRUSTSVC_FETCH_TIMEOUT",
    "fetch_max_bytes": "TRUSTSVC_FETCH_MAX_BYTES",
}
# Secret values are deliberately not accepted from the TOML file: a key written next to what it
# protects protects nothing. Use master_key_file (or the environment) instead.
_TOML_KEYS = frozenset(_ENV_VARS) - {"master_key", "person_pseudonym_key"}
_INT_SETTINGS = frozenset(
    {
        "max_content_length",
        "crl_refresh_seconds",
        "crl_validity_seconds",
        "ocsp_refresh_seconds",
        "ocsp_validity_seconds",
        "tsa_accuracy_ms",
        "trust_list_refresh_seconds",
        "trust_list_validity_seconds",
        "fetch_timeout",
        "fetch_max_bytes",
    }
)
_OID_RE = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")

# GB/T 2260 administrative division code: six digits, e.g. 330000 for Zhejiang.
_REGION_CODE = re.compile(r"[0-9]{6}")
#: What esIDs carry while ``region_code`` is unset (trustsvc.seal.registry.UNSET_REGION_CODE): no territory.
PLACEHOLDER_REGION_CODE = "000000"


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
    region_name: str = ""
    org_code: str = ""
    org_name: str = ""
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    certificate_policy_oid: str = DEFAULT_CERTIFICATE_POLICY_OID
    cps_uri: str = ""
    seal_making_oid: str = DEFAULT_SEAL_MAKING_OID
    person_pseudonym_key: str | None = field(default=None, repr=False)
    crl_refresh_seconds: int = DEFAULT_CRL_REFRESH_SECONDS
    crl_validity_seconds: int = DEFAULT_CRL_VALIDITY_SECONDS
    ocsp_refresh_seconds: int = DEFAULT_OCSP_REFRESH_SECONDS
    ocsp_validity_seconds: int = DEFAULT_OCSP_VALIDITY_SECONDS
    tsa_policy_oid: str = DEFAULT_TSA_POLICY_OID
    tsa_accuracy_ms: int = DEFAULT_TSA_ACCURACY_MS
    trust_list_refresh_seconds: int = DEFAULT_TRUST_LIST_REFRESH_SECONDS
    trust_list_validity_seconds: int = DEFAULT_TRUST_LIST_VALIDITY_SECONDS
    fetch_timeout: int = DEFAULT_FETCH_TIMEOUT
    fetch_max_bytes: int = DEFAULT_FETCH_MAX_BYTES

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

    @property
    def pseudonym_key_file(self) -> Path:
        """File holding the person pseudonym key when it does not come from the environment."""
        return self.home / PSEUDONYM_KEY_FILE_NAME

    @property
    def pki_org_name(self) -> str:
        """Organisation name for the embedded PKI's certificates (``org_name`` or the placeholder)."""
        return self.org_name or PLACEHOLDER_ORG_NAME

    @property
    def pki_org_uscc(self) -> str:
        """USCC for the embedded PKI's certificates (``org_code`` or the placeholder)."""
        return self.org_code or PLACEHOLDER_ORG_USCC

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
        for name in _INT_SETTINGS & values.keys():
            values[name] = _positive_int(name, values[name])
        for name, value in values.items():
            if name not in _INT_SETTINGS | {"master_key_file"} and not isinstance(value, str):
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
    if s.region_code and (
        not _REGION_CODE.fullmatch(s.region_code) or s.region_code == PLACEHOLDER_REGION_CODE
    ):
        raise ConfigurationError(
            f"TRUSTSVC_REGION_CODE (region_code) must be a six-digit GB/T 2260 code other than "
            f"{PLACEHOLDER_REGION_CODE}, e.g. 330000, not {s.region_code!r}"
        )
    if s.org_code:
        from stdnum.cn import uscc

        if not uscc.is_valid(s.org_code):
            raise ConfigurationError(
                f"org_code must be a valid unified social credit code (GB 32100), not {s.org_code!r}"
            )
    if s.max_content_length <= 0:
        raise ConfigurationError("max_content_length must be positive")
    for name in ("certificate_policy_oid", "seal_making_oid", "tsa_policy_oid"):
        oid = getattr(s, name)
        if not _OID_RE.fullmatch(oid) or any(int(arc) >= 1 << 32 for arc in oid.split(".")):
            raise ConfigurationError(f"{name} must be a dotted OID with arcs below 2^32, not {oid!r}")
    if s.cps_uri and not s.cps_uri.startswith(("http://", "https://")):
        raise ConfigurationError(f"cps_uri must be an http(s) URL, not {s.cps_uri!r}")
    if s.crl_refresh_seconds >= s.crl_validity_seconds:
        raise ConfigurationError("crl_refresh_seconds must be shorter than crl_validity_seconds")
    if s.trust_list_refresh_seconds >= s.trust_list_validity_seconds:
        raise ConfigurationError(
            "trust_list_refresh_seconds must be shorter than trust_list_validity_seconds"
        )
    if len(s.region_name) > 100:
        raise ConfigurationError("region_name must be at most 100 characters")
    if s.ocsp_refresh_seconds >= s.ocsp_validity_seconds:
        raise ConfigurationError("ocsp_refresh_seconds must be shorter than ocsp_validity_seconds")
    if s.person_pseudonym_key is not None:
        _decode_pseudonym_key(s.person_pseudonym_key, "TRUSTSVC_PERSON_PSEUDONYM_KEY")


def placeholder_warnings(s: Settings) -> list[str]:
    """Return one sentence per placeholder value still in use (logged at start-up)."""
    warnings = []
    if s.certificate_policy_oid.startswith(PLACEHOLDER_OID_ARC + "."):
        warnings.append(
            f"certificate_policy_oid is the documentation placeholder {s.certificate_policy_oid} "
            "(RFC 5612 arc): set TRUSTSVC_CERTIFICATE_POLICY_OID to an OID under an arc you own"
        )
    if s.seal_making_oid.startswith(PLACEHOLDER_OID_ARC + "."):
        warnings.append(
            f"seal_making_oid is the documentation placeholder {s.seal_making_oid}: "
            "set TRUSTSVC_SEAL_MAKING_OID to an OID under an arc you own"
        )
    if s.tsa_policy_oid.startswith(PLACEHOLDER_OID_ARC + "."):
        warnings.append(
            f"tsa_policy_oid is the documentation placeholder {s.tsa_policy_oid}: "
            "set TRUSTSVC_TSA_POLICY_OID to an OID under an arc you own"
        )
    if not s.org_name or not s.org_code:
        warnings.append(
            "org_name/org_code are not set: the embedded PKI names the placeholder organisation "
            f"{PLACEHOLDER_ORG_NAME} ({PLACEHOLDER_ORG_USCC})"
        )
    if not s.region_code:
        warnings.append(
            f"region_code is not set: esIDs carry the placeholder region {PLACEHOLDER_REGION_CODE}; "
            "set TRUSTSVC_REGION_CODE to your GB/T 2260 code"
        )
    return warnings


def load_pseudonym_key(s: Settings, *, create: bool = False) -> bytes:
    """Return the person pseudonym key: from the environment, else ``<home>/pseudonym.key``.

    With ``create`` a missing file is made (32 random bytes, hex, mode 0600, never overwritten).
    """
    if s.person_pseudonym_key is not None:
        return _decode_pseudonym_key(s.person_pseudonym_key, "TRUSTSVC_PERSON_PSEUDONYM_KEY")
    path = s.pseudonym_key_file
    if create and not path.exists():
        text = secrets.token_bytes(PSEUDONYM_KEY_SIZE).hex() + "\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
    try:
        content = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ConfigurationError(
            "no person pseudonym key: set TRUSTSVC_PERSON_PSEUDONYM_KEY or run `trustsvc init` "
            f"to create {path}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {type(exc).__name__}") from None
    return _decode_pseudonym_key(content.strip(), str(path))


def _decode_pseudonym_key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ConfigurationError(f"{where}: the person pseudonym key must be hex") from None
    if len(key) < MIN_PSEUDONYM_KEY_SIZE:
        raise ConfigurationError(
            f"{where}: the person pseudonym key must be at least {MIN_PSEUDONYM_KEY_SIZE} bytes"
        )
    return key
