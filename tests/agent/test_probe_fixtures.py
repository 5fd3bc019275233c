"""Every golden case: ``parse(raw)`` of the probe's module for that platform equals ``expected.json``."""

from __future__ import annotations

import msgspec
import pytest

from agent.probes import HEALTH_PROBES, INVENTORY_PROBES
from tests.agent.fixture_cases import Case, discover_cases

PROBES = {probe.name: probe for probe in (*INVENTORY_PROBES, *HEALTH_PROBES)}
CASES = discover_cases()


def test_cases_exist_for_known_probes() -> None:
    assert CASES, "no golden cases found under tests/fixtures"
    unknown = sorted({case.probe for case in CASES} - PROBES.keys())
    assert not unknown, f"fixture folders name probes that do not exist: {unknown}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_parse_matches_expected(case: Case) -> None:
    module = PROBES[case.probe].load(case.platform)
    assert module is not None, f"{case.probe} has no module for {case.platform}"
    fields = module.parse(case.raw())
    assert msgspec.to_builtins(fields) == case.expected()
