"""Sending benchmark: `windstil send` against a bare smtplib loop, same .eml files, same local server.

    python benchmarks/send.py [--work DIR] [--customers 1000] [--rounds 5]

Makes a `windstil demo-data` project, runs and approves it, starts a minimal SMTP sink (in
its own process, answering 250 to everything) on 127.0.0.1, and then, per round:

- bare: one smtplib connection, `sendmail()` of every approved .eml (recipients known up
  front, files read inside the timed loop): the floor of SMTP submission from Python;
- windstil: `send_run()` with one connection and pacing off (per_minute/per_day null) on a
  fresh copy of the state: planning, the outbox (two committed transactions per message),
  the suppression check, the Date header, the same SMTP transaction.

Prints each round's ratio (windstil's rate over the bare loop's, measured back to back), the
messages_per_s of each (best round) and, last, `send_vs_bare_smtp: X`, the median of the
rounds' ratios: on a shared machine the load moves from minute to minute, and a ratio of two
best rounds taken at different moments would measure the neighbours. 1.0 means the outbox
costs nothing.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import AS_OF, REPO, WINDSTIL, demo_project

SERVER = r"""
import asyncio, sys

# A minimal SMTP sink: reads each message's data in one go up to CRLF.CRLF and answers 250.
# aiosmtpd (the tests' server) handles the data line by line in Python and tops out below
# 100 messages a second here, which would measure the server instead of the client.
async def session(reader, writer):
    writer.write(b"220 sink ESMTP\r\n")
    while True:
        line = await reader.readline()
        if not line:
            break
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-sink\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
        elif verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await reader.readuntil(b"\r\n.\r\n")
            writer.write(b"250 2.0.0 OK\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            break
        else:
            writer.write(b"250 OK\r\n")
        await writer.drain()
    writer.close()

async def main(port):
    server = await asyncio.start_server(session, "127.0.0.1", port, limit=64 * 1024 * 1024)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()

asyncio.run(main(int(sys.argv[1])))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def approved_run(work: Path, customers: int) -> Path:
    project = demo_project(work, customers)
    if not (project / "output" / AS_OF / "manifest.json").exists():
        subprocess.run([*WINDSTIL, "-q", "--project", str(project), "run", "--as-of", AS_OF], check=True)
        subprocess.run([*WINDSTIL, "-q", "--project", str(project), "approve", AS_OF], check=True,
                       stdout=subprocess.DEVNULL)
    return project


def configure(project: Path, port: int) -> None:
    settings = project / "settings.yaml"
    text = settings.read_text(encoding="utf-8").split("\ndelivery:", 1)[0]
    settings.write_text(text + f"\ndelivery: {{host: 127.0.0.1, port: {port}, security: none, auth: none, "
                               "per_minute: null, per_day: null, connections: 1}\n", encoding="utf-8")


def messages(project: Path) -> list[tuple[Path, str]]:
    """Return every .eml the run delivers, with its recipient (read before timing)."""
    run = project / "output" / AS_OF
    files = sorted(run.glob("emails/*/*.eml")) + sorted(run.glob("calls/*.eml"))
    parser = BytesHeaderParser(policy=default_policy)
    found = []
    for path in files:
        headers = parser.parsebytes(path.read_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
        found.append((path, str(headers["To"].addresses[0].addr_spec)))
    return found


def bare(port: int, batch: list[tuple[Path, str]], sender: str) -> float:
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port)
    for path, recipient in batch:
        smtp.sendmail(sender, [recipient], path.read_bytes())
    smtp.quit()
    return time.perf_counter() - started


def windstil(project: Path, state_copy: Path) -> tuple[float, int]:
    from pipeline.mail.outbox import Status
    from pipeline.mail.send import send_run

    state = project / "output" / "state.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(state_copy, state)
    started = time.perf_counter()
    result = send_run(project, AS_OF)
    seconds = time.perf_counter() - started
    if result.exit_code != 0:
        sys.exit(f"windstil send ended with exit {result.exit_code}: {result.stopped}")
    return seconds, result.done[Status.SENT]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None, help="folder for the demo project (default: a temp dir)")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    work = args.work or Path(tempfile.mkdtemp(prefix="windstil-bench-"))
    project = approved_run(work, args.customers)
    state_copy = work / "state-approved.sqlite"
    if not state_copy.exists():
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; a = sqlite3.connect(sys.argv[1]); "
                        "b = sqlite3.connect(sys.argv[2]); a.backup(b)",
                        str(project / "output" / "state.sqlite"), str(state_copy)], check=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        if server.stdout is None or server.stdout.readline().strip() != "ready":
            sys.exit("the SMTP server did not start")
        configure(project, port)
        batch = messages(project)
        sender = "nieuws@polderlicht-it.nl"
        bare_best = windstil_best = float("inf")
        ratios = []
        for _ in range(args.rounds):
            bare_seconds = bare(port, batch, sender)
            seconds, sent = windstil(project, state_copy)
            if sent != len(batch):
                sys.exit(f"windstil sent {sent} messages, expected {len(batch)}")
            bare_best, windstil_best = min(bare_best, bare_seconds), min(windstil_best, seconds)
            ratios.append(bare_seconds / seconds)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
    bare_rate, windstil_rate = len(batch) / bare_best, len(batch) / windstil_best
    print(f"messages: {len(batch)} ({sum(p.stat().st_size for p, _ in batch) / 1e6:.1f} MB)")
    # On a shared machine the load moves between rounds; each round's own ratio shows the spread.
    print("rounds_send_vs_bare: " + " ".join(f"{r:.2f}" for r in ratios))
    print(f"bare_smtplib_messages_per_s: {bare_rate:.0f}")
    print(f"windstil_send_messages_per_s: {windstil_rate:.0f}")
    print(f"send_vs_bare_smtp: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
