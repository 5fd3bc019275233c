"""Running configs as text: normalise, mask secrets, hash, diff. Pure functions, no I/O.

A config is stored when its *normalised* text changed, so lines that move without a configuration
change (timestamps, NTP drift, byte counts) are dropped before hashing. Secrets are masked where a
person reads a config or a diff: the secret itself becomes ``MASK`` and the rest of the line stays,
so a diff still says *which* password or community changed.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from functools import cache

from collector.sources.ssh.errors import ParseError
from collector.sources.ssh.platforms import SecretRule, platform

MASK = "<masked>"


@cache
def _volatile(name: str) -> re.Pattern[str] | None:
    patterns = platform(name).volatile
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


@cache
def _secret_rules(name: str) -> tuple[tuple[re.Pattern[str], re.Pattern[str] | None], ...]:
    rules = (r if isinstance(r, SecretRule) else SecretRule(pattern=r) for r in platform(name).secrets)
    return tuple((re.compile(r.pattern), re.compile(r.within) if r.within else None) for r in rules)


def normalize_config(platform_name: str, text: str) -> str:
    """The config as stored and hashed: volatile lines dropped, line endings, trailing spaces and
    surrounding blank lines tidied."""
    volatile = _volatile(platform_name)
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if not (volatile and volatile.search(line))]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def mask_secrets(platform_name: str, text: str) -> str:
    """``text`` with every secret the platform knows of replaced by ``MASK``, line by line."""
    rules = _secret_rules(platform_name)
    section_header = platform(platform_name).section
    header_re = re.compile(section_header) if section_header else None
    section = ""
    masked: list[str] = []
    for line in text.split("\n"):
        if header_re and header_re.search(line):
            section = line.strip()
        for pattern, within in rules:
            if within is None or within.search(section):
                line = pattern.sub(_mask_group, line)
        masked.append(line)
    return "\n".join(masked)


def _mask_group(match: re.Match[str]) -> str:
    """The whole match with its first group (the secret) replaced by the mask."""
    start, end = match.span(1)
    if start < 0:
        return match.group(0)
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + MASK + whole[end - offset :]


def config_digest(normalized: str) -> str:
    """sha256 hex of a normalised config: equal digests mean no configuration change."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def config_diff(
    old: str,
    new: str,
    *,
    platform_name: str,
    raw: bool = False,
    old_label: str = "old",
    new_label: str = "new",
    context: int = 3,
) -> str:
    """Unified diff of two normalised configs; secrets masked unless ``raw`` (admin only) is asked.

    Lines are compared unmasked and shown masked, so a changed secret still shows as a changed
    line (``-… <masked>`` / ``+… <masked>``) without showing either value. Empty if equal.
    """
    old_lines, new_lines = old.splitlines(), new.splitlines()
    old_shown, new_shown = old_lines, new_lines
    if not raw:
        old_shown = mask_secrets(platform_name, old).splitlines()
        new_shown = mask_secrets(platform_name, new).splitlines()
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if not out:
            out += [f"--- {old_label}", f"+++ {new_label}"]
        (_, i1, _, j1, _), (_, _, i2, _, j2) = group[0], group[-1]
        out.append(f"@@ -{_hunk_range(i1, i2)} +{_hunk_range(j1, j2)} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += [" " + line for line in old_shown[a1:a2]]
                continue
            out += ["-" + line for line in old_shown[a1:a2]]
            out += ["+" + line for line in new_shown[b1:b2]]
    return "\n".join(out) + "\n" if out else ""


def _hunk_range(start: int, stop: int) -> str:
    """A hunk header range as ``diff -u`` writes it (1-based start, length if not 1)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def check_config(platform_name: str, text: str) -> None:
    """Refuse output that is not a running config of the platform, so it is never stored.

    Binary junk, a CLI error reply, a pager prompt or text without a single line every config of
    the platform has all raise ``ParseError``.
    """
    spec = platform(platform_name)
    if not text.strip():
        raise ParseError("the device printed an empty configuration")
    printable = sum(ch.isprintable() or ch in "\t\n\r" for ch in text)
    if printable < 0.98 * len(text):
        raise ParseError("configuration output contains binary data")
    if any(re.search(p, text, re.MULTILINE) for p in spec.errors):
        raise ParseError(f"the device rejected {spec.config_command!r}")
    if not re.search(spec.config_marker, text, re.MULTILINE):
        raise ParseError(f"output of {spec.config_command!r} does not look like a {spec.name} config")
