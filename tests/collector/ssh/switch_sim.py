"""A real SSH server on loopback (paramiko) that behaves like a switch's CLI, for tests and bench/.

Each ``SimDevice`` listens on its own 127.0.0.1 port with its own host key and plays one platform's
personality: login banner, prompt, ``enable`` with a secret, a pager until the platform's
no-paging command, replies replayed from recorded outputs and a mutable running config. Switches
make it misbehave the ways real gear does: change its host key, hang after login, answer garbage,
reject the password, keep the pager on, close mid-output, reply with a prompt nobody expects.

``python -m tests.collector.ssh.switch_sim N PLATFORM...`` starts N devices in a separate process
(for bench/) and prints one JSON line per device (port, platform, host key) then serves until
stdin closes.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from collector.sources.ssh.platforms import platform

USERNAME = "dozor"
PASSWORD = "s3cret-login"
ENABLE_SECRET = "s3cret-enable"
PAGE_LINES = 20


@dataclass(frozen=True)
class Personality:
    """How a platform's CLI looks on the wire."""

    banner: str
    user_prompt: str
    enable_prompt: str | None
    pager: str
    pager_erase: str
    error: str
    press_any_key: bool = False
    echo_crlf: str = "\r\n"
    silent: tuple[str, ...] = ()
    """Commands the driver sends that print nothing (terminal width and the like)."""


PERSONALITIES: dict[str, Personality] = {
    "cisco_ios": Personality(
        banner="\r\nUnauthorized access prohibited\r\n\r\n",
        user_prompt="{host}>",
        enable_prompt="{host}#",
        pager=" --More-- ",
        pager_erase="\b" * 9 + " " * 9 + "\b" * 9,
        error="                ^\r\n% Invalid input detected at '^' marker.\r\n",
        silent=("terminal width 511",),
    ),
    "hp_procurve": Personality(
        banner="HP J9148A 2910al-48G-PoE Switch\r\nSoftware revision W.15.08.0012\r\n\r\n"
        "Copyright (C) 1991-2012 Hewlett-Packard Co.  All Rights Reserved.\r\n\r\n",
        user_prompt="{host}>",
        enable_prompt="{host}#",
        pager="-- MORE --, next page: Space, next line: Enter, quit: Control-C",
        pager_erase="\x1b[2K\r",
        error="Invalid input: {word}\r\n",
        press_any_key=True,
        silent=("terminal width 511",),
    ),
    "hp_comware": Personality(
        banner="******************************************************************************\r\n"
        "* Copyright (c) 2004-2014 Hewlett-Packard Development Company, L.P.          *\r\n"
        "******************************************************************************\r\n\r\n",
        user_prompt="<{host}>",
        enable_prompt=None,
        pager="  ---- More ----",
        pager_erase="\x1b[16D                \x1b[16D",
        error="                  ^\r\n % Unrecognized command found at '^' position.\r\n",
    ),
    "huawei_vrp": Personality(
        banner="\r\nInfo: The max number of VTY users is 5, and the number\r\n"
        "      of current VTY users on line is 1.\r\n",
        user_prompt="<{host}>",
        enable_prompt=None,
        pager="  ---- More ----",
        pager_erase="\x1b[42D                                          \x1b[42D",
        error="                  ^\r\nError: Unrecognized command found at '^' position.\r\n",
    ),
    "mikrotik_routeros": Personality(
        banner="\r\n\r\n  MMM      MMM       KKK                          TTTTTTTTTTT      KKK\r\n"
        "  MikroTik RouterOS 7.15.2 (c) 1999-2024       https://www.mikrotik.com/\r\n\r\n",
        user_prompt="[{user}@{host}] > ",
        enable_prompt=None,
        pager="-- [Q quit|D dump|down]",
        pager_erase="\r\x1b[K",
        error="bad command name {word} (line 1 column 2)\r\n",
    ),
    "dlink_ds": Personality(
        banner="\r\n                         DES-3200-28 Fast Ethernet Switch\r\n"
        "                              Command Line Interface\r\n\r\n",
        user_prompt="{host}:admin#",
        enable_prompt=None,
        pager="CTRL+C ESC q Quit SPACE n Next Page ENTER Next Entry a All",
        pager_erase="\r" + " " * 60 + "\r",
        error="Available commands:\r\n..             ?              cable_diag     clear\r\n",
    ),
    "eltex": Personality(
        banner="\r\n\r\nUser Access Verification\r\n\r\n",
        user_prompt="{host}#",
        enable_prompt=None,
        pager="More: <space>,  Quit: q or CTRL+Z, One line: <return> ",
        pager_erase="\r" + " " * 56 + "\r",
        error="% Unrecognized command\r\n",
    ),
}


@dataclass
class Misbehaviour:
    """Switches a test flips to make the device fail the ways real devices do."""

    reject_password: bool = False
    hang_after_login: bool = False
    garbage: bool = False
    pager_stuck: bool = False
    close_mid_output: bool = False
    odd_prompt: bool = False


@dataclass
class SimDevice:
    """One simulated device: its platform, replies, running config and misbehaviour switches."""

    platform: str
    config: str
    replies: dict[str, str]
    hostname: str = "sw1"
    misbehave: Misbehaviour = field(default_factory=Misbehaviour)
    host_key: paramiko.PKey = field(default_factory=lambda: paramiko.ECDSAKey.generate())
    logins: int = 0

    @property
    def personality(self) -> Personality:
        return PERSONALITIES[self.platform]

    def new_host_key(self) -> None:
        """What a replaced or impersonated device looks like."""
        self.host_key = paramiko.ECDSAKey.generate()

    @property
    def known_host_key(self) -> str:
        return f"{self.host_key.get_name()} {self.host_key.get_base64()}"


class _Auth(paramiko.ServerInterface):
    def __init__(self, device: SimDevice) -> None:
        self.device = device
        self.shell = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        ok = username.split("+")[0] == USERNAME and password == PASSWORD
        if ok and not self.device.misbehave.reject_password:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return (
            paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        )

    def check_channel_pty_request(self, *args: object) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self.shell.set()
        return True


class _Cli:
    """The CLI conversation on one shell channel."""

    def __init__(self, device: SimDevice, channel: paramiko.Channel) -> None:
        self.device = device
        self.channel = channel
        self.look = device.personality
        self.spec = platform(device.platform)
        self.enabled = self.look.enable_prompt is None
        self.paging = bool(self.spec.no_paging)
        self.after_cr = False

    @property
    def prompt(self) -> str:
        if self.device.misbehave.odd_prompt:
            return "Welcome! Type something: "
        shape = (
            self.look.user_prompt if not self.enabled else (self.look.enable_prompt or self.look.user_prompt)
        )
        return shape.format(host=self.device.hostname, user=USERNAME)

    def send(self, text: str) -> None:
        self.channel.sendall(text.encode())

    def read_key(self) -> str:
        data = self.channel.recv(1)
        if not data:
            raise EOFError
        return data.decode(errors="replace")

    def read_line(self, echo: bool = True) -> str:
        """One line as a terminal reads it: echoed, ended by CR, LF or CRLF."""
        chars: list[str] = []
        while True:
            ch = self.read_key()
            if ch == "\n" and self.after_cr:
                self.after_cr = False
                continue
            self.after_cr = ch == "\r"
            if ch in "\r\n":
                self.send("\r\n")
                return "".join(chars)
            if echo:
                self.send(ch)
            chars.append(ch)

    def run(self) -> None:
        misbehave = self.device.misbehave
        self.send(self.look.banner)
        if misbehave.hang_after_login:
            while self.channel.recv(1024):
                pass
            return
        if self.look.press_any_key:
            self.send("Press any key to continue")
            self.read_key()
            self.send("\r\n")
        self.send(self.prompt)
        while True:
            line = self.read_line().strip()
            if line in ("exit", "logout", "quit", "/quit"):
                return
            self.answer(line)
            self.send(self.prompt)

    def answer(self, line: str) -> None:
        if not line or line in self.look.silent:
            return
        if self.spec.no_paging and line == self.spec.no_paging:
            self.paging = self.device.misbehave.pager_stuck
            return
        if line == "enable" and self.look.enable_prompt is not None:
            self.send("Password: ")
            secret = self.read_line(echo=False)
            if secret == ENABLE_SECRET:
                self.enabled = True
            else:
                self.send("% Access denied\r\n")
            return
        output = self.output_of(line)
        if output is None:
            self.send(self.look.error.format(word=line.split()[0]))
            return
        if self.device.misbehave.garbage:
            output = _garbage(len(output) or 200)
        self.print_output(output)

    def output_of(self, line: str) -> str | None:
        if line == self.spec.config_command and (self.enabled or not self.spec.enable):
            return self.device.config
        return self.device.replies.get(line)

    def print_output(self, output: str) -> None:
        lines = output.replace("\r\n", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if self.device.misbehave.close_mid_output:
            self.send("\r\n".join(lines[: len(lines) // 2]))
            self.channel.close()
            raise EOFError
        for number, text in enumerate(lines, start=1):
            self.send(text + "\r\n")
            if self.paging and number % PAGE_LINES == 0 and number < len(lines):
                self.send(self.look.pager)
                key = self.read_key()
                self.send(self.look.pager_erase)
                if key in ("q", "Q", "\x03"):
                    return


def _garbage(size: int) -> str:
    rng = random.Random(size)
    return "".join(chr(rng.choice([rng.randrange(0, 32), rng.randrange(0x80, 0x250)])) for _ in range(size))


class SwitchSimulator:
    """Serves any number of ``SimDevice``s, each on its own loopback port, from background threads."""

    def __init__(self) -> None:
        self.devices: dict[int, SimDevice] = {}
        self._listeners: list[socket.socket] = []
        self._stopping = threading.Event()

    def add(self, device: SimDevice) -> int:
        """Starts serving ``device``; returns its port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        self.devices[port] = device
        self._listeners.append(listener)
        threading.Thread(target=self._accept, args=(listener, device), daemon=True).start()
        return port

    def _accept(self, listener: socket.socket, device: SimDevice) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client, device), daemon=True).start()

    def _serve(self, client: socket.socket, device: SimDevice) -> None:
        transport = paramiko.Transport(client)
        try:
            transport.add_server_key(device.host_key)
            auth = _Auth(device)
            transport.start_server(server=auth)
            channel = transport.accept(timeout=10)
            if channel is None or not auth.shell.wait(10):
                return
            device.logins += 1
            _Cli(device, channel).run()
        except (EOFError, OSError, paramiko.SSHException):
            pass
        finally:
            transport.close()

    def close(self) -> None:
        self._stopping.set()
        for listener in self._listeners:
            listener.close()


def replies_from(folder: Path, platform_name: str) -> dict[str, str]:
    """Recorded outputs for a platform's fact commands: ``<command folder>/*.raw`` (first file) or
    ``output.txt``, command taken from the folder name (``show_ip_arp`` → ``show ip arp``)."""
    spec = platform(platform_name)
    wanted = {c.command.lstrip("/").replace(" ", "_"): c.command for c in spec.polled_commands}
    replies: dict[str, str] = {}
    for name, command in wanted.items():
        files = sorted((folder / name).glob("*.raw")) + sorted((folder / name).glob("output.txt"))
        if files:
            replies[command] = files[0].read_text()
    return replies


def _serve_forever(
    count: int, platforms: list[str], replies: Mapping[str, dict[str, str]], configs: Mapping[str, str]
) -> None:
    simulator = SwitchSimulator()
    for index in range(count):
        name = platforms[index % len(platforms)]
        device = SimDevice(name, configs[name], dict(replies[name]), hostname=f"sw{index}")
        port = simulator.add(device)
        print(json.dumps({"port": port, "platform": name, "host_key": device.known_host_key}), flush=True)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.read()
    simulator.close()


if __name__ == "__main__":
    spec_file = Path(sys.argv[1])
    document = json.loads(spec_file.read_text())
    _serve_forever(document["count"], document["platforms"], document["replies"], document["configs"])
