"""hardware.tpm on Linux: ``/sys/class/tpm/tpm0`` exists when the kernel found a TPM;
``tpm_version_major`` (kernel 5.6 and later) says 1 or 2. TPM 1.2 chips also tell whether they are
enabled and active (``device/enabled``, ``device/active``); for TPM 2.0 the kernel does not."""

from __future__ import annotations

from typing import Any

from agent.probes.base import Raw
from agent.probes.linux import first_line, read_files, under
from agent.schema.report import Tpm

PRESENT = "present"
VERSION_MAJOR = "tpm_version_major"
ENABLED = "enabled"
ACTIVE = "active"
VERSIONS = {"1": "1.2", "2": "2.0"}


def collect(sys: str = "/sys") -> dict[str, str | bytes]:
    device = under(sys, "class/tpm/tpm0")
    raw = read_files(
        {
            VERSION_MAJOR: device / "tpm_version_major",
            ENABLED: device / "device/enabled",
            ACTIVE: device / "device/active",
        }
    )
    raw[PRESENT] = "yes" if device.exists() else "no"
    return raw


def _flag(raw: Raw, key: str) -> bool | None:
    value = first_line(raw.get(key))
    return None if value not in ("0", "1") else value == "1"


def parse(raw: Raw) -> dict[str, Any]:
    if first_line(raw.get(PRESENT)) != "yes":
        return {"tpm": Tpm(present=False)}
    version = VERSIONS.get(first_line(raw.get(VERSION_MAJOR)) or "")
    if version is None and (ENABLED in raw or ACTIVE in raw):
        version = "1.2"  # only the TPM 1.2 driver has these attributes
    return {
        "tpm": Tpm(present=True, version=version, enabled=_flag(raw, ENABLED), activated=_flag(raw, ACTIVE))
    }
