"""``dozor-collector configs …``: network devices' config backups from the command line.

Thin: it reads and writes the same store as the running collector, through the same store
functions (and ``backup`` runs the same backup code, in this process). Texts and diffs are masked
unless ``--raw`` is given: whoever can run this has the config file and the store anyway, so the
flag is there to keep secrets off screens and out of pasted output by default.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector.cli.options import add_command_group, store_sessions
from collector.config import CollectorConfig
from collector.sources.ssh import store
from collector.sources.ssh.config import SshDevice
from collector.sources.ssh.config_text import config_diff, mask_secrets
from collector.sources.ssh.schedule import backup_device, claim_device, store_address
from collector.store.devices import get_device
from collector.store.models import Device


class CliFailure(Exception):
    """What to tell the person, with exit status 1."""


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    configs = add_command_group(commands, "configs", "network devices' config backups (section ssh)", run)
    actions = configs.add_subparsers(dest="action", required=True)
    device_help = "device id, configured name or address"
    listing = actions.add_parser("list", help="a device's config versions, newest first")
    listing.add_argument("device", help=device_help)
    show = actions.add_parser("show", help="one version (default: the newest), secrets masked")
    show.add_argument("device", help=device_help)
    show.add_argument("version", nargs="?", type=int)
    show.add_argument("--raw", action="store_true", help="show secrets in clear")
    diff = actions.add_parser(
        "diff", help="unified diff of two versions (default: the newest and the one before)"
    )
    diff.add_argument("device", help=device_help)
    diff.add_argument("old", nargs="?", type=int)
    diff.add_argument("new", nargs="?", type=int)
    diff.add_argument("--raw", action="store_true", help="show secrets in clear")
    backup = actions.add_parser("backup", help="back the device up now, from this process")
    backup.add_argument("device", help=device_help)
    accept = actions.add_parser("accept-host-key", help="trust the new SSH host key the device presented")
    accept.add_argument("device", help=device_help)
    accept.add_argument("--fingerprint", help="the SHA256:… fingerprint checked on the device's console")
    accept.add_argument("--by", default=getpass.getuser(), help="who accepts it (default: your login)")


def run(config: CollectorConfig, args: argparse.Namespace) -> int:
    try:
        with store_sessions(config) as sessions:
            device_id = _device_id(sessions, config, args.device, create=args.action == "backup")
            print(_ACTIONS[args.action](sessions, config, device_id, args))
        return 0
    except CliFailure as exc:
        print(f"dozor-collector: {exc}", file=sys.stderr)
        return 1


def _configured(config: CollectorConfig, wanted: str) -> SshDevice | None:
    for device in config.ssh.devices:
        if wanted in (device.name, device.address, store_address(device)):
            return device
    return None


def _device_id(sessions: sessionmaker[Session], config: CollectorConfig, wanted: str, create: bool) -> int:
    with sessions() as session:
        if wanted.isdigit() and get_device(session, int(wanted)) is not None:
            return int(wanted)
        device = _configured(config, wanted)
        address = store_address(device) if device is not None else wanted
        found = session.scalar(select(Device.id).where(Device.address == address))
    if found is None and device is not None and create:
        found = claim_device(sessions, device, None, timedelta(0)).device_id  # its row, before any backup
    if found is None:
        raise CliFailure(f"no network device {wanted!r} in the store")
    return found


def _list(sessions: sessionmaker[Session], _: CollectorConfig, device_id: int, __: argparse.Namespace) -> str:
    with sessions() as session:
        versions = store.list_config_versions(session, device_id)
    if not versions:
        raise CliFailure(f"device {device_id} has no config backup yet")
    return "\n".join(
        f"{v.id:>6}  {v.at.isoformat(timespec='seconds')}  {v.size_bytes:>8} B  {v.digest[:16]}"
        for v in versions
    )


def _version(session: Session, device_id: int, version_id: int | None) -> store.ConfigVersionText:
    version = store.get_config_version(session, device_id, version_id)
    if version is None:
        raise CliFailure(f"device {device_id} has no config version {version_id or '(none yet)'}")
    return version


def _show(
    sessions: sessionmaker[Session], _: CollectorConfig, device_id: int, args: argparse.Namespace
) -> str:
    with sessions() as session:
        version = _version(session, device_id, args.version)
    return version.text if args.raw else mask_secrets(version.platform, version.text)


def _diff(
    sessions: sessionmaker[Session], _: CollectorConfig, device_id: int, args: argparse.Namespace
) -> str:
    with sessions() as session:
        new = _version(session, device_id, args.new)
        old_id = args.old if args.old is not None else store.previous_version_id(session, device_id, new.id)
        old = _version(session, device_id, old_id) if old_id is not None else new
    return (
        config_diff(
            old.text,
            new.text,
            platform_name=new.platform,
            raw=args.raw,
            old_label=f"version {old.id}",
            new_label=f"version {new.id}",
        )
        or f"versions {old.id} and {new.id} are the same"
    )


def _backup(
    sessions: sessionmaker[Session], config: CollectorConfig, device_id: int, _: argparse.Namespace
) -> str:
    with sessions() as session:
        address = session.get_one(Device, device_id).address
    device = next((d for d in config.ssh.devices if store_address(d) == address), None)
    if device is None:
        raise CliFailure(f"device {device_id} ({address}) is not among the configured SSH devices")
    claimed = claim_device(sessions, device, None, timedelta(0))
    result = backup_device(sessions, config.ssh, device, claimed)
    if result.error_kind is not None:
        raise CliFailure(f"backup of {claimed.name} failed: {result.error_kind}: {result.error_message}")
    what = "new version" if result.new_version else "unchanged, version"
    lines = [f"{claimed.name}: {what} {result.version_id} ({result.seconds:.1f}s)"]
    lines += [f"  {change.summary}" for change in result.changes]
    lines += [f"  {command}: {kind}" for command, kind in result.fact_errors.items()]
    return "\n".join(lines)


def _accept(
    sessions: sessionmaker[Session], _: CollectorConfig, device_id: int, args: argparse.Namespace
) -> str:
    try:
        with sessions.begin() as session:
            change = store.accept_host_key(
                session,
                device_id,
                by=f"{args.by} (command line)",
                at=datetime.now(UTC),
                fingerprint=args.fingerprint,
            )
    except (store.NothingToAccept, store.FingerprintMismatch) as exc:
        raise CliFailure(str(exc)) from None
    return change.summary


_ACTIONS = {
    "list": _list,
    "show": _show,
    "diff": _diff,
    "backup": _backup,
    "accept-host-key": _accept,
}
