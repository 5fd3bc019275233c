"""Polling 1,000 simulated switches: Dozor's SNMP poller against Debian's prometheus-snmp-exporter.

snmpsim serves real switch recordings of ../shared/testdata/snmprec/switches: each device has its
own loopback address (127.1.x.y) and community (``sw0001``…, a hard link of a recording), the
fleet spread over several snmpsim processes. Every phase polls the whole fleet once with the same
bounded concurrency and prints its wall time, devices/s and the CPU seconds of each process:

* ``dozor switch``: ``poll_device`` with every shipped profile and one shared ``SnmpEngine``, bounded
  by a semaphore as ``collector/sources/snmp/schedule.py`` does: the issue's scenario (target: all devices
  within the interval, at most one core for Dozor's side).
* ``dozor collector``: the collector's own ``SnmpPolling`` (APScheduler jobs, SQLite store, device
  view) started on the same fleet, timed until every device has been recorded.
* ``dozor if-mib`` and ``exporter if-mib``: the same columns (system group + the IF-MIB columns of
  ``if-mib.yaml``, numeric OIDs) by both, for the throughput ratio Dozor/exporter (target ≥ 1.0).

    python -m bench.snmp_poll [--devices 1000] [--concurrency 32] [--interval 60] [--simulators 2]
                              [--quick] [--skip-exporter] [--skip-collector]

The exporter is Debian's ``prometheus-snmp-exporter`` (0.21): ``apt-get install -y
prometheus-snmp-exporter``; without it that phase is skipped with a message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

from collector.sources.snmp.config import SnmpConfig, SnmpCredential, SnmpDevice
from collector.sources.snmp.poll import DevicePoll, Target, poll_device
from collector.sources.snmp.profiles import Profile, load_profiles
from collector.sources.snmp.schedule import device_deadline
from collector.sources.snmp.session import Credentials
from tests.collector.live_server import free_port
from tests.collector.snmp.conftest import free_udp_port

SWITCHES = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "snmprec" / "switches"
DEFAULT_RECORDINGS = ("XMG1915-10EP", "alaxala_ax2430s")
"""The switch recordings with ifTable, ifXTable and a Q-BRIDGE forwarding table."""
COMPARED_PROFILES = ("system", "if-mib")
EXPORTER = "prometheus-snmp-exporter"
SNMPSIM_MAIN = (
    "import sys; from snmpsim import datafile; "
    "datafile.DataFile.max_queue_entries = int(sys.argv.pop(1)); "
    "from snmpsim.commands.responder import main; sys.exit(main())"
)
"""snmpsim's responder with room for every data file of the process in its open-file queue (by
default 31: with hundreds of devices it would close and reopen data files on most requests)."""


@dataclass(frozen=True)
class Device:
    """A simulated switch: its own loopback address (as devices in an office have), the port of the
    snmpsim process serving it, and its community (which selects its data file)."""

    address: str
    port: int
    community: str
    recording: str


@dataclass
class Phase:
    """One pass over the fleet: what it read, how long it took, and who spent the CPU."""

    label: str
    devices: int
    wall: float = 0.0
    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    part_errors: Counter[str] = field(default_factory=Counter)
    interfaces: int = 0
    fdb: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds by process name during the phase."""

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall else 0.0


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def own_cpu_seconds() -> float:
    """CPU seconds of this (Dozor's) process, all threads, from getrusage."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def measured(phase: Phase, others: dict[str, psutil.Process]) -> Iterator[None]:
    """Time the block and charge CPU to this process ("dozor/bench") and to each named child."""
    before = {name: cpu_seconds(process) for name, process in others.items()}
    own, started = own_cpu_seconds(), time.monotonic()
    yield
    phase.wall = time.monotonic() - started
    phase.cpu = {"this process": own_cpu_seconds() - own}
    phase.cpu |= {name: cpu_seconds(process) - before[name] for name, process in others.items()}


@contextmanager
def child(command: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[psutil.Process]:
    """A child process that is terminated (then killed) on the way out, whatever happens."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def build_fleet(
    work: Path, count: int, simulators: int, recordings: Sequence[str]
) -> list[tuple[Path, list[Device]]]:
    """Per snmpsim process: its data dir (hard links ``swNNNN.snmprec`` of the recordings) and devices."""
    sources = work / "recordings"
    sources.mkdir()
    for name in recordings:
        shutil.copy(SWITCHES / f"{name}.snmprec", sources / f"{name}.snmprec")
    fleets = []
    for number in range(simulators):
        data = work / f"snmpsim-{number}"
        data.mkdir()
        fleets.append((data, []))
    for index in range(count):
        recording = recordings[index // simulators % len(recordings)]
        data, devices = fleets[index % simulators]
        community = f"sw{index + 1:04d}"
        os.link(sources / f"{recording}.snmprec", data / f"{community}.snmprec")
        devices.append(Device(f"127.1.{index // 250}.{index % 250 + 1}", 0, community, recording))
    return fleets


def answers(device: Device, timeout: float) -> bool:
    """Whether snmpsim answers the device's system group (with a fresh engine)."""
    system = [p for p in load_profiles() if p.name == "system"]
    target = Target(host=device.address, port=device.port, timeout=timeout, retries=0)
    poll = asyncio.run(poll_device(target, Credentials(community=device.community), system, timeout + 1))
    return "system" in poll.facts


def snmpsim_fleet(
    stack: ExitStack, work: Path, count: int, simulators: int, recordings: Sequence[str]
) -> tuple[list[Device], dict[str, psutil.Process]]:
    """Start the snmpsim processes; yield every device (with its port) and the processes by name."""
    fleets = build_fleet(work, count, simulators, recordings)
    executable = Path(sys.executable)
    devices: list[Device] = []
    processes: dict[str, psutil.Process] = {}
    for number, (data, members) in enumerate(fleets):
        port = free_udp_port()
        command = [
            str(executable), "-c", SNMPSIM_MAIN, str(len(members) + 10),
            f"--data-dir={data}", f"--cache-dir={work / f'cache-{number}'}", "--log-level=error",
            *(f"--agent-udpv4-endpoint={device.address}:{port}" for device in members),
        ]
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        log = work / f"snmpsim-{number}.log"
        processes[f"snmpsim-{number}"] = stack.enter_context(child(command, log, env))
        devices += [Device(d.address, port, d.community, d.recording) for d in members]
    started = time.monotonic()
    firsts = {d.port: d for d in reversed(devices)}.values()
    for number, (first, process) in enumerate(zip(firsts, processes.values(), strict=True)):
        while not answers(first, 1.0):
            if not process.is_running() or time.monotonic() - started > 300:
                log = (work / f"snmpsim-{number}.log").read_text()[-2000:]
                raise SystemExit(f"snmpsim did not start answering: {log}")
    print(f"snmpsim: {len(processes)} processes ready in {time.monotonic() - started:.1f} s", flush=True)
    return sorted(devices, key=lambda d: d.community), processes


def count_facts(phase: Phase, poll: DevicePoll) -> None:
    if "system" not in poll.facts:
        error = poll.errors.get("target") or poll.errors.get("system.scalars")
        phase.failures[error.kind if error else "no_answer"] += 1
        return
    phase.ok += 1
    phase.interfaces += len(poll.facts.get("interfaces", ()))
    phase.fdb += len(poll.facts.get("fdb", ()))
    phase.part_errors.update(f"{part}:{error.kind}" for part, error in poll.errors.items())


async def bounded(concurrency: int, jobs: Sequence[Callable[[], Awaitable[None]]]) -> None:
    """Run every job with at most ``concurrency`` at once (the collector's semaphore pattern)."""
    semaphore = asyncio.Semaphore(concurrency)

    async def run(job: Callable[[], Awaitable[None]]) -> None:
        async with semaphore:
            await job()

    await asyncio.gather(*(run(job) for job in jobs))


def dozor_poller(
    phases: Sequence[tuple[str, list[Profile]]], devices: Sequence[Device], config: SnmpConfig,
    concurrency: int, sims: dict[str, psutil.Process],
) -> list[Phase]:
    """``poll_device`` over the fleet once per phase, bounded as the collector bounds it, with one
    ``SnmpEngine`` for all phases as the collector keeps one: the first phase sets every device up
    in the engine (targets, communities) as the collector's first interval does."""
    done: list[Phase] = []

    async def run() -> None:
        engine = SnmpEngine()
        deadline = device_deadline(config)
        try:
            for label, profiles in phases:
                phase = Phase(label, len(devices))

                def job(device: Device, phase: Phase = phase, profiles: list[Profile] = profiles
                        ) -> Callable[[], Awaitable[None]]:
                    target = Target(
                        host=device.address, port=device.port, timeout=config.timeout_seconds,
                        retries=config.retries, max_repetitions=config.max_repetitions,
                        max_rows=config.max_rows,
                    )

                    async def poll() -> None:
                        credentials = Credentials(community=device.community)
                        poll = await poll_device(target, credentials, profiles, deadline, engine=engine)
                        count_facts(phase, poll)

                    return poll

                with measured(phase, sims):
                    await bounded(concurrency, [job(device) for device in devices])
                done.append(phase)
        finally:
            engine.close_dispatcher()

    asyncio.run(run())
    return done


def dozor_collector(
    devices: Sequence[Device], config: SnmpConfig, work: Path, sims: dict[str, psutil.Process]
) -> Phase:
    """The collector's ``SnmpPolling`` (scheduler, store on SQLite, device view) on the fleet, from
    ``start()`` until every device has been recorded once."""
    from collector.sources.snmp.schedule import SnmpPolling
    from collector.sources.snmp.view import DeviceView
    from collector.store.db import make_engine, make_sessionmaker, migrate, sqlite_url

    phase = Phase("dozor collector, first interval (SnmpPolling, SQLite store, engine set-up)", len(devices))
    data = work / "collector"
    data.mkdir()
    engine = make_engine(sqlite_url(data))
    migrate(engine)
    fleet_config = SnmpConfig(
        interval_seconds=config.interval_seconds, timeout_seconds=config.timeout_seconds,
        retries=config.retries, max_repetitions=config.max_repetitions, max_rows=config.max_rows,
        credentials={d.community: SnmpCredential(version="2c", community=d.community) for d in devices},
        devices=[SnmpDevice(address=d.address, port=d.port, credential=d.community, name=d.community)
                 for d in devices],
    )
    view = DeviceView()
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: already running" per job

    async def run() -> None:
        polling = SnmpPolling(fleet_config, make_sessionmaker(engine), view)
        with measured(phase, sims):
            await polling.start()
            try:
                limit = time.monotonic() + config.interval_seconds * 3
                while len([d for d in view.devices() if d.last_attempt]) < len(devices):
                    if time.monotonic() > limit:
                        break
                    await asyncio.sleep(0.05)
            finally:
                await polling.stop()

    asyncio.run(run())
    engine.dispose()
    states = view.devices()
    phase.ok = sum(1 for s in states if s.up)
    phase.failures.update(s.error_kind or "no_answer" for s in states if not s.up)
    if len(states) < len(devices):
        phase.failures["never_polled"] += len(devices) - len(states)
    phase.interfaces = sum(len(s.interfaces) for s in states)
    phase.part_errors.update(f"{p}:{k}" for s in states for p, k in s.part_errors.items())
    return phase


def exporter_modules(devices: Sequence[Device], profiles: Sequence[Profile], config: SnmpConfig) -> dict:
    """snmp.yml (0.21 format) with numeric OIDs: one module per device (its community), each getting
    the profiles' scalars and walking their table columns one by one, as Dozor reads them."""
    metric_types = {"int": "gauge", "text": "DisplayString", "octets": "OctetString", "mac": "PhysAddress48",
                    "oid": "DisplayString", "bits": "OctetString"}
    get: list[str] = []
    walk: list[str] = []
    metrics: list[dict] = []
    for profile in profiles:
        for name, column in profile.scalars.items():
            get.append(column.oid)
            metrics.append({"name": re.sub(r"\W", "_", f"{profile.name}_{name}"),
                            "oid": column.oid.removesuffix(".0"), "type": metric_types[column.type]})
        for table_name, table in profile.tables.items():
            indexes = [{"labelname": part.name, "type": "PhysAddress48" if part.type == "mac" else "gauge"}
                       for part in table.index]
            for name, column in table.columns.items():
                walk.append(column.oid)
                metrics.append({"name": re.sub(r"\W", "_", f"{profile.name}_{table_name}_{name}"),
                                "oid": column.oid, "type": metric_types[column.type], "indexes": indexes})
    common = {
        "version": 2, "timeout": f"{config.timeout_seconds:g}s", "retries": config.retries,
        "max_repetitions": config.max_repetitions, "get": get, "walk": walk, "metrics": metrics,
    }
    return {d.community: {**common, "auth": {"community": d.community}} for d in devices}


def exporter_phase(
    devices: Sequence[Device], profiles: Sequence[Profile], config: SnmpConfig, concurrency: int,
    work: Path, sims: dict[str, psutil.Process], stack: ExitStack,
) -> Phase | None:
    binary = shutil.which(EXPORTER)
    if binary is None:
        print(f"exporter: skipped, {EXPORTER} is not installed (apt-get install -y {EXPORTER})")
        return None
    answer = subprocess.run([binary, "--version"], capture_output=True, text=True)
    version = (answer.stdout or answer.stderr).split("\n")[0]
    config_file = work / "snmp.yml"
    config_file.write_text(json.dumps(exporter_modules(devices, profiles, config)))  # JSON is YAML
    port = free_port()
    command = [binary, f"--config.file={config_file}", f"--web.listen-address=127.0.0.1:{port}",
               "--log.level=error"]
    process = stack.enter_context(child(command, work / "exporter.log"))
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while True:
        try:
            if httpx.get(f"{base}/", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if not process.is_running() or time.monotonic() - started > 60:
            raise SystemExit(f"{EXPORTER} did not start: {(work / 'exporter.log').read_text()[-2000:]}")
        time.sleep(0.2)
    print(f"exporter: {version.strip()} on 127.0.0.1:{port}", flush=True)
    phase = Phase("exporter if-mib", len(devices))
    interface_metric = re.compile(rb"^if_mib_interfaces_descr\{", re.MULTILINE)
    deadline = device_deadline(config)

    async def run() -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": f"{deadline:g}"}
        client = httpx.AsyncClient(base_url=base, limits=limits, timeout=deadline + 5, headers=headers)
        async with client as http:

            def job(device: Device) -> Callable[[], Awaitable[None]]:
                async def scrape() -> None:
                    params = {"target": f"{device.address}:{device.port}", "module": device.community}
                    try:
                        answer = await http.get("/snmp", params=params)
                    except httpx.HTTPError as error:
                        phase.failures[type(error).__name__] += 1
                        return
                    if answer.status_code != 200:
                        phase.failures[f"http_{answer.status_code}"] += 1
                        return
                    phase.ok += 1
                    phase.interfaces += len(interface_metric.findall(answer.content))

                return scrape

            with measured(phase, {"exporter": process, **sims}):
                await bounded(concurrency, [job(device) for device in devices])

    asyncio.run(run())
    phase.cpu["scraper (this process)"] = phase.cpu.pop("this process")
    return phase


def show(phase: Phase, interval: float, dozor_side: bool) -> None:
    cores = psutil.cpu_count() or 1
    busy = {name: seconds / phase.wall for name, seconds in phase.cpu.items()} if phase.wall else {}
    verdict = ""
    if dozor_side:
        own = phase.cpu["this process"]
        fits = phase.wall <= interval and own <= interval and phase.ok == phase.devices
        verdict = (f"  -> {'MEETS' if fits else 'MISSES'} the target (all {phase.devices} within "
                   f"{interval:g} s, Dozor CPU {own:.1f} s <= {interval:g} s = one core)")
    print(f"\n{phase.label}: {phase.ok}/{phase.devices} devices in {phase.wall:.1f} s = "
          f"{phase.rate:.1f} devices/s; interfaces {phase.interfaces}, fdb entries {phase.fdb}")
    if phase.failures:
        print(f"  failed devices by kind: {dict(phase.failures)}")
    if phase.part_errors:
        print(f"  part errors: {dict(phase.part_errors.most_common(6))}")
    for name, seconds in phase.cpu.items():
        print(f"  CPU {name:<24} {seconds:7.1f} s = {busy[name]:5.0%} of a core")
    single_threaded = {name: share for name, share in busy.items() if name != "exporter"}
    name, share = max(single_threaded.items(), key=lambda item: item[1])
    total = sum(busy.values())
    if share >= 0.85:
        saturated = f"{name} (one Python thread at {share:.0%} of a core)"
    elif total >= 0.85 * cores:
        saturated = f"the machine ({total:.2f} of {cores} cores busy)"
    else:
        saturated = f"none ({total:.2f} of {cores} cores busy: latency/concurrency bound)"
    print(f"  saturated: {saturated}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=SnmpConfig().max_concurrent_polls,
                        help="polls (and exporter scrapes) at once; default: the collector's")
    parser.add_argument("--interval", "--duration", type=float, default=60.0, dest="interval",
                        help="the polling interval all devices must fit in, seconds")
    parser.add_argument("--simulators", type=int, default=2, help="snmpsim processes serving the fleet")
    parser.add_argument("--recordings", default=",".join(DEFAULT_RECORDINGS),
                        help=f"switch recordings (stems in {SWITCHES}), assigned round-robin")
    parser.add_argument("--quick", action="store_true", help="100 devices, for a first look")
    parser.add_argument("--skip-exporter", action="store_true")
    parser.add_argument("--skip-collector", action="store_true", help="skip the SnmpPolling + SQLite phase")
    args = parser.parse_args()
    if args.quick:
        args.devices = min(args.devices, 100)
    if not SWITCHES.is_dir():
        raise SystemExit(f"no switch recordings at {SWITCHES}")
    config = SnmpConfig(interval_seconds=args.interval)
    profiles = load_profiles()
    compared = [p for p in profiles if p.name in COMPARED_PROFILES]
    recordings = args.recordings.split(",")
    print(f"{args.devices} switches ({', '.join(recordings)}), {args.simulators} snmpsim processes, "
          f"concurrency {args.concurrency}, per request timeout {config.timeout_seconds:g} s x "
          f"{config.retries + 1} tries, max-repetitions {config.max_repetitions}, device deadline "
          f"{device_deadline(config):g} s, {psutil.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="dozor-snmp-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        devices, sims = snmpsim_fleet(stack, work, args.devices, args.simulators, recordings)
        warm, switch, mine = dozor_poller(
            [("warm-up (system group)", [p for p in profiles if p.name == "system"]),
             ("dozor switch (every profile)", profiles), ("dozor if-mib", compared)],
            devices, config, args.concurrency, sims,
        )
        print(f"warm-up (sets every device up in the engine): system group of {warm.ok}/{warm.devices} "
              f"in {warm.wall:.1f} s, Dozor CPU {warm.cpu['this process']:.1f} s", flush=True)
        show(switch, args.interval, dozor_side=True)
        show(mine, args.interval, dozor_side=True)
        if not args.skip_collector:
            show(dozor_collector(devices, config, work, sims), args.interval, dozor_side=True)
        theirs = None if args.skip_exporter else exporter_phase(
            devices, compared, config, args.concurrency, work, sims, stack
        )
        if theirs is not None:
            show(theirs, args.interval, dozor_side=False)
            ratio = mine.rate / theirs.rate if theirs.rate else float("inf")
            columns = sum(len(t.columns) for p in compared for t in p.tables.values())
            print(f"\nthroughput Dozor/exporter (same OIDs: system group GET + {columns} IF-MIB columns): "
                  f"{mine.rate:.1f} / {theirs.rate:.1f} devices/s = {ratio:.2f} "
                  f"({'meets' if ratio >= 1.0 else 'MISSES'} target >= 1.0)")
            print("  differs: Dozor decodes values into facts (names, maps, MACs); the exporter renders "
                  "Prometheus text sent over HTTP to this process (scraper CPU shown apart)")


if __name__ == "__main__":
    main()
