"""Render benchmark: milliseconds per message, naive path vs floor vs Windstil's own path.

    python benchmarks/render.py [--work DIR] [--customers 2000] [--recipients 600] [--repeat 7]

On a `windstil demo-data` project, one process, the same recipients (the first
--recipients contacts that get a message, in the run's order) for all three paths; each
repetition writes into a fresh folder beside the project's run folders; best of --repeat:

- naive: per message, Jinja on the stage-two MJML source with the recipient's context →
  mjml2html → premailer (the options compile.py uses) → email.message.EmailMessage →
  as_bytes(), then the three files written.
- floor: the precompiled templates' render() for HTML and text, the MIME message from
  prebuilt header bytes and the encoded bodies, and the three files written (mkdir once
  per contact, open/write/close per file).
- windstil: the recipients cut into chunks with `pipeline.workers.chunks` and each rendered by
  `pipeline.workers.render_chunk`, as `windstil run` does: the chunk's own small dataset, the
  per-contact context, the guarded writer and the RenderedMessage; each repetition starts
  as a fresh render process does (compiled templates, no per-customer values cached).

The naive and floor paths start from the contexts Windstil builds (message_parts), built
before the clock starts; the windstil path builds them itself. Prints naive_ms, floor_ms,
windstil_ms, speedup_vs_naive and, last, ratio_to_floor (windstil ÷ floor).
"""

from __future__ import annotations

import argparse
import binascii
import gc
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP
from pathlib import Path

import jinja2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import AS_OF, demo_project

from pipeline import workers
from pipeline.load import load_project
from pipeline.models import LANGUAGES, MessageKind
from pipeline.quiet import quiet_periods
from pipeline.render.compile import TEMPLATE_FILES, Compiled, _expand, compile_templates, html_environment, inline_mjml
from pipeline.render.i18n import static_environment
from pipeline.render.message import MessageParts, _base64_lines, message_parts
from pipeline.segment import resolve_segmentation
from pipeline.select import select

SECRET = b"benchmark-secret-not-for-production"
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW


def write_files(folder: str, contact_id: str, kind: MessageKind, files: Sequence[tuple[str, bytes]],
                made: set[str]) -> None:
    """Write one message's files the cheapest way: mkdir once per contact, open/write/close."""
    contact_dir = os.path.join(folder, "emails", contact_id)
    if contact_id not in made:
        os.makedirs(contact_dir, exist_ok=True)
        made.add(contact_id)
    for suffix, data in files:
        fd = os.open(os.path.join(contact_dir, f"{kind.value}.{suffix}"), FILE_FLAGS, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def floor(all_parts: Sequence[MessageParts], folder: str) -> None:
    """Render the precompiled templates, frame the bodies with prebuilt headers, write the files."""
    made: set[str] = set()
    for parts in all_parts:
        html = parts.template.html.render(parts.context).encode("utf-8")
        text = parts.template.text.render(parts.context).encode("utf-8")
        eml = b"".join((parts.head, binascii.b2a_qp(text, istext=True), parts.middle, _base64_lines(html),
                        parts.end))
        write_files(folder, parts.contact_id, parts.kind, (("html", html), ("txt", text), ("eml", eml)), made)


def naive_templates(compiled: Compiled, templates_dir: Path) -> dict[tuple[MessageKind, str], jinja2.Template]:
    """Return the stage-two MJML sources (translated, Jinja tags in place) as Jinja templates."""
    html_env = html_environment()
    result = {}
    for language in LANGUAGES:
        static_env = static_environment(templates_dir, compiled.translations[language])
        for kind, name in TEMPLATE_FILES.items():
            result[(kind, language)] = html_env.from_string(_expand(static_env, html_env, f"{name}.mjml", language))
    return result


def naive_headers(all_parts: Sequence[MessageParts]) -> list[list[tuple[str, str]]]:
    """Return each message's header values (Subject decoded), as a naive sender would hold them."""
    parser = BytesHeaderParser(policy=SMTP)
    result = []
    for parts in all_parts:
        headers = parser.parsebytes(parts.head.split(b"\r\n\r\n", 1)[0])
        result.append([
            (name, parts.subject if name.lower() == "subject" else str(value))
            for name, value in headers.items() if name.lower() not in ("content-type", "mime-version")
        ])
    return result


def naive(all_parts: Sequence[MessageParts], headers: Sequence[list[tuple[str, str]]],
          mjml_templates: dict[tuple[MessageKind, str], jinja2.Template], folder: str) -> None:
    """Per message: Jinja on MJML → mjml2html → premailer → EmailMessage → as_bytes(), then write."""
    made: set[str] = set()
    for parts, message_headers in zip(all_parts, headers, strict=True):
        source = mjml_templates[(parts.kind, parts.template.language)].render(parts.context)
        html = inline_mjml(source.replace("\r\n", "\n"))  # MRML rejects some CRLF
        text = parts.template.text.render(parts.context)
        message = EmailMessage(policy=SMTP)
        for name, value in message_headers:
            message[name] = value
        message.set_content(text.replace("\r\n", "\n"), cte="quoted-printable")
        message.add_alternative(html.replace("\r\n", "\n"), subtype="html", cte="base64")
        eml = message.as_bytes()
        write_files(folder, parts.contact_id, parts.kind,
                    (("html", html.encode("utf-8")), ("txt", text.encode("utf-8")), ("eml", eml)), made)


def file_create_ms(folder: Path, count: int = 600) -> float:
    """Return the milliseconds this file system takes to create and fill one small file now."""
    folder.mkdir()
    start = time.perf_counter()
    for index in range(count):
        fd = os.open(folder / str(index), FILE_FLAGS, 0o644)
        os.write(fd, b"x" * 4096)
        os.close(fd)
    return (time.perf_counter() - start) / count * 1000


def timed(folder: Path, work: Callable[[str], None], setup: Callable[[], None] | None = None) -> float:
    """Return the wall time of one run of `work` into the new folder `folder`."""
    folder.mkdir()
    if setup:
        setup()
    gc.collect()
    # Every path runs without the cyclic GC, as Windstil's render processes do: the floor must
    # not pay for collections the real path does not make.
    gc.disable()
    try:
        start = time.perf_counter()
        work(str(folder))
        return time.perf_counter() - start
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None, help="folder for the demo project (default: a temp dir)")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--recipients", type=int, default=600, help="contacts rendered by every path")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the loader's warnings about the demo data are not the point here

    root = demo_project(args.work or Path(tempfile.mkdtemp(prefix="windstil-bench-")), args.customers)
    as_of = date.fromisoformat(AS_OF)
    project = load_project(root)
    data, config, settings = project.data, project.segments, project.settings
    segmentation = resolve_segmentation(data, config, as_of, None)
    quiet = quiet_periods(data, config, as_of)
    selections = select(data, config, segmentation, quiet, [], as_of, set())
    compiled = compile_templates(settings, data.content)
    todo = [s for s in selections if s.newsletter or s.alert][: args.recipients]
    all_parts = [p for s in todo for p in message_parts(compiled, s, data, settings, as_of, SECRET)]
    mjml_templates = naive_templates(compiled, settings.paths.templates)
    headers = naive_headers(all_parts)
    workers.hold_for_rendering(compiled, settings, data.content, data.account_managers, data.products,
                                   as_of, SECRET)
    messages = len(all_parts)

    # Beside the run folders: the same file system `windstil run` writes to. Nothing is deleted
    # until the end: ext4 skips recently freed inodes one by one when it creates a file, so
    # deleting a repetition's thousands of files would slow down the next one's writes.
    scratch = Path(tempfile.mkdtemp(prefix=".bench-render-", dir=settings.paths.output.parent))
    try:
        create_before = file_create_ms(scratch / "probe-before")
        # Warm up imports and Jinja's first-render work.
        for chunk in workers.chunks(todo[:20], data, workers.CHUNK, scratch / "warm-up"):
            workers.render_chunk(chunk)
        times = {"floor": float("inf"), "windstil": float("inf"), "naive": float("inf")}

        def cold_worker() -> None:
            # What a fresh render process holds: compiled templates, no per-customer values.
            compiled.cache.clear()

        def windstil(folder: str) -> None:
            # Chunks cut as `windstil run` cuts them (in --jobs 1 it renders them in-process; with
            # more, a render process gets each one pickled), each rendered as a render process does.
            for chunk in workers.chunks(todo, data, workers.CHUNK, Path(folder)):
                workers.render_chunk(chunk)

        # Interleaved, so a burst of disk or CPU contention hits every path alike; best of each.
        for attempt in range(args.repeat):
            for name, work, setup in (
                ("floor", lambda f: floor(all_parts, f), None),
                ("windstil", windstil, cold_worker),
                ("naive", lambda f: naive(all_parts, headers, mjml_templates, f), None),
            ):
                times[name] = min(times[name], timed(scratch / f"{name}-{attempt}", work, setup))
        create_after = file_create_ms(scratch / "probe-after")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        workers.WORKER.clear()
    naive_ms, floor_ms, windstil_ms = (times[k] / messages * 1000 for k in ("naive", "floor", "windstil"))
    print(f"customers: {len(data.customers)}")
    print(f"recipients: {len(todo)}")
    print(f"messages: {messages}")
    # Context for the figures: the floor includes three file creations a message, and this
    # machine's ext4 makes a creation slow for minutes after many deletions anywhere near.
    print(f"file_create_ms: {create_before:.3f} before, {create_after:.3f} after")
    print(f"naive_ms: {naive_ms:.3f}")
    print(f"floor_ms: {floor_ms:.3f}")
    print(f"windstil_ms: {windstil_ms:.3f}")
    print(f"speedup_vs_naive: {naive_ms / windstil_ms:.1f}")
    print(f"ratio_to_floor: {windstil_ms / floor_ms:.2f}")


if __name__ == "__main__":
    main()
