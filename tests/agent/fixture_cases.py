"""Golden cases for probe parsers: ``tests/fixtures/<probe>/<platform>/<case>/``.

Each case folder holds the raw material a probe's ``collect()`` would return — one file per key,
named exactly as the key (``cpuinfo``, ``dpkg-status``, ``cim.json``…; a name ending in ``.bin`` is
read as bytes, everything else as UTF-8 text) — and ``expected.json``, the fields ``parse()`` must
return. A new case is new files, no new code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXPECTED = "expected.json"


@dataclass(frozen=True)
class Case:
    probe: str
    platform: str
    name: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.probe}/{self.platform}/{self.name}"

    def raw(self) -> dict[str, str | bytes]:
        raw: dict[str, str | bytes] = {}
        for file in sorted(self.path.iterdir()):
            if file.name == EXPECTED or not file.is_file():
                continue
            raw[file.name] = file.read_bytes() if file.suffix == ".bin" else file.read_text("utf-8")
        return raw

    def expected(self) -> Any:
        return json.loads((self.path / EXPECTED).read_text("utf-8"))


def discover_cases(root: Path = FIXTURES) -> list[Case]:
    """Every case folder that has an ``expected.json``."""
    return [
        Case(probe=exp.parents[2].name, platform=exp.parents[1].name, name=exp.parent.name, path=exp.parent)
        for exp in sorted(root.glob(f"*/*/*/{EXPECTED}"))
    ]
