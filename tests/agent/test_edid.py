"""The EDID decoder on real monitors' EDID blocks (``../shared/testdata``) and on the edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.probes.hardware import edid
from agent.schema.report import Monitor

EDID_DIR = Path("windows/glpi-agent/resources/generic/edid")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # No serial descriptor: the numeric serial, in decimal as on EIZO's label.
        (
            "EV2785",
            Monitor(
                manufacturer="EIZO",
                model="EV2785",
                serial="68056070",
                year_of_manufacture=2020,
                week_of_manufacture=28,
            ),
        ),
        # BenQ keeps the serial's leading letters ("ET") in the numeric field.
        (
            "benq-bl2420-tf",
            Monitor(
                manufacturer="BenQ",
                model="BenQ LCD",
                serial="ETX1J08410019",
                year_of_manufacture=2018,
                week_of_manufacture=5,
            ),
        ),
    ],
)
def test_real_edid_blocks(shared_testdata: Path, name: str, expected: Monitor) -> None:
    assert edid.decode((shared_testdata / EDID_DIR / name).read_bytes()) == expected


def test_pnp_ids_of_the_real_blocks(shared_testdata: Path) -> None:
    assert edid.pnp_id((shared_testdata / EDID_DIR / "EV2785").read_bytes()) == "ENC"
    assert edid.pnp_id((shared_testdata / EDID_DIR / "benq-bl2420-tf").read_bytes()) == "BNQ"


def _block(serial: bytes = bytes(4), week: int = 1, year_byte: int = 30) -> bytes:
    blob = bytearray(128)
    blob[0:8] = edid.HEADER
    blob[8:10] = bytes.fromhex("10ac")  # DEL
    blob[12:16] = serial
    blob[16], blob[17] = week, year_byte
    return bytes(blob)


def test_unknown_vendor_is_reported_by_its_pnp_id() -> None:
    assert edid.vendor_name("ZZZ") == "ZZZ" and edid.vendor_name(None) is None


def test_filler_and_missing_values_become_none() -> None:
    monitor = edid.decode(_block(serial=bytes([1, 1, 1, 1]), week=0xFF, year_byte=200))
    assert monitor == Monitor(manufacturer="Dell", model="DEL0000")


@pytest.mark.parametrize("blob", [b"", bytes(128), b"\x00\xff\xff\xff\xff\xff\xff\x00" + bytes(20)])
def test_what_is_not_an_edid_block_gives_none(blob: bytes) -> None:
    assert edid.decode(blob) is None
