"""Failed messages: what class of failure each is, and reasons a marketer can read.

A send that fails becomes an outbox message with status `failed`, an `error` that says
what went wrong and where in words (never a Python exception's text such as
`[<class 'decimal.ConversionSyntax'>]`), and a `failure` class that /metrics and the
reports count by:

* before the message leaves (the runtime's send step): `template` (it could not be
  rendered for this contact), `coupon` (no code left to give), `address` (the contact's
  address is not one the channel can send to);
* on delivery (the sender): `address` (the mailbox or token does not exist), `refused`
  (the provider or mail server refused this message), `gave_up` (temporary failures
  until the message was too old to send), `configuration` (no provider is configured
  for the channel, or the sender's own addresses do not make an email), `suppressed`
  (the address is on the channel's suppression list: it was not tried).
"""

from __future__ import annotations

import decimal
import re
import socket
import ssl
from email.utils import getaddresses
from types import TracebackType

import jinja2

from .addresses import address_error, mailbox

TEMPLATE = "template"
COUPON = "coupon"
ADDRESS = "address"
REFUSED = "refused"
GAVE_UP = "gave_up"
CONFIGURATION = "configuration"
SUPPRESSED = "suppressed"
#: Every failure class, in the order they are documented.
FAILURE_CLASSES = (TEMPLATE, COUPON, ADDRESS, REFUSED, GAVE_UP, CONFIGURATION, SUPPRESSED)

#: Text that shows a Python object rather than saying something: `<class ...>`, `[<...>]`.
_PYTHON_TEXT = re.compile(r"<class |<[\w.]+ object at |^\[<|Traceback \(")


def is_email_address(text: str) -> bool:
    """Whether ``text`` is one address email can go to: bare (`stdlib.addresses`), or
    `Name <address>` (as senders and reply-to addresses are written)."""
    if mailbox(text) is not None:
        return True
    if "\r" in text or "\n" in text or "<" not in text:
        return False
    found = getaddresses([text])
    return len(found) == 1 and mailbox(found[0][1]) is not None


def address_problem(channel: str, address: str) -> str | None:
    """Why a message on ``channel`` cannot go to ``address``, or None when it can.

    Only what is certain before sending: a contact's email is one bare address (the rules
    the door checks it by); phone numbers and push tokens are the provider's to judge."""
    if channel == "email":
        why = address_error(address)
        if why is not None:
            return f'"{address}" is not an email address ({why}): correct the contact\'s email'
    return None


#: What the operating system's errors mean, found anywhere in an error's chain of causes
#: (an HTTP client's "All connection attempts failed" was caused by one of these).
_SYSTEM_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "the connection was reset"),
    (ssl.SSLCertVerificationError, "the server's certificate could not be verified"),
    (socket.gaierror, "the host name could not be resolved"),
    (TimeoutError, "no answer in time"),
)


def _causes(error: BaseException) -> list[BaseException]:
    chain = [error]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and cause not in chain:
        chain.append(cause)
    return chain


def plain_reason(error: BaseException) -> str:
    """What ``error`` means, in words: its own message when it has a readable one."""
    if isinstance(error, ZeroDivisionError | decimal.DivisionByZero):
        return "a division by zero"
    if isinstance(error, decimal.InvalidOperation):
        return "a value that is not a number was used as a number"
    if isinstance(error, jinja2.UndefinedError):
        return f"{error.message} (the variable or field does not exist here)"
    for cause in _causes(error):
        for kind, meaning in _SYSTEM_ERRORS:
            if isinstance(cause, kind):
                return meaning
    text = str(error).strip()
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    if not text or _PYTHON_TEXT.search(text):
        return f"an unexpected error ({type(error).__name__})"
    return text


def _template_line(traceback: TracebackType | None) -> int | None:
    """The line of the template being rendered when it failed (Jinja's frames say it)."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def template_reason(template: str, lang: str, part: str | None, source: str | None, text: str | None,
                    error: BaseException) -> str:  # fmt: skip
    """Why a template did not render: which template, language, part and line, and what failed.

    ``part`` is the part that failed ("subject", "html"...), ``source`` the file it came
    from and ``text`` its text, when known."""
    where = f"template {template} ({lang or 'default'})"
    if part is not None:
        where += f", {part}" + (f" from {source}" if source and source != part else "")
    line = _template_line(error.__traceback__)
    if line is not None and text is not None:
        lines = text.splitlines()
        shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        where += f", line {line}" + (f": {shown[:80]}" if shown else "")
    return f"{where}: {plain_reason(error)}"


__all__ = [
    "ADDRESS",
    "CONFIGURATION",
    "COUPON",
    "FAILURE_CLASSES",
    "GAVE_UP",
    "REFUSED",
    "SUPPRESSED",
    "TEMPLATE",
    "address_problem",
    "is_email_address",
    "plain_reason",
    "template_reason",
]
