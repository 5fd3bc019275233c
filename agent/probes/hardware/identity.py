"""The SMBIOS system UUID as both system probes report it: with MachineGuid (Windows) or
machine-id (Linux) it tells PCs imaged from one master apart, so firmware filler must not pass."""

from __future__ import annotations

import re
import uuid

from agent.probes.base import text

# Filler UUIDs that boards of many PCs share: all zero, all ones, and AMI's sequence left unset by
# the maker (03000200-0400-0500-0006-000700080009, seen on thousands of boards).
PLACEHOLDER_UUIDS = frozenset(
    {
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "03000200-0400-0500-0006-000700080009",
    }
)


def smbios_uuid(value: object) -> str | None:
    """A UUID in lower case (``{…}`` and blanks dropped); None for filler or anything else."""
    cleaned = (text(value) or "").strip("{}").lower()
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", cleaned):
        return None
    return None if cleaned in PLACEHOLDER_UUIDS else str(uuid.UUID(cleaned))
