"""A small pure EDID decoder: a monitor's maker, model, serial and date of manufacture from its raw
128/256-byte EDID block (``/sys/class/drm/*/edid`` on Linux, the ``EDID`` registry value of
``DISPLAY\\*\\Device Parameters`` on Windows), so both platforms report monitors the same way.

Layout (VESA E-EDID 1.3/1.4 base block): bytes 8-9 the PNP vendor id (three 5-bit letters, big
endian), 10-11 the product code, 12-15 a numeric serial (little endian), 16 the week, 17 the year
- 1990, and four 18-byte descriptors from byte 54 of which 0xFC holds the model name and 0xFF the
serial number as text.
"""

from __future__ import annotations

from agent.probes.base import hw_text, text
from agent.schema.report import Monitor

HEADER = bytes.fromhex("00ffffffffffff00")
MODEL_NAME = 0xFC
SERIAL_TEXT = 0xFF
_DESCRIPTORS = (54, 72, 90, 108)
FILLER_SERIAL = 0x01010101

PNP_VENDORS = {
    "ACI": "ASUS",
    "ACR": "Acer",
    "AOC": "AOC",
    "APP": "Apple",
    "AUO": "AU Optronics",
    "AUS": "ASUS",
    "BNQ": "BenQ",
    "BOE": "BOE",
    "CMN": "Chimei Innolux",
    "DEL": "Dell",
    "ENC": "EIZO",
    "FUS": "Fujitsu",
    "GBT": "Gigabyte",
    "GSM": "LG",
    "GWY": "Gateway",
    "HEC": "Hisense",
    "HPN": "HP",
    "HWP": "HP",
    "HWV": "Huawei",
    "IVM": "iiyama",
    "LEN": "Lenovo",
    "LGD": "LG Display",
    "MEI": "Panasonic",
    "MSI": "MSI",
    "NEC": "NEC",
    "PHL": "Philips",
    "SAM": "Samsung",
    "SDC": "Samsung Display",
    "SEC": "Samsung",
    "SHP": "Sharp",
    "SNY": "Sony",
    "TSB": "Toshiba",
    "VSC": "ViewSonic",
    "XMI": "Xiaomi",
}
"""PNP ids of common monitor and panel makers; others are reported as the three-letter id."""


def pnp_id(blob: bytes) -> str | None:
    """The three-letter PNP vendor id (``ENC``), or None when the bytes hold no letters."""
    code = int.from_bytes(blob[8:10], "big")
    letters = [(code >> shift) & 0x1F for shift in (10, 5, 0)]
    if not all(1 <= letter <= 26 for letter in letters):
        return None
    return "".join(chr(64 + letter) for letter in letters)


def vendor_name(pnp: str | None) -> str | None:
    """A readable maker for a PNP id (``ENC`` → ``EIZO``); the id itself when it is not known."""
    if pnp is None:
        return None
    return PNP_VENDORS.get(pnp.upper(), pnp.upper())


def descriptor_texts(blob: bytes) -> dict[int, str]:
    """Tag → text of the display descriptors (model name, serial, other strings)."""
    texts: dict[int, str] = {}
    for offset in _DESCRIPTORS:
        block = blob[offset : offset + 18]
        # A display descriptor starts 00 00 00 <tag> 00 (a timing descriptor has a pixel clock).
        if len(block) == 18 and block[0:3] == b"\x00\x00\x00":
            value = text(block[5:].split(b"\x0a", 1)[0].decode("cp437"))
            if value is not None:
                texts.setdefault(block[3], value)
    return texts


def _serial(blob: bytes, pnp: str | None, serial_text: str | None) -> str | None:
    number = int.from_bytes(blob[12:16], "little")
    if serial_text is None:
        # Without a serial descriptor the numeric field is the serial (EIZO prints it in decimal,
        # as WmiMonitorID does); 0x01010101 is a common filler.
        return str(number) if number not in (0, FILLER_SERIAL) else None
    if pnp == "BNQ":
        # BenQ splits the label's serial: its leading letters sit in the numeric field as ASCII.
        prefix = blob[12:16].split(b"\x00", 1)[0].decode("latin-1")
        if prefix.isalpha() and prefix.isupper():
            return prefix + serial_text
    return serial_text


def decode(blob: bytes) -> Monitor | None:
    """The monitor described by an EDID block, or None when ``blob`` is not one."""
    if len(blob) < 128 or not blob.startswith(HEADER):
        return None
    pnp = pnp_id(blob)
    texts = descriptor_texts(blob)
    product = int.from_bytes(blob[10:12], "little")
    week, year = blob[16], blob[17] + 1990
    return Monitor(
        manufacturer=vendor_name(pnp),
        model=texts.get(MODEL_NAME) or (f"{pnp}{product:04X}" if pnp else None),
        serial=hw_text(_serial(blob, pnp, texts.get(SERIAL_TEXT))),
        # Week 0xFF means the year is a model year; week 0 means "not given".
        year_of_manufacture=year if year <= 2100 else None,
        week_of_manufacture=week if 1 <= week <= 54 else None,
    )
