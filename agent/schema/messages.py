"""The small messages around a report: enrollment and the collector's answers."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from agent.schema.report import MachineId, Text


class EnrollRequest(Struct, forbid_unknown_fields=True, omit_defaults=True):
    machine_id: MachineId
    hostname: Text
    secret: Annotated[str, Meta(min_length=1, max_length=256)]
    hardware_uuid: Annotated[str, Meta(pattern=r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")] | None = None
    """The SMBIOS system UUID (lower case), where the agent can read it: PCs imaged from one master
    share their machine id, and this keeps them apart (the collector flags them as clones)."""


class EnrollResponse(Struct):
    device_id: int
    token: str


class IngestResponse(Struct):
    status: Literal["accepted", "duplicate"]
    need_inventory: bool = False
    """True when the report referred to an inventory hash the collector does not hold: send it in full."""


class ErrorResponse(Struct):
    error: str
    """A short reason code, also the ``reason`` label of ``dozor_reports_rejected_total``."""
    detail: str
