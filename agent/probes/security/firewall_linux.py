"""security.firewall on Linux: the packet filter as the kernel holds it — ``nft -j list ruleset``
(iptables-nft, firewalld and ufw rules all end up there), else ``iptables-save`` (legacy iptables) —
plus ufw's own view where ufw is installed. One profile per tool: ``nftables``, ``iptables``, ``ufw``.

A filter is enabled when an input-hook chain drops by default or holds rules; inbound is blocked
when such a chain drops by default or ends with an unconditional drop/reject. Reading the rules
needs root. With no tool at all (nft, iptables, ufw), nothing can have set rules: the kernel's
filter is reported as profile ``netfilter``, off — so that "firewall off" shows, instead of nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent.probes.base import ProbeFailure, Raw, load_json
from agent.probes.linux import find_tool, run_tool
from agent.schema.report import FirewallProfile

UFW = "ufw-status"
NFT = "nft-ruleset.json"
IPTABLES = "iptables-save"
_VERDICTS = {"drop", "reject"}
# Statements that do not make a rule conditional.
_PASSIVE = {"counter", "log", "limit"}
_IPTABLES_BLOCK_ALL = re.compile(r"-A INPUT -j (DROP|REJECT)( --reject-with \S+)?")


@dataclass(frozen=True)
class InputChain:
    drops_by_default: bool
    rules: int
    ends_blocking: bool


def collect() -> dict[str, str | bytes]:
    commands: list[tuple[str, str, tuple[str, ...]]] = [(UFW, "ufw", ("status", "verbose"))]
    if find_tool("nft"):
        commands.append((NFT, "nft", ("-j", "list", "ruleset")))
    else:
        commands.append((IPTABLES, "iptables-save", ()))
    raw: dict[str, str | bytes] = {}
    failure: ProbeFailure | None = None
    for key, tool, args in commands:
        if not find_tool(tool):
            continue
        try:
            raw[key] = run_tool(tool, *args)
        except ProbeFailure as exc:
            failure = failure or exc
    if failure is not None and not raw:
        raise failure
    return raw


def _profile(name: str, chains: list[InputChain]) -> FirewallProfile:
    blocking = any(chain.drops_by_default or chain.ends_blocking for chain in chains)
    return FirewallProfile(
        profile=name,
        enabled=any(chain.drops_by_default or chain.rules for chain in chains),
        default_inbound="block" if blocking else "allow",
    )


def _nft_chains(ruleset: Any) -> list[InputChain]:
    items = ruleset.get("nftables", []) if isinstance(ruleset, dict) else []
    rules: dict[tuple[str, str, str], list[list[dict[str, Any]]]] = {}
    for item in items:
        if rule := item.get("rule"):
            rules.setdefault((rule.get("family"), rule.get("table"), rule.get("chain")), []).append(
                rule.get("expr", [])
            )
    chains = []
    for item in items:
        chain = item.get("chain", {})
        if chain.get("type") != "filter" or chain.get("hook") != "input":
            continue
        body = rules.get((chain.get("family"), chain.get("table"), chain.get("name")), [])
        last = {key for statement in body[-1] for key in statement} if body else set()
        chains.append(
            InputChain(
                drops_by_default=chain.get("policy") == "drop",
                rules=len(body),
                ends_blocking=bool(last & _VERDICTS) and last <= _VERDICTS | _PASSIVE,
            )
        )
    return chains


def _iptables_chains(output: str) -> list[InputChain]:
    """The INPUT chain of the ``*filter`` table."""
    policy, rules = None, []
    table = None
    for line in output.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif table == "filter" and line.startswith(":INPUT "):
            policy = line.split()[1]
        elif table == "filter" and line.startswith("-A INPUT "):
            rules.append(line)
    if policy is None:
        return []
    ends = (
        bool(rules) and re.fullmatch(r"-A INPUT -j (DROP|REJECT)( --reject-with \S+)?", rules[-1]) is not None
    )
    return [InputChain(drops_by_default=policy == "DROP", rules=len(rules), ends_blocking=ends)]


def _ufw(output: str) -> FirewallProfile:
    active = re.search(r"^Status:\s*active\b", output, re.MULTILINE) is not None
    incoming = re.search(r"^Default:.*?\b(\w+) \(incoming\)", output, re.MULTILINE)
    inbound = "unknown"
    if active and incoming:
        inbound = "allow" if incoming[1] == "allow" else "block"
    return FirewallProfile(profile="ufw", enabled=active, default_inbound=inbound)


def parse(raw: Raw) -> dict[str, Any]:
    profiles = []
    if NFT in raw:
        profiles.append(_profile("nftables", _nft_chains(load_json(raw, NFT))))
    if IPTABLES in raw:
        profiles.append(_profile("iptables", _iptables_chains(str(raw[IPTABLES]))))
    if UFW in raw:
        profiles.append(_ufw(str(raw[UFW])))
    if not raw:
        profiles.append(FirewallProfile(profile="netfilter", enabled=False, default_inbound="allow"))
    return {"firewall": profiles}
