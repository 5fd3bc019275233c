"""The in-memory view of the fleet that ``/metrics`` renders from.

Ingest updates it after each commit; at start and then periodically it is rebuilt from the store,
so a replica also shows hosts whose reports another replica received. Entries are replaced, never
mutated, so a scrape rendering in another thread always sees whole host states.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import msgspec

from agent.schema.report import Hardware, Health, Report, Security
from collector.store.reports import NO_FLAGS, HostFlags


@dataclass(frozen=True)
class HostState:
    device_id: int
    hostname: str
    machine_id: str
    last_seen: float
    """Unix time of the last accepted report."""
    agent_version: str | None = None
    health: Health | None = None
    hardware: Hardware | None = None
    security: Security | None = None
    probe_errors: int = 0
    pending_approval: bool = False
    clone_conflict: bool = False


class Fleet:
    def __init__(self) -> None:
        self._hosts: dict[int, HostState] = {}
        self._lock = threading.Lock()

    def hosts(self) -> list[HostState]:
        with self._lock:
            return list(self._hosts.values())

    def observe(
        self, device_id: int, report: Report, received_at: datetime, flags: HostFlags = NO_FLAGS
    ) -> None:
        """Fold an accepted report into the host's state (and its flags as the store had them)."""
        with self._lock:
            known = self._hosts.get(device_id)
            state = known or HostState(
                device_id=device_id, hostname=report.hostname, machine_id=report.machine_id, last_seen=0.0
            )
            changes: dict[str, Any] = {
                "hostname": report.hostname,
                "last_seen": received_at.timestamp(),
                "agent_version": report.agent_version,
                "probe_errors": len(report.probe_errors),
                "pending_approval": flags.pending_approval,
                "clone_conflict": flags.clone_conflict,
            }
            if report.health is not None:
                changes["health"] = report.health
            if report.inventory is not None:
                changes["hardware"] = report.inventory.hardware
                changes["security"] = report.inventory.security
            self._hosts[device_id] = replace(state, **changes)

    def replace_all(self, states: Iterable[HostState]) -> None:
        fresh = {state.device_id: state for state in states}
        with self._lock:
            self._hosts = fresh

    def merge(self, states: Iterable[HostState]) -> None:
        """Take the store's newer states (reports another replica received); keep fresher own ones."""
        with self._lock:
            for state in states:
                known = self._hosts.get(state.device_id)
                if known is None or known.last_seen < state.last_seen:
                    self._hosts[state.device_id] = state

    def approved(self, device_id: int) -> None:
        with self._lock:
            known = self._hosts.get(device_id)
            if known is not None:
                self._hosts[device_id] = replace(known, pending_approval=False)

    def forget(self, device_id: int) -> None:
        with self._lock:
            self._hosts.pop(device_id, None)


def host_state_from_row(
    device_id: int,
    hostname: str,
    machine_id: str,
    last_seen_at: datetime,
    agent_version: str | None,
    health: dict[str, Any] | None,
    facts: dict[str, Any] | None,
    probe_errors: int,
    pending_approval: bool = False,
    clone_conflict: bool = False,
) -> HostState:
    """A host state rebuilt from what the store keeps (JSON documents validated back into structs)."""
    return HostState(
        device_id=device_id,
        hostname=hostname,
        machine_id=machine_id,
        last_seen=last_seen_at.timestamp(),
        agent_version=agent_version,
        health=msgspec.convert(health, Health) if health else None,
        hardware=msgspec.convert(facts["hardware"], Hardware) if facts and facts.get("hardware") else None,
        security=msgspec.convert(facts["security"], Security) if facts and facts.get("security") else None,
        probe_errors=probe_errors,
        pending_approval=pending_approval,
        clone_conflict=clone_conflict,
    )
