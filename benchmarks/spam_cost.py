"""Where SpamAssassin's time goes on a run's messages, and what leaving out its network plugins saves.

    python benchmarks/spam_cost.py [RUN_FOLDER] [--variants 40] [--site /etc/spamassassin]

Takes the first message of each of the --variants largest variants of a run folder (default:
the sample company's run in the repository, `output/2026-11-30`), as the run's checks do, and
scores them with `spamassassin` and the run's own options (local tests only, no Bayes):

- `cpu_ms_per_message`: SpamAssassin's CPU time per message, without its start-up (the CPU
  of one process over all the messages, less that of one over the first message alone,
  divided by the messages added);
- `ms_per_message_<type>`: how the time of a message divides among the rule types (body,
  header, eval, rawbody, uri, full) and `costliest_rules`, from SpamAssassin's own debug
  output (`-D rules-all,check` stamps the start of every rule and the end of every message;
  the first message is left out, as it pays for compiling the rules). Its logging slows
  every rule alike: read them as shares.
- the same CPU with a private copy of the site configuration (--site) whose .pre files leave
  out the plugins that only ever ask the network (Pyzor, Razor2, SpamCop, URIDNSBL, AskDNS,
  DKIM, SPF, DMARC, HashBL, DNSEval): their rules cannot fire with local tests only. Prints
  `same_scores_and_rules_without_network_plugins` (every message: same score, same rules)
  and `cpu_saved_without_network_plugins` (share of `cpu_ms_per_message`).

Each CPU figure is the median of --repeat runs, the two configurations taken in turn within
each (the machine may be shared), with the load average.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import AS_OF, REPO
from spam_variants import variants

from pipeline.checks.spam import OPTIONS

NETWORK_PLUGINS = ("Pyzor", "Razor2", "SpamCop", "URIDNSBL", "AskDNS", "DKIM", "SPF", "DMARC", "HashBL", "DNSEval")
_STATUS = re.compile(rb"^X-Spam-Status: .*?score=(-?[\d.]+) required=[\d.]+ tests=(.*?)\s+autolearn=", re.M | re.S)
_STAMP = re.compile(r"^\w+ +\d+ (\d+):(\d+):([\d.]+) \[\d+\] dbg: (.*)$")


def mbox(paths: list[Path]) -> bytes:
    """Return the messages as one mbox (mboxrd quoting of "From " lines)."""
    entries = []
    for path in paths:
        body = re.sub(rb"(?m)^(>*From )", rb">\1", path.read_bytes().replace(b"\r\n", b"\n"))
        entries.append(b"From windstil@localhost Thu Jan  1 00:00:00 1970\n" + body + b"\n")
    return b"".join(entries)


def score(messages: bytes, extra: list[str], debug: str | None = None) -> tuple[float, bytes, str]:
    """Run one `spamassassin` over an mbox; return its CPU seconds, its output and its debug log."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = ["spamassassin", *OPTIONS, *extra, "--mbox", *(["-D", debug] if debug else [])]
    done = subprocess.run(command, input=messages, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, done.stdout, done.stderr.decode("utf-8", "replace")


def cpu_per_message(first: bytes, every: bytes, count: int, configurations: list[list[str]],
                    repeat: int) -> list[tuple[float, bytes]]:
    """Return, per configuration, the CPU seconds a message adds (median of `repeat`) and the output.

    The configurations are measured in turn within each repetition, so that a machine getting
    busier or quieter meanwhile does not pass for a difference between them: with the best of
    two runs of each, one after the other, 40 messages showed the network plugins costing 35%
    of the CPU; alternated and taken over four runs, they cost 5% or less.
    """
    seconds: list[list[float]] = [[] for _ in configurations]
    outputs = [b""] * len(configurations)
    for _ in range(repeat):
        for n, extra in enumerate(configurations):
            one, _, _ = score(first, extra)
            total, outputs[n], _ = score(every, extra)
            seconds[n].append((total - one) / (count - 1))
    return [(statistics.median(values), output) for values, output in zip(seconds, outputs, strict=True)]


def results(output: bytes) -> list[tuple[str, frozenset[str]]]:
    """Return every message's score and rules, in order."""
    return [(m.group(1).decode(), frozenset(re.split(r"[,\s]+", m.group(2).decode())) - {""})
            for m in _STATUS.finditer(output)]


def rule_times(log: str) -> tuple[dict[str, float], Counter[str], int]:
    """Return the seconds per rule type and per rule from a `-D rules-all,check` log, and the messages counted."""
    per_type: dict[str, float] = defaultdict(float)
    per_rule: Counter[str] = Counter()
    message, previous = 0, None
    for line in log.splitlines():
        stamp = _STAMP.match(line)
        if stamp is None:
            continue
        at = int(stamp[1]) * 3600 + int(stamp[2]) * 60 + float(stamp[3])
        if stamp[4].startswith("check: is spam?"):
            message, previous = message + 1, None
            continue
        rule = re.match(r"rules-all: running (\w+) rule (\S+)", stamp[4])
        if rule is None:
            continue
        if previous is not None and message >= 1:
            per_type[previous[1]] += at - previous[0]
            per_rule[f"{previous[1]} {previous[2]}"] += at - previous[0]
        previous = (at, rule[1], rule[2])
    return per_type, per_rule, message - 1


def site_without(site: Path, plugins: tuple[str, ...], folder: Path) -> Path:
    """Return a copy of the site configuration whose .pre files do not load `plugins`."""
    copy = folder / "site"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns("sa-update-hooks.d"))
    pattern = re.compile(rf"^(loadplugin\s+Mail::SpamAssassin::Plugin::(?:{'|'.join(plugins)})\b)", re.M)
    for pre in copy.glob("*.pre"):
        pre.write_text(pattern.sub(r"# \1", pre.read_text(encoding="utf-8")), encoding="utf-8")
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, nargs="?", default=REPO / "output" / AS_OF)
    parser.add_argument("--variants", type=int, default=40)
    parser.add_argument("--site", type=Path, default=Path("/etc/spamassassin"), help="the site configuration")
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    if not (args.run / "deliveries.csv").is_file():
        sys.exit(f"{args.run}: no run here; make it first with `windstil run --as-of {AS_OF}`")
    if shutil.which("spamassassin") is None:
        sys.exit("spamassassin is not installed")
    paths = [group[0] for group in list(variants(args.run).values())[: args.variants]]
    if len(paths) < 2:
        sys.exit(f"{args.run}: fewer than two variants")
    first, every = mbox(paths[:1]), mbox(paths)
    with tempfile.TemporaryDirectory(prefix="windstil-spam-cost-") as folder:
        measure(args, paths, first, every, Path(folder))
    print(f"load_average_1min: {os.getloadavg()[0]:.2f}")


def measure(args: argparse.Namespace, paths: list[Path], first: bytes, every: bytes, folder: Path) -> None:
    """Print the figures (see the module's docstring)."""
    prefs = folder / "user_prefs"  # empty, as the run's: nobody's own settings
    prefs.write_text("", encoding="utf-8")
    own = ["-p", str(prefs)]
    site = site_without(args.site, NETWORK_PLUGINS, folder)
    lean = [*own, f"--siteconfigpath={site}"]
    (cpu, output), (lean_cpu, lean_output) = cpu_per_message(first, every, len(paths), [own, lean], args.repeat)
    print(f"run: {args.run}")
    print(f"messages: {len(paths)}")
    print(f"message_kb_mean: {sum(p.stat().st_size for p in paths) / len(paths) / 1024:.1f}")
    print(f"cpu_ms_per_message: {cpu * 1000:.0f}")
    start = time.perf_counter()
    _, _, log = score(every, own, debug="rules-all,check")
    per_type, per_rule, counted = rule_times(log)
    print(f"debug_run_s: {time.perf_counter() - start:.1f}")
    for kind, seconds in sorted(per_type.items(), key=lambda entry: -entry[1]):
        print(f"ms_per_message_{kind}: {seconds * 1000 / counted:.1f}")
    print("costliest_rules: " + ", ".join(f"{rule} {seconds * 1000 / counted:.1f} ms"
                                          for rule, seconds in per_rule.most_common(10)))
    same = results(output) == results(lean_output) and len(results(output)) == len(paths)
    print(f"cpu_ms_per_message_without_network_plugins: {lean_cpu * 1000:.0f}")
    print(f"same_scores_and_rules_without_network_plugins: {same}")
    print(f"cpu_saved_without_network_plugins: {(cpu - lean_cpu) / cpu:.3f}")


if __name__ == "__main__":
    main()
