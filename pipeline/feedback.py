"""What comes back from a mailing: the kinds of feedback and one recorded event.

The web endpoint (`windstil serve`) records unsubscribes and clicks, the mailbox reader
(`windstil bounces import/fetch`) bounces, auto-replies and replies. The next run reads them:
suppressed addresses get no mail, and clicks and replies become reasons on the call list.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class FeedbackKind(enum.StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    CLICK = "click"
    REPLY = "reply"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    AUTO_REPLY = "auto_reply"


SOFT_BOUNCES_IN_A_ROW = 3  # temporary failures in a row that suppress an address


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """One thing a contact (or their mail server) did in answer to a message of ours."""

    kind: FeedbackKind
    event_key: str  # unique: the same event recorded twice is stored once
    at: datetime  # when it happened (UTC)
    source: str  # "serve", "bounces import <file>", "bounces fetch <host>"
    email: str = ""
    contact_id: str = ""
    run_id: str = ""
    item_id: str = ""
    message_id: str = ""  # our message it answers, where known
    detail: str = ""  # a bounce's status and diagnostic, a reply's subject
    automated: bool = False  # a click that looks like a link scanner's
