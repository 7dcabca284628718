"""The SMTP transport of `windstil send`: TLS with certificate checks, XOAUTH2, DKIM, settings.

Certificates come from `trustme` (a throw-away CA made in the test); the server is aiosmtpd
on 127.0.0.1, as in test_send.py.
"""

from __future__ import annotations

import shutil
import ssl
import sys
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from conftest import AS_OF, SETTINGS_YAML, write_tiny_project
from smtp_server import smtp_server

from pipeline.approve import approve_run
from pipeline.cli import cli
from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.mail.send import send_run
from pipeline.run import run_batch

RUN = AS_OF.isoformat()


@pytest.fixture(scope="module")
def approved_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_tiny_project(tmp_path_factory.mktemp("transport") / "project")
    run_batch(root, as_of=AS_OF, jobs=1)
    approve_run(root, RUN)
    return root


@pytest.fixture
def project(approved_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(approved_template, root)
    return root


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls(ca: trustme.CA, tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1, and the CA file that trusts it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


def configure(root: Path, text: str) -> None:
    with (root / "settings.yaml").open("a", encoding="utf-8") as handle:
        handle.write("delivery:\n" + "".join(f"  {line.strip()}\n" for line in text.strip().splitlines()))


def invoke(root: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["--project", str(root), *args], catch_exceptions=False)


def test_starttls_with_a_verified_certificate_and_login(
    project: Path, tls: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """security: starttls upgrades the connection, verifies the certificate (against ca_file) and logs in."""
    from smtp_server import password_authenticator

    context, ca_file = tls
    monkeypatch.setenv("WINDSTIL_SMTP_PASSWORD", "geheim")
    authenticator = password_authenticator({"nieuws@polderlicht-it.nl": "geheim"})
    with smtp_server(tls_context=context, require_starttls=True, auth_require_tls=True,
                     authenticator=authenticator) as (server, recorder):
        configure(project, f"""host: 127.0.0.1
            port: {server.port}
            security: starttls
            username: nieuws@polderlicht-it.nl
            ca_file: {ca_file}
            per_minute: null""")
        result = invoke(project, "send", RUN)
    assert result.exit_code == 0, result.output
    assert len(recorder.received) == 10
    assert f"via 127.0.0.1:{server.port}: 10 sent" in result.output


def test_starttls_with_an_untrusted_certificate_is_one_line_exit_1(
    project: Path, tls: tuple[ssl.SSLContext, Path]
) -> None:
    """Without the CA, the server's certificate is not trusted: one line, exit 1, nothing sent."""
    context, _ = tls
    with smtp_server(tls_context=context, require_starttls=True) as (server, recorder):
        configure(project, f"""host: 127.0.0.1
            port: {server.port}
            security: starttls
            auth: none""")
        result = invoke(project, "send", RUN)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: 127.0.0.1:{server.port}: the server's TLS certificate is not trusted")
    assert recorder.transactions == 0


def test_implicit_tls(project: Path, tls: tuple[ssl.SSLContext, Path]) -> None:
    """security: tls (port 465 style) speaks TLS from the first byte and verifies the certificate."""
    context, ca_file = tls
    with smtp_server(ssl_context=context) as (server, recorder):
        configure(project, f"""host: 127.0.0.1
            port: {server.port}
            security: tls
            auth: none
            ca_file: {ca_file}
            per_minute: null""")
        result = send_run(project, RUN)
    assert result.exit_code == 0 and len(recorder.received) == result.counts["sent"] > 0


def token_command(folder: Path, body: str) -> str:
    """Return a token_command that runs a small Python script with `body`."""
    script = folder / "token.py"
    script.write_text(body + "\n", encoding="utf-8")
    return f"{sys.executable} {script}"


def test_xoauth2_with_token_command(project: Path, tmp_path: Path) -> None:
    """auth: xoauth2 logs in with the token that token_command prints (Microsoft 365, Google)."""
    command = token_command(tmp_path, "print('good-token')")
    with smtp_server(auth_require_tls=False) as (server, recorder):
        configure(project, f"""host: 127.0.0.1
            port: {server.port}
            security: none
            auth: xoauth2
            username: nieuws@polderlicht-it.nl
            token_command: {command}
            per_minute: null""")
        result = send_run(project, RUN)
    assert result.exit_code == 0 and recorder.received
    assert recorder.oauth_logins == ["user=nieuws@polderlicht-it.nl\x01auth=Bearer good-token\x01\x01"]


def test_xoauth2_refused_token_is_one_line_exit_1(project: Path, tmp_path: Path) -> None:
    command = token_command(tmp_path, "print('expired-token')")
    with smtp_server() as (server, recorder):
        configure(project, f"""host: 127.0.0.1
            port: {server.port}
            security: none
            auth: xoauth2
            username: nieuws@polderlicht-it.nl
            token_command: {command}""")
        result = invoke(project, "send", RUN)
    assert result.exit_code == 1
    assert "login refused for nieuws@polderlicht-it.nl (535" in result.output
    assert "delivery.token_command" in result.output and recorder.transactions == 0


def test_failing_token_command_is_one_line_exit_1(project: Path, tmp_path: Path) -> None:
    command = token_command(tmp_path, "import sys; sys.exit('az: not logged in')")
    with smtp_server() as (server, _):
        configure(project, f"""host: 127.0.0.1
            port: {server.port}
            security: none
            auth: xoauth2
            username: nieuws@polderlicht-it.nl
            token_command: {command}""")
        result = invoke(project, "send", RUN)
    assert result.exit_code == 1
    assert result.output.strip() == ("error: settings.yaml: delivery.token_command: exit 1, no single-line token "
                                     "(az: not logged in)")


def test_dkim_signature_verifies(project: Path, tmp_path: Path) -> None:
    """With delivery.dkim the message is signed over From … List-Unsubscribe-Post, and the signature verifies."""
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    with smtp_server() as (server, recorder):
        configure(project, f"""host: 127.0.0.1
            port: {server.port}
            security: none
            auth: none
            per_minute: null
            dkim: {{domain: polderlicht-it.nl, selector: nieuws2026, key_file: {key_file}}}""")
        send_run(project, RUN)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"nieuws2026._domainkey.polderlicht-it.nl."
        return record

    newsletter = next(r for r in recorder.received if b"List-Unsubscribe-Post" in r.data)
    assert newsletter.data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(newsletter.data, dnsfunc=dns)
    signed = dkim.DKIM(newsletter.data)
    header = newsletter.data.split(b"\r\n\r\n", 1)[0].decode()
    h = header.split(" h=", 1)[1].split(";", 1)[0].replace("\r\n", "").replace(" ", "").replace("\t", "")
    assert set(h.lower().split(":")) >= {"from", "to", "subject", "date", "message-id", "list-id",
                                         "list-unsubscribe", "list-unsubscribe-post"}
    tampered = newsletter.data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                                       b"List-Unsubscribe-Post: nothing", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)
    del signed


# --------------------------------------------------------------------------- settings


def settings_with(root: Path, block: str) -> Path:
    text = (root / "settings.yaml").read_text(encoding="utf-8")
    (root / "settings.yaml").write_text(text + block, encoding="utf-8")
    return root


def test_delivery_settings_problems_are_all_reported_with_their_key_path(tiny_project: Path) -> None:
    settings_with(tiny_project, """delivery:
  host: smtp.office365.com
  port: 99999
  security: ssl
  auth: password
  per_minute: -1
  connections: 20
  max_attempts: "5"
  envelope_from: not-an-address
  ca_file: missing.pem
  dkim: {domain: polderlicht-it.nl, selector: s1}
  retries: 3
""")
    with pytest.raises(ConfigError) as caught:
        load_settings(tiny_project)
    found = {p.field: p.message for p in caught.value.problems}
    assert found["delivery.port"] == "must be a whole number from 1 to 65535"
    assert found["delivery.security"] == "must be one of starttls, tls, none"
    assert found["delivery.username"] == "required with auth: password"
    assert found["delivery.per_minute"] == "must be a whole number ≥ 1"
    assert found["delivery.connections"] == "must be a whole number from 1 to 10"
    assert found["delivery.max_attempts"] == "must be a whole number from 1 to 50"
    assert found["delivery.envelope_from"].startswith("not a valid e-mail address")
    assert found["delivery.ca_file"].startswith("file not found")
    assert found["delivery.dkim.key_file"] == "required key is missing"
    assert found["delivery.retries"].startswith("unknown key")
    lines = {p.field: p.line for p in caught.value.problems}
    base = len(SETTINGS_YAML.splitlines())  # the tiny project's own lines come first
    assert lines["delivery.port"] == base + 3 and lines["delivery.retries"] == base + 12


def test_plain_text_only_to_this_machine(tiny_project: Path) -> None:
    settings_with(tiny_project, "delivery: {host: smtp.example.nl, security: none, auth: none}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tiny_project)
    assert [p.field for p in caught.value.problems] == ["delivery.security"]


def test_delivery_defaults(tiny_project: Path) -> None:
    settings_with(tiny_project, "delivery: {host: smtp.office365.com, username: nieuws@polderlicht-it.nl}\n")
    delivery = load_settings(tiny_project).delivery
    assert delivery is not None
    assert (delivery.port, delivery.security, delivery.auth, delivery.per_minute, delivery.per_day,
            delivery.connections, delivery.max_attempts) == (587, "starttls", "password", 30, 10000, 1, 5)


def test_sample_settings_delivery_block_validates_when_uncommented(tmp_path: Path) -> None:
    """The commented Microsoft 365 example in the sample settings.yaml is valid as written."""
    repo = Path(__file__).resolve().parents[1]
    text = (repo / "settings.yaml").read_text(encoding="utf-8")
    assert "\n# delivery:" in text
    block = text[text.index("\n# delivery:") + 1:]
    lines = []
    for line in block.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[2:] if line.startswith("# ") else line[1:])
    shutil.copytree(repo, tmp_path / "project", ignore=shutil.ignore_patterns("output", ".venv", ".git", "tests"))
    settings_with(tmp_path / "project", "\n".join(lines) + "\n")
    delivery = load_settings(tmp_path / "project").delivery
    assert delivery is not None
    assert (delivery.host, delivery.port, delivery.security, delivery.per_minute, delivery.connections) == (
        "smtp.office365.com", 587, "starttls", 30, 1)
