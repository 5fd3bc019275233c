"""SSH to network gear: running-config backups and CLI facts (netmiko + ntc-templates).

``session.fetch()`` is the only I/O (run it in a worker thread); everything else is pure:
``config_text`` normalises, masks, hashes and diffs configs, ``facts`` turns command outputs into
Dozor's fact records, ``platforms`` holds the device knowledge loaded from ``platforms.yaml``.
"""

from collector.sources.ssh.config_text import (
    MASK,
    check_config,
    config_diff,
    config_digest,
    mask_secrets,
    normalize_config,
)
from collector.sources.ssh.errors import CliError, ErrorKind, HostKeyChanged, ParseError
from collector.sources.ssh.facts import Facts, merge_version, parse_facts
from collector.sources.ssh.platforms import Platform, platform, platforms
from collector.sources.ssh.session import CliResult, Credentials, Target, fetch, host_key_fingerprint

__all__ = [
    "MASK",
    "CliError",
    "CliResult",
    "Credentials",
    "ErrorKind",
    "Facts",
    "HostKeyChanged",
    "ParseError",
    "Platform",
    "Target",
    "check_config",
    "config_diff",
    "config_digest",
    "fetch",
    "host_key_fingerprint",
    "mask_secrets",
    "merge_version",
    "normalize_config",
    "parse_facts",
    "platform",
    "platforms",
]
