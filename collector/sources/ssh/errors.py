"""Named failures of a CLI conversation or of reading its output.

``kind`` is a stable label for a device's error state, metrics and the API; the message says what
happened in words and never carries a credential.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "auth_failed",
    "enable_failed",
    "timeout",
    "connection_refused",
    "unreachable",
    "ssh_error",
    "host_key_changed",
    "unexpected_prompt",
    "pager_left_on",
    "truncated_output",
    "command_rejected",
    "garbage_output",
]


class CliError(Exception):
    """A named failure of one device's CLI session or of one command's output."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: ErrorKind = kind
        self.message = message


class ParseError(CliError):
    """Output that does not read as what the command prints (garbage, cut short, wrong device)."""

    def __init__(self, message: str) -> None:
        super().__init__("garbage_output", message)


class HostKeyChanged(CliError):
    """The device presented a host key other than the recorded one; ``seen`` is that key
    (``<type> <base64>``), kept so that an administrator can accept exactly it."""

    def __init__(self, message: str, seen: str) -> None:
        super().__init__("host_key_changed", message)
        self.seen = seen
