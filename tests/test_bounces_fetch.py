"""`windstil bounces fetch` against a real IMAP server (Dovecot) that the test starts itself.

Dovecot runs in the foreground from a config in a temporary folder: one passwd-file user,
plain IMAP on a free 127.0.0.1 port, mail in a Maildir under the same folder. The sample
mails are put into its INBOX over IMAP (APPEND), then fetched, classified and recorded; a
second fetch fetches nothing. Skipped, with the reason, where Dovecot is not installed
(Debian package dovecot-imapd).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tiny_project
from imap_tools import MailBoxUnencrypted

from pipeline.cli import cli

SECRET = "bounce-test-secret-0123456789abcdef"
RUN_ID = "2026-11-30"
SAMPLES = sorted((Path(__file__).parent / "data" / "mail" / "samples").glob("*.eml"))
USER = "bounces@polderlicht-it.nl"
PASSWORD = "imap-test-password-7f3a"
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)

pytestmark = pytest.mark.skipif(
    DOVECOT is None, reason="Dovecot is not installed (Debian: apt-get install dovecot-imapd)"
)


@dataclass
class Imap:
    port: int
    folder: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dovecot_config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        # Dovecot never accesses mail as root: the mailbox belongs to nobody.
        uid = gid = 65534
        users = ""
    else:
        uid, gid = os.getuid(), os.getgid()
        name = pwd.getpwuid(uid).pw_name
        users = f"default_login_user = {name}\ndefault_internal_user = {name}\n"
    (root / "home").mkdir()
    if os.geteuid() == 0:
        os.chown(root / "home", uid, gid)
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = windstil-test-{port}
{users}protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {min(uid, 1)}
mail_location = maildir:{root}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture(scope="module")
def imap() -> Iterator[Imap]:
    # Not under pytest's temporary folder: that is private to the user running the tests,
    # and Dovecot's auth process (user dovecot) must read the passwd file.
    root = Path(tempfile.mkdtemp(prefix="windstil-dovecot-"))
    root.chmod(0o755)
    port = free_port()
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (root / "passwd").chmod(0o644)
    (root / "dovecot.conf").write_text(dovecot_config(root, port))
    assert DOVECOT is not None
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    if conn.recv(100).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                output = process.stdout.read().decode() if process.stdout and process.poll() is not None else ""
                pytest.skip(f"Dovecot did not start here: {output or log}")
            time.sleep(0.1)
        yield Imap(port, root)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_fetch_classifies_the_samples_once(imap: Imap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The samples placed in a real mailbox are fetched, classified, recorded, and not fetched again."""
    monkeypatch.setenv("WINDSTIL_SECRET", SECRET)
    project = write_tiny_project(tmp_path / "project")
    with (project / "settings.yaml").open("a") as handle:
        handle.write(f"bounces: {{host: 127.0.0.1, port: {imap.port}, username: {USER}, folder: INBOX, "
                     "security: none}\n")
    for args in (("run", "--as-of", RUN_ID, "--jobs", "1"), ("approve", RUN_ID)):
        code, out, err = invoke(project, *args)
        assert code == 0, out + err
    with MailBoxUnencrypted("127.0.0.1", imap.port).login(USER, PASSWORD) as box:
        for path in SAMPLES:
            box.append(path.read_bytes(), "INBOX")

    monkeypatch.setenv("WINDSTIL_IMAP_PASSWORD", "wrong")
    code, _, err = invoke(project, "bounces", "fetch")
    assert code == 1 and "login refused" in err

    monkeypatch.setenv("WINDSTIL_IMAP_PASSWORD", PASSWORD)
    code, out, err = invoke(project, "bounces", "fetch")
    assert code == 0, out + err
    assert "9 new mails (3 auto_reply, 3 hard_bounce, 1 reply, 1 soft_bounce, 1 unsubscribe); 0 read before" in out
    with sqlite3.connect(project / "output" / "state.sqlite") as conn:
        assert conn.execute("SELECT contact_id FROM feedback WHERE kind = 'reply'").fetchall() == [("P007",)]
        assert conn.execute("SELECT count(*) FROM mail_seen WHERE kind = 'imap uid'").fetchone() == (9,)
        suppressed = {r[0] for r in conn.execute("SELECT email FROM suppressions WHERE source LIKE 'bounces fetch%'")}
    assert suppressed == {"p.smit@lindehof.nl", "lars@nieuwbegin.nl", "s.dekker@thm.nl", "a.jansen@lindehof.nl"}

    # Fetched once: the UIDs are remembered, so nothing is fetched or read again.
    code, out, _ = invoke(project, "bounces", "fetch")
    assert code == 0 and "0 new mails (nothing new); 9 read before" in out
    # A new mail is fetched alone; the server's mails stay unread and in place.
    reply = SAMPLES[-1].read_bytes().replace(b"<DB9PR07MB8123E4F5", b"<DB9PR07MB8123FFFF")
    with MailBoxUnencrypted("127.0.0.1", imap.port).login(USER, PASSWORD) as box:
        box.append(reply, "INBOX")
    code, out, _ = invoke(project, "bounces", "fetch")
    assert code == 0 and "1 new mails (1 reply); 9 read before" in out
    with MailBoxUnencrypted("127.0.0.1", imap.port).login(USER, PASSWORD) as box:
        status = box.folder.status("INBOX")
    assert (status["MESSAGES"], status["UNSEEN"]) == (10, 10)
