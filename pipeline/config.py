"""Load and validate settings.yaml and segments.yaml, reporting every problem at once.

Each problem names its key path (`treatment.A.max_items`) and, where the YAML shows it, the
line. Unknown keys are errors: a typo must never be silently ignored. Numbers that decide
segments (weights, cut-offs) are read as exact fractions of their written decimal, so
`0.5 + 0.3 + 0.2` is exactly 1.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email

from pipeline.errors import ConfigError, Problem
from pipeline.models import (
    LANGUAGES,
    SPAM_MAX_VARIANTS,
    BounceMailbox,
    DeliverySettings,
    DkimSettings,
    Level,
    OurLevel,
    Override,
    Paths,
    ScheduleRule,
    Segment,
    SegmentsConfig,
    SelectionWeights,
    Settings,
    StrategicPoints,
    Tracking,
    Treatment,
)
from pipeline.yamlfile import read_yaml, yaml_date

log = logging.getLogger(__name__)

T = TypeVar("T")

SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
GROUP_ATTRIBUTES = ("sector", "language", "account_manager_id")
VALUE_ELEMENTS = ("revenue", "margin", "strategic")
DEFAULT_PATHS = {
    "data": "data",
    "content": "content",
    "templates": "templates",
    "output": "output",
    "state": "output/state.sqlite",
}


class _Checker:
    """Collect problems for one file; every getter returns a usable default after a problem."""

    def __init__(self, display: str, lines: dict[str, int]) -> None:
        self.display = display
        self.lines = lines
        self.problems: list[Problem] = []
        for key, line in lines.items():
            if key.startswith("\x00duplicate:"):
                name = key.removeprefix("\x00duplicate:")
                self.problems.append(Problem(display, line, name, "key appears twice"))

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.display, self.line_of(key), key, message))

    def line_of(self, key: str) -> int | None:
        """Return the line of `key`, else of its nearest parent present in the file."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", key) if re.search(r"[.\[]", key) else ""
        return None

    def mapping(
        self,
        value: Any,
        key: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Return `value` as a mapping, reporting unknown and missing keys."""
        where = key or "the file"
        if value is None:
            if key and key not in self.lines:
                return {}  # absent: the parent already reports it if it is required
            value = {}
        if not isinstance(value, Mapping):
            self.problem(key, f"must be a mapping of keys ({', '.join(allowed)})")
            return {}
        result: dict[str, Any] = {}
        for name, item in value.items():
            if not isinstance(name, str) or name not in allowed:
                sub = f"{key}.{name}" if key else str(name)
                self.problem(sub, f"unknown key (allowed in {where}: {', '.join(allowed)})")
                continue
            result[name] = item
        for name in required:
            if name not in result:
                self.problem(f"{key}.{name}" if key else name, "required key is missing")
        return result

    def text(self, value: Any, key: str, *, required: bool = True, default: str = "") -> str:
        if value is None:
            if required:
                self.problem(key, "required value is missing")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(key, "must be text")
            return default
        text = str(value).strip()
        if required and not text:
            self.problem(key, "must not be empty")
        if any(ch in text for ch in "\r\n\x00"):
            self.problem(key, "must be a single line")
            return default
        return text

    def email(self, value: Any, key: str, *, required: bool = True) -> str:
        text = self.text(value, key, required=required)
        if not text:
            return ""
        try:
            return str(validate_email(text, check_deliverability=False).normalized)
        except EmailNotValidError as error:
            self.problem(key, f"not a valid e-mail address: {error}")
            return text

    def url(self, value: Any, key: str, *, https_only: bool = False) -> str:
        text = self.text(value, key)
        if not text:
            return ""
        pattern = r"https://[^\s/]+\.[^\s]*" if https_only else r"https?://[^\s/]+\.[^\s]*"
        if not re.fullmatch(pattern, text):
            kind = "an https:// URL" if https_only else "an http:// or https:// URL"
            self.problem(key, f"must be {kind}")
        return text

    def whole(self, value: Any, key: str, *, minimum: int = 1, maximum: int | None = None, default: int) -> int:
        if value is None:
            return default
        bound = f"≥ {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"must be a whole number {bound}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            self.problem(key, f"must be a whole number {bound}")
            return default
        return value

    def fraction(self, value: Any, key: str) -> Fraction | None:
        """Return the exact value of a written number (0.1 is 1/10, not its float)."""
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.problem(key, "must be a number")  # YAML's .inf and .nan are not amounts or weights
            return None
        return Fraction(str(value))

    def decimal(self, top: dict[str, Any], key: str, default: Decimal, within: Callable[[Fraction], bool],
                message: str) -> Decimal:
        """Return the number under `key` as the Decimal written (0.3 is 0.3), `default` when absent or wrong."""
        if key not in top:
            return default
        if isinstance(top[key], str) and top[key].strip().endswith("%"):  # "5%": meant well, written as text
            self.problem(key, message)
            return default
        exact = self.fraction(top[key], key)
        if exact is None:
            return default
        if not within(exact):
            self.problem(key, message)
            return default
        return Decimal(str(top[key]))

    def flag(self, value: Any, key: str, *, default: bool = False) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, "must be true or false")
            return default
        return value

    def day(self, value: Any, key: str) -> date | None:
        if value is None:
            return None
        parsed = yaml_date(value)
        if parsed is None:
            self.problem(key, "must be a date YYYY-MM-DD")
        return parsed

    def choice(self, value: Any, key: str, make: Callable[[str], T], allowed: str) -> T | None:
        if isinstance(value, str):
            try:
                return make(value.strip())
            except ValueError:
                pass
        self.problem(key, f"must be one of {allowed}")
        return None

    def items(self, value: Any, key: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, "must be a list")
            return []
        return value


# --------------------------------------------------------------------------- settings.yaml


def load_settings(root: Path) -> Settings:
    """Read and validate `root/settings.yaml`; raise ConfigError listing every problem."""
    document, lines = read_yaml(root / "settings.yaml", "settings.yaml")
    check = _Checker("settings.yaml", lines)
    top = check.mapping(
        document,
        "",
        (
            "sender",
            "company",
            "utm",
            "unsubscribe",
            "paths",
            "decimal_mark",
            "max_reject_share",
            "language",
            "checks",
            "tracking",
            "bounces",
            "delivery",
        ),
        required=("sender", "company", "unsubscribe"),
    )
    sender = check.mapping(top.get("sender"), "sender", ("name", "email", "reply_to"), ("name", "email"))
    sender_email = check.email(sender.get("email"), "sender.email") if "email" in sender else ""
    reply_to = check.email(sender.get("reply_to"), "sender.reply_to", required=False)
    company = check.mapping(
        top.get("company"),
        "company",
        ("name", "address", "phone", "website"),
        ("name", "address", "website"),
    )
    address = _address(check, company.get("address")) if "address" in company else ""
    utm = check.mapping(top.get("utm"), "utm", ("source", "medium"))
    unsubscribe = check.mapping(top.get("unsubscribe"), "unsubscribe", ("url", "mailto"), ("url", "mailto"))
    mark = top.get("decimal_mark", ".")
    if mark not in (".", ","):
        check.problem("decimal_mark", 'must be "." or ","')
        mark = "."
    share = _max_reject_share(check, top)
    paths = _paths(check, root, top.get("paths"))
    language = _language(check, top)
    checks = check.mapping(top.get("checks"), "checks", ("enabled", "spam_max_variants"))
    delivery = _delivery(check, root, top["delivery"]) if top.get("delivery") is not None else None
    settings = Settings(
        paths=paths,
        sender_name=check.text(sender.get("name"), "sender.name") if "name" in sender else "",
        sender_email=sender_email,
        reply_to=reply_to or sender_email,
        company_name=check.text(company.get("name"), "company.name") if "name" in company else "",
        postal_address=address,
        company_phone=check.text(company.get("phone"), "company.phone", required=False),
        website_url=check.url(company.get("website"), "company.website") if "website" in company else "",
        unsubscribe_url=check.url(unsubscribe.get("url"), "unsubscribe.url", https_only=True)
        if "url" in unsubscribe
        else "",
        unsubscribe_mailto=_mailto(check, unsubscribe.get("mailto")) if "mailto" in unsubscribe else "",
        decimal_mark=mark,
        max_reject_share=share,
        utm_source=check.text(utm.get("source"), "utm.source", required=False) or "newsletter",
        utm_medium=check.text(utm.get("medium"), "utm.medium", required=False) or "email",
        language=language,
        checks_enabled=check.flag(checks.get("enabled"), "checks.enabled", default=True),
        spam_max_variants=check.whole(checks.get("spam_max_variants"), "checks.spam_max_variants", minimum=0,
                                      default=SPAM_MAX_VARIANTS),
        tracking=_tracking(check, top.get("tracking")),
        bounces=_bounces(check, top.get("bounces")),
        delivery=delivery,
    )
    if check.problems:
        raise ConfigError(f"settings.yaml has {_count(check.problems)}", sorted(check.problems, key=_order))
    return settings


def _max_reject_share(check: _Checker, top: dict[str, Any]) -> Decimal:
    """Return settings.yaml's max_reject_share (default 5%), checked to be a share from 0 to 1."""
    return check.decimal(top, "max_reject_share", Decimal("0.05"), lambda share: 0 <= share <= 1,
                         "must be a share from 0 to 1 (0.05 is 5%)")


def _language(check: _Checker, top: dict[str, Any]) -> str:
    """Return settings.yaml's language (default nl), one of LANGUAGES."""
    given = top.get("language", "nl")
    language = given.strip().lower() if isinstance(given, str) else given  # NL is nl, as in the CSV files
    if language not in LANGUAGES:
        check.problem("language", f"must be one of {', '.join(LANGUAGES)} (the language of the site and call lists)")
        language = "nl"
    return str(language)


def load_settings_leniently(root: Path) -> Settings | None:
    """Return settings good enough to find and read the data when settings.yaml has problems.

    The problems are reported already; this lets validate go on to check data/, content/ and
    templates in the same round. Paths and decimal mark come from the file where they are
    valid, defaults otherwise. None when the file cannot even be read as YAML.
    """
    try:
        document, _ = read_yaml(root / "settings.yaml", "settings.yaml")
    except ConfigError:
        return None
    given = document if isinstance(document, dict) else {}
    check = _Checker("settings.yaml", {})
    paths = _paths(check, root, given.get("paths") if isinstance(given.get("paths"), dict) else None)
    mark = given.get("decimal_mark") if given.get("decimal_mark") in (".", ",") else "."
    return Settings(
        paths=paths,
        sender_name="",
        sender_email="",
        reply_to="",
        company_name="",
        postal_address="",
        company_phone="",
        website_url="",
        unsubscribe_url="",
        unsubscribe_mailto="",
        decimal_mark=str(mark),
        language=_language(check, given),
    )


def _address(check: _Checker, value: Any) -> str:
    if isinstance(value, str):
        value = [value]
    lines = [check.text(v, f"company.address[{i}]") for i, v in enumerate(check.items(value, "company.address"))]
    if not any(lines):
        check.problem("company.address", "the postal address is required (it goes in every footer)")
    return "\n".join(line for line in lines if line)


def _tracking(check: _Checker, value: Any) -> Tracking | None:
    """Read `tracking: {clicks, url}`; click tracking is off unless `clicks: true`."""
    given = check.mapping(value, "tracking", ("clicks", "url"))
    clicks = check.flag(given.get("clicks"), "tracking.clicks")
    if not clicks:
        return None
    if "url" not in given:
        check.problem("tracking.url", "required when tracking.clicks is true (the https address of `windstil serve`)")
        return None
    url = check.url(given.get("url"), "tracking.url", https_only=True)
    if "?" in url or "#" in url:
        check.problem("tracking.url", "must not carry a query or fragment (the token is added as ?t=)")
    return Tracking(clicks=True, url=url)


def _bounces(check: _Checker, value: Any) -> BounceMailbox | None:
    """Read `bounces: {host, port, username, folder, security}` for `windstil bounces fetch`."""
    if value is None:
        return None
    given = check.mapping(
        value, "bounces", ("host", "port", "username", "folder", "security"), required=("host", "username")
    )
    host = check.text(given.get("host"), "bounces.host") if "host" in given else ""
    if host and not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host):
        check.problem("bounces.host", "must be a host name or an IP address")
    security = "tls"
    if "security" in given:
        security = check.text(given.get("security"), "bounces.security")
        if security not in ("tls", "starttls", "none"):
            check.problem("bounces.security", "must be one of tls, starttls, none")
            security = "tls"
    if security == "none" and host and host.lower() not in LOCAL_HOSTS:
        check.problem("bounces.security", "none sends the password unencrypted: only for a server on this machine "
                      "(host localhost or 127.0.0.1); use tls or starttls")
    port = check.whole(given.get("port"), "bounces.port", maximum=65535, default=993 if security == "tls" else 143)
    return BounceMailbox(
        host=host,
        port=port,
        username=check.text(given.get("username"), "bounces.username") if "username" in given else "",
        folder=check.text(given.get("folder"), "bounces.folder", required=False) or "INBOX",
        security=security,
    )


def _mailto(check: _Checker, value: Any) -> str:
    if isinstance(value, str) and value.strip().lower().startswith("mailto:"):
        value = value.strip()[len("mailto:") :]
    return check.email(value, "unsubscribe.mailto")


def _paths(check: _Checker, root: Path, value: Any) -> Paths:
    given = check.mapping(value, "paths", tuple(DEFAULT_PATHS))
    resolved: dict[str, Path] = {}
    base = root.resolve()
    for name, default in DEFAULT_PATHS.items():
        key = f"paths.{name}"
        text = check.text(given.get(name), key, required=False) or default
        path = Path(text).expanduser()
        if path.is_absolute():
            # An absolute path is the user's explicit choice (e.g. a shared drive): allowed.
            resolved[name] = path
            continue
        full = (base / path).resolve()
        if not full.is_relative_to(base):
            check.problem(key, "a relative path must stay inside the project folder")
            full = (base / default).resolve()
        resolved[name] = full
    return Paths(root=base, **resolved)


DELIVERY_KEYS = (
    "host", "port", "security", "auth", "username", "token_command", "envelope_from",
    "per_minute", "per_day", "connections", "max_attempts", "timeout", "ca_file", "dkim",
)
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _delivery(check: _Checker, root: Path, value: Any) -> DeliverySettings:
    """Return the `delivery:` block (SMTP submission for `windstil send`), every problem reported."""
    given = check.mapping(value, "delivery", DELIVERY_KEYS, ("host",))
    host = check.text(given.get("host"), "delivery.host") if "host" in given else ""
    if host and not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host):
        check.problem("delivery.host", "must be a host name or an IP address")
    security = "starttls"
    if "security" in given:
        security = check.choice(given["security"], "delivery.security", _one_of(DEFAULT_PORTS), "starttls, tls, none") \
            or security
    if security == "none" and host and host.lower() not in LOCAL_HOSTS:
        check.problem("delivery.security", "none sends in plain text: only for a relay on this machine "
                      "(host localhost or 127.0.0.1); use starttls or tls")
    auth = "password"
    if "auth" in given:
        auth = check.choice(given["auth"], "delivery.auth", _one_of(("password", "xoauth2", "none")),
                            "password, xoauth2, none") or auth
    port = check.whole(given.get("port"), "delivery.port", maximum=65535, default=DEFAULT_PORTS[security])
    username = check.text(given.get("username"), "delivery.username", required=False)
    if auth != "none" and not username:
        check.problem("delivery.username", f"required with auth: {auth}")
    token_command = check.text(given.get("token_command"), "delivery.token_command", required=False)
    if auth == "xoauth2" and not token_command:
        check.problem("delivery.token_command", "required with auth: xoauth2 (a command that prints an access token)")
    envelope_from = check.email(given.get("envelope_from"), "delivery.envelope_from", required=False)
    per_minute = _limit(check, given, "per_minute", 30)
    per_day = _limit(check, given, "per_day", 10000)
    connections = check.whole(given.get("connections"), "delivery.connections", maximum=10, default=1)
    max_attempts = check.whole(given.get("max_attempts"), "delivery.max_attempts", maximum=50, default=5)
    timeout = 60.0
    if "timeout" in given:
        exact = check.fraction(given["timeout"], "delivery.timeout")
        if exact is not None and not 1 <= exact <= 600:
            check.problem("delivery.timeout", "must be a number of seconds from 1 to 600")
        elif exact is not None:
            timeout = float(exact)
    ca_file = _existing_file(check, root, given.get("ca_file"), "delivery.ca_file") if "ca_file" in given else None
    dkim = None
    if given.get("dkim") is not None:
        entry = check.mapping(given["dkim"], "delivery.dkim", ("domain", "selector", "key_file"),
                              ("domain", "selector", "key_file"))
        domain = check.text(entry.get("domain"), "delivery.dkim.domain") if "domain" in entry else ""
        selector = check.text(entry.get("selector"), "delivery.dkim.selector") if "selector" in entry else ""
        for key, text in (("domain", domain), ("selector", selector)):
            if text and not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", text):
                check.problem(f"delivery.dkim.{key}", "must be a DNS name")
        key_file = (_existing_file(check, root, entry["key_file"], "delivery.dkim.key_file")
                    if "key_file" in entry else None)
        if domain and selector and key_file is not None:
            dkim = DkimSettings(domain=domain.lower(), selector=selector, key_file=key_file)
    return DeliverySettings(
        host=host, port=port, security=security, auth=auth, username=username, token_command=token_command,
        envelope_from=envelope_from, per_minute=per_minute, per_day=per_day, connections=connections,
        max_attempts=max_attempts, timeout=timeout, ca_file=ca_file, dkim=dkim,
    )


def _one_of(names: Mapping[str, Any] | tuple[str, ...]) -> Callable[[str], str]:
    def make(text: str) -> str:
        if text not in names:
            raise ValueError(text)
        return text

    return make


def _limit(check: _Checker, given: dict[str, Any], name: str, default: int) -> int | None:
    """Return a pacing limit: a whole number ≥ 1, or None for `null` (no limit)."""
    if name not in given:
        return default
    if given[name] is None:
        return None
    return check.whole(given[name], f"delivery.{name}", default=default)


def _existing_file(check: _Checker, root: Path, value: Any, key: str) -> Path | None:
    text = check.text(value, key)
    if not text:
        return None
    path = Path(text).expanduser()
    path = path if path.is_absolute() else root.resolve() / path
    if not path.is_file():
        check.problem(key, f"file not found: {path}")
        return None
    return path


# --------------------------------------------------------------------------- segments.yaml


def load_segments_config(path: Path) -> SegmentsConfig:
    """Read and validate segments.yaml; raise ConfigError listing every problem."""
    display = path.name
    document, lines = read_yaml(path, display)
    check = _Checker(display, lines)
    top = check.mapping(
        document,
        "",
        (
            "window_months",
            "value_elements",
            "groups",
            "cutoffs",
            "overrides",
            "quiet_period",
            "treatment",
            "satisfaction_norm",
            "selection",
            "revenue_decline",
        ),
        required=("window_months", "value_elements", "cutoffs", "treatment"),
    )
    window = check.whole(top.get("window_months"), "window_months", maximum=120, default=12)
    weights, points = _value_elements(check, top.get("value_elements"))
    groups_by = _groups(check, top.get("groups"))
    cutoffs = _cutoffs(check, top.get("cutoffs"))
    overrides = _overrides(check, top.get("overrides"))
    quiet = check.mapping(top.get("quiet_period"), "quiet_period", ("after_days",))
    after_days = check.whole(quiet.get("after_days"), "quiet_period.after_days", default=30)
    treatment = _treatments(check, top.get("treatment"))
    norm = check.decimal(top, "satisfaction_norm", Decimal(8), lambda score: 1 <= score <= 10,
                         "must be a score from 1 to 10")
    selection = _selection(check, top.get("selection"))
    decline = check.decimal(top, "revenue_decline", Decimal("0.30"), lambda share: 0 < share < 1,
                            "must be a share between 0 and 1 (0.30 is 30%)")
    if check.problems:
        raise ConfigError(f"{display} has {_count(check.problems)}", sorted(check.problems, key=_order))
    return SegmentsConfig(
        window_months=window,
        weights=weights,
        points=points,
        groups_by=groups_by,
        cutoffs=cutoffs,
        overrides=overrides,
        quiet_after_days=after_days,
        treatment=treatment,
        satisfaction_norm=norm,
        selection=selection,
        revenue_decline_share=decline,
    )


def _value_elements(check: _Checker, value: Any) -> tuple[dict[str, Fraction], StrategicPoints]:
    elements = check.mapping(value, "value_elements", VALUE_ELEMENTS)
    weights: dict[str, Fraction] = {}
    points = StrategicPoints()
    for name in VALUE_ELEMENTS:
        if name not in elements:
            weights[name] = Fraction(0)
            continue
        key = f"value_elements.{name}"
        allowed = ("weight", "points") if name == "strategic" else ("weight",)
        element = check.mapping(elements[name], key, allowed, ("weight",))
        weight = check.fraction(element["weight"], f"{key}.weight") if "weight" in element else None
        if weight is not None and not 0 <= weight <= 1:
            check.problem(f"{key}.weight", "must be from 0 to 1")
        weights[name] = weight if weight is not None else Fraction(0)
        if name == "strategic" and "points" in element:
            points = _points(check, element["points"], f"{key}.points")
    total = sum(weights.values(), Fraction(0))
    weights_ok = not any(p.field.startswith("value_elements") for p in check.problems)
    if weights_ok and total != 1:
        check.problem("value_elements", f"the weights must sum to 1 (they sum to {float(total):g})")
    return weights, points


def _points(check: _Checker, value: Any, key: str) -> StrategicPoints:
    names = tuple(f.name for f in fields(StrategicPoints))
    given = check.mapping(value, key, names)
    defaults = StrategicPoints()
    kwargs = {
        name: check.whole(given.get(name), f"{key}.{name}", minimum=0, default=getattr(defaults, name))
        for name in names
    }
    return StrategicPoints(**kwargs)


def _groups(check: _Checker, value: Any) -> str | None:
    if value is None:
        return None
    given = check.mapping(value, "groups", ("by",), ("by",))
    by = given.get("by")
    if by is None:
        return None
    if by not in GROUP_ATTRIBUTES:
        check.problem("groups.by", f"must be one of {', '.join(GROUP_ATTRIBUTES)}")
        return None
    return str(by)


def _cutoffs(check: _Checker, value: Any) -> dict[Segment, Fraction]:
    given = check.mapping(value, "cutoffs", ("A", "B"), ("A", "B"))
    a = check.fraction(given["A"], "cutoffs.A") if "A" in given else None
    b = check.fraction(given["B"], "cutoffs.B") if "B" in given else None
    if a is not None and b is not None and not 0 < a < b <= 1:
        check.problem("cutoffs", "must satisfy 0 < A < B ≤ 1 (cumulative value shares)")
    return {Segment.A: a or Fraction(4, 5), Segment.B: b or Fraction(19, 20)}


def _overrides(check: _Checker, value: Any) -> tuple[Override, ...]:
    result: list[Override] = []
    seen: set[str] = set()
    for index, entry in enumerate(check.items(value, "overrides")):
        key = f"overrides[{index}]"
        given = check.mapping(
            entry, key, ("customer_id", "segment", "reason", "until"), ("customer_id", "segment", "reason")
        )
        customer_id = check.text(given.get("customer_id"), f"{key}.customer_id") if "customer_id" in given else ""
        if customer_id and not SAFE_ID.fullmatch(customer_id):
            check.problem(f"{key}.customer_id", "not a valid id")
        elif customer_id in seen:
            check.problem(f"{key}.customer_id", f"customer {customer_id} is overridden twice")
        seen.add(customer_id)
        segment = (
            check.choice(str(given["segment"]).upper(), f"{key}.segment", Segment, "A, B, C, D")
            if "segment" in given
            else None
        )
        reason = check.text(given.get("reason"), f"{key}.reason") if "reason" in given else ""
        until = check.day(given.get("until"), f"{key}.until")
        if customer_id and segment is not None and reason:
            result.append(Override(customer_id, segment, reason, until))
    return tuple(result)


def _treatments(check: _Checker, value: Any) -> dict[Segment, Treatment]:
    names = tuple(s.value for s in Segment)
    given = check.mapping(value, "treatment", names, names)
    result: dict[Segment, Treatment] = {}
    for segment in Segment:
        key = f"treatment.{segment.value}"
        entry = check.mapping(
            given.get(segment.value),
            key,
            ("newsletter_every_days", "alerts", "max_items", "call_within_days", "contact_schedule", "review"),
        )
        every = entry.get("newsletter_every_days")
        call = entry.get("call_within_days")
        result[segment] = Treatment(
            newsletter_every_days=None
            if every is None
            else check.whole(every, f"{key}.newsletter_every_days", default=30),
            alerts=check.flag(entry.get("alerts"), f"{key}.alerts"),
            max_items=check.whole(entry.get("max_items"), f"{key}.max_items", maximum=20, default=3),
            call_within_days=None if call is None else check.whole(call, f"{key}.call_within_days", default=14),
            contact_schedule=_schedule(check, entry.get("contact_schedule"), f"{key}.contact_schedule"),
            review=check.flag(entry.get("review"), f"{key}.review"),
        )
    return result


def _schedule(check: _Checker, value: Any, key: str) -> tuple[ScheduleRule, ...]:
    rules: list[ScheduleRule] = []
    ours_allowed = ", ".join(v.value for v in OurLevel)
    theirs_allowed = ", ".join(v.value for v in Level)
    for index, entry in enumerate(check.items(value, key)):
        sub = f"{key}[{index}]"
        given = check.mapping(entry, sub, ("ours", "theirs", "every_days"), ("ours", "theirs", "every_days"))
        ours = check.choice(given["ours"], f"{sub}.ours", OurLevel, ours_allowed) if "ours" in given else None
        theirs = check.choice(given["theirs"], f"{sub}.theirs", Level, theirs_allowed) if "theirs" in given else None
        every = check.whole(given.get("every_days"), f"{sub}.every_days", default=0)
        if ours is not None and theirs is not None and every:
            rules.append(ScheduleRule(ours, theirs, every))
    return tuple(rules)


def _selection(check: _Checker, value: Any) -> SelectionWeights:
    names = tuple(f.name for f in fields(SelectionWeights))
    given = check.mapping(value, "selection", names)
    defaults = SelectionWeights()
    kwargs: dict[str, int] = {}
    for name in names:
        minimum = 1 if name.endswith("_days") else 0
        kwargs[name] = check.whole(
            given.get(name), f"selection.{name}", minimum=minimum, default=getattr(defaults, name)
        )
    return SelectionWeights(**kwargs)


def _count(problems: list[Problem]) -> str:
    return "1 problem" if len(problems) == 1 else f"{len(problems)} problems"


def _order(problem: Problem) -> tuple[int, str]:
    return (problem.line or 0, problem.field)
