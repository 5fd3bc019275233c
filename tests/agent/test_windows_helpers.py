"""The pure helpers of agent.probes.windows: JSON shapes, dates, value coercion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agent.probes.base import ProbeFailure, hw_text, text
from agent.probes.windows import (
    first_instance,
    instances,
    load_json,
    parse_date,
    parse_datetime,
    to_bool,
    to_int,
)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ('[{"A": 1}, {"A": 2}]', [{"a": 1}, {"a": 2}]),
        ('{"A": 1}', [{"a": 1}]),  # ConvertTo-Json writes one result as an object
        ("", []),  # a pipeline that produced nothing
        ("null", None),
        ('\ufeff[{"A": 1}]', [{"a": 1}]),  # a BOM from a UTF-8 console
        (b'[{"A": 1}, 3, null]', [{"a": 1}]),
        ("42", []),
    ],
)
def test_instances_normalise_powershell_shapes(
    stored: str | bytes, expected: list[dict[str, Any]] | None
) -> None:
    assert instances({"x.json": stored}, "x.json") == expected


def test_instances_absent_key_means_not_collected() -> None:
    assert instances({}, "x.json") is None
    assert first_instance({"x.json": "[]"}, "x.json") is None


def test_instance_names_are_case_insensitive() -> None:
    """Select-Object HotFixId writes "HotFixId" where the class says "HotFixID"."""
    instance = first_instance({"x.json": '{"HotFixId": "KB1"}'}, "x.json")
    assert instance is not None
    assert instance.get("HotFixID") == instance["hotfixid"] == "KB1"
    assert "HOTFIXID" in instance


def test_load_json_rejects_garbage() -> None:
    with pytest.raises(ProbeFailure, match="not JSON"):
        load_json({"x.json": "Get-CimInstance : Access denied"}, "x.json")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Date(1599609600000)/", datetime(2020, 9, 9, tzinfo=UTC)),
        (
            {"value": "/Date(1599609600000)/", "DateTime": "Wednesday, September 9, 2020 12:00:00 AM"},
            datetime(2020, 9, 9, tzinfo=UTC),
        ),
        ("/Date(1599609600000+0300)/", datetime(2020, 9, 9, tzinfo=UTC)),  # the offset is decoration
        ("20200221123221.000000-480", datetime(2020, 2, 21, 20, 32, 21, tzinfo=UTC)),
        ("20130813153755.000000+120", datetime(2013, 8, 13, 13, 37, 55, tzinfo=UTC)),
        ("20200810******.******+***", datetime(2020, 8, 10, tzinfo=UTC)),
        ("2020-02-21T12:32:21-08:00", datetime(2020, 2, 21, 20, 32, 21, tzinfo=UTC)),
        ("2020-11-12T08:09:38.5676300-08:00", datetime(2020, 11, 12, 16, 9, 38, 567630, tzinfo=UTC)),
        ("2020-09-09", datetime(2020, 9, 9, tzinfo=UTC)),
        ("1/15/2011", datetime(2011, 1, 15, tzinfo=UTC)),
        ("20210724", datetime(2021, 7, 24, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),  # Go's zero time, what the TRMM agent writes for NULL
        ("16010101000000.000000+000", None),
        ("20210231", None),
        ("2/30/2020", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (20200909, None),
    ],
)
def test_parse_datetime(value: Any, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20140401000000.000000+000", "2014-04-01"),
        # BIOS dates are UTC midnights: PowerShell's local-time DateTime must not move them a day back
        ("/Date(1575590400000)/", "2019-12-06"),
        ("2019-12-05T17:00:00-07:00", "2019-12-06"),
        ("2020-09-09", "2020-09-09"),
        ("1/15/2011", "2011-01-15"),
        ("not a date", None),
    ],
)
def test_parse_date(value: Any, expected: str | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("TRUE", True),
        ("false", False),
        (1, True),
        ("0", False),
        (2, None),
        ("", None),
        (None, None),
    ],
)
def test_to_bool(value: Any, expected: bool | None) -> None:
    assert to_bool(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), ("34359738368", 34359738368), (" -1 ", -1), (2.0, 2), (2.5, None), (True, None), ("1.5", None)],
)
def test_to_int(value: Any, expected: int | None) -> None:
    assert to_int(value) == expected


def test_text_cleans_registry_strings() -> None:
    assert text("  Microsoft Windows 7 Professionnel ") == "Microsoft Windows 7 Professionnel"
    assert text("1.0\x00garbage") == "1.0"
    assert text("\ud83d broken") == "? broken"
    assert text("x" * 5000) == "x" * 1024
    assert text("") is None and text([1]) is None and text(None) is None
    assert text(42) == "42"


@pytest.mark.parametrize(
    "placeholder",
    [
        "To Be Filled By O.E.M.",
        "Default string",
        "UNKNOWN",
        "Undefined    ",
        "NOT AVAILABLE",
        "00000000",
        "0",
        "None",
    ],
)
def test_hw_text_drops_firmware_placeholders(placeholder: str) -> None:
    assert hw_text(placeholder) is None


def test_hw_text_keeps_real_values() -> None:
    assert hw_text("HP     ") == "HP"
    assert hw_text("ACE4_2E61_9000_7804.") == "ACE4_2E61_9000_7804."
