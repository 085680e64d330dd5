"""Independent command line tools the interop tests drive: finding them, and the openssl runner.

A missing tool is a skip whose reason names the tool (:func:`require_tool`); tests/conftest.py turns such
skips into failures when ``TRUSTSVC_TEST_REQUIRE_TOOLS=1`` (CI), so tests need no fail-instead-of-skip logic
of their own. The ``openssl`` fixture (an :class:`OpenSSL` working in ``tmp_path``) is in tests/conftest.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

#: The GM/T 0009 default SM2 user ID, as openssl's ``-sigopt``/``-vfyopt`` want it.
DISTID = "distid:1234567812345678"


def require_tool(name: str) -> str:
    """Return the path of the command ``name``; skip the test, naming the tool, if it is not on PATH."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed")
    return path


class OpenSSL:
    """The openssl binary, run in one working directory (text output)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args],
            cwd=self.workdir,
            capture_output=True,
            check=False,
            text=True,
            encoding="utf-8",
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args)
        assert result.returncode == 0, f"openssl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def write(self, name: str, data: bytes) -> str:
        (self.workdir / name).write_bytes(data)
        return name


def hex_serial(serial: int) -> str:
    """A serial number as ``openssl crl -text``/``openssl x509 -text`` prints it: upper-case, even length."""
    digits = f"{serial:X}"
    return digits if len(digits) % 2 == 0 else "0" + digits
