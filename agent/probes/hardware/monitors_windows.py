"""hardware.monitors on Windows: WmiMonitorID (root/wmi), which Windows decodes from each attached
monitor's EDID. Its strings come as zero-padded uint16 arrays; the maker (a 3-letter PnP ID) and a
missing model name are reported as :mod:`agent.probes.hardware.edid` does on Linux, so one monitor
reads the same on both. (Unlike that decoder, WmiMonitorID does not restore BenQ's serial prefix.)
In a VM the class answers "not supported" (WBEM_E_NOT_SUPPORTED): the probe is ``unsupported``
there (see :func:`agent.probes.windows.powershell`), not failed."""

from __future__ import annotations

from typing import Any

from agent.probes.base import ProbeFailure, Raw, hw_text
from agent.probes.hardware.edid import vendor_name
from agent.probes.windows import cim, instances, powershell, to_bool, to_int
from agent.schema.report import Monitor

MONITOR_ID = "WmiMonitorID.json"
# Panels without a serial descriptor report their numeric EDID serial; 0x01010101 is filler.
NO_SERIAL = "16843009"


PIPELINES: dict[str, str] = {
    MONITOR_ID: cim(
        "WmiMonitorID",
        "Active",
        "ManufacturerName",
        "ProductCodeID",
        "SerialNumberID",
        "UserFriendlyName",
        "WeekOfManufacture",
        "YearOfManufacture",
        namespace="root/wmi",
    ),
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""
REQUIRED_PIPELINES = (MONITOR_ID,)


def collect() -> dict[str, str | bytes]:
    return dict(powershell(PIPELINES, required=REQUIRED_PIPELINES))


def decode_uint16(value: Any) -> str | None:
    """``[68, 69, 76, 0, 0]`` → ``"DEL"`` (the characters before the first zero)."""
    if isinstance(value, list):
        chars = []
        for code in value:
            number = to_int(code)
            if not number:
                break
            chars.append(chr(number))
        value = "".join(chars)
    return hw_text(value)


def _monitor(entry: dict[str, Any]) -> Monitor:
    year = to_int(entry.get("YearOfManufacture"))
    week = to_int(entry.get("WeekOfManufacture"))
    serial = decode_uint16(entry.get("SerialNumberID"))
    pnp = decode_uint16(entry.get("ManufacturerName"))
    product = decode_uint16(entry.get("ProductCodeID"))  # the product code in hex, "A0EC"
    return Monitor(
        manufacturer=vendor_name(pnp),
        model=decode_uint16(entry.get("UserFriendlyName"))
        or (f"{pnp}{product.upper()}" if pnp and product else None),
        serial=serial if serial != NO_SERIAL else None,
        year_of_manufacture=year if year and 1990 <= year <= 2100 else None,
        # EDID: week 0 = not given, 0xFF = the year is a model year
        week_of_manufacture=week if week and 1 <= week <= 54 else None,
    )


def parse(raw: Raw) -> dict[str, Any]:
    entries = instances(raw, MONITOR_ID)
    if entries is None:
        raise ProbeFailure("failed", "WmiMonitorID was not collected")
    return {
        "monitors": [_monitor(entry) for entry in entries if to_bool(entry.get("Active")) is not False][:64]
    }
