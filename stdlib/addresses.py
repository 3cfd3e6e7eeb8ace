"""Email addresses: which text is one, and the forms it travels in.

An address is `local@domain`, internationalised as RFC 6531 allows:

* the local part is a dot-atom (RFC 5322): letters, digits and ``!#$%&'*+-/=?^_`{|}~``,
  in parts joined by single dots, plus any visible non-ASCII character
  (`Вася@пример.рф`); at most 64 bytes in UTF-8. Quoted local parts (`"a b"@x`) are
  not taken;
* the domain is a host name: labels of letters, digits and hyphens (not at either end),
  joined by dots, in any script. A non-ASCII domain goes as its IDNA 2008 A-labels
  (`пример.рф` is `xn--e1afmkfd.xn--p1ai`; full-width letters and dots map to their
  ASCII forms), which every mail server takes; literal addresses (`[192.0.2.1]`) are not
  taken;
* at most 254 characters in all.

An address whose local part is ASCII can go to any server (its domain as A-labels); one
whose local part is not needs a server that offers SMTPUTF8. The door (the events' and
contacts' `email`) and the send check the same rules, so an address that is accepted is
one the sender can send to.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import NamedTuple

import idna

#: The longest address, in characters (RFC 5321's path limit less its angle brackets).
MAX_ADDRESS = 254
#: The longest local part, in bytes (RFC 5321 4.5.3.1.1).
MAX_LOCAL = 64

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#: An all-ASCII address, checked in one match (most addresses are).
_ASCII = re.compile(rf"(?P<local>{_ATEXT}+(?:\.{_ATEXT}+)*)@(?P<domain>{_LABEL}(?:\.{_LABEL})*)")
_ASCII_ATEXT = re.compile(rf"{_ATEXT}+")
#: The all-ASCII addresses `_parse` takes at once (its local part at most `MAX_LOCAL`
#: characters), in one match that takes nothing apart: how the door checks an event's
#: address, which is mostly one it has not seen (`_parse`'s cache does not help there).
_ASCII_ADDRESS = re.compile(rf"(?=[^@]{{1,{MAX_LOCAL}}}@){_ATEXT}+(?:\.{_ATEXT}+)*@{_LABEL}(?:\.{_LABEL})*")
#: Characters no address holds outside quotes (RFC 5322 specials) and whitespace.
_SPECIALS = frozenset('()<>[]:;@\\,"')
#: Unicode categories of invisible characters: controls, format marks, separators...
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


class Mailbox(NamedTuple):
    """An address taken apart: its local part, its domain as written and in A-labels."""

    local: str
    domain: str
    ascii_domain: str

    @property
    def needs_smtputf8(self) -> bool:
        """Whether only a server that offers SMTPUTF8 can take it (a non-ASCII local part)."""
        return not self.local.isascii()

    @property
    def ascii(self) -> str:
        """The address with its domain in A-labels: all ASCII when the local part is."""
        return f"{self.local}@{self.ascii_domain}"

    @property
    def unicode(self) -> str:
        """The address with its domain in U-labels (`Вася@пример.рф`), for the headers of
        a message that goes with SMTPUTF8."""
        domain = self.ascii_domain
        if "xn--" in domain.lower():
            try:
                domain = idna.decode(domain)
            except idna.IDNAError:  # an A-label that decodes to nothing valid: shown as it is
                pass
        return f"{self.local}@{domain}"


def mailbox(text: str) -> Mailbox | None:
    """``text`` taken apart if it is one bare address, else None."""
    return _parse(text)[0]


def address_error(text: str) -> str | None:
    """Why ``text`` is not an address, in words (None when it is one)."""
    if len(text) <= MAX_ADDRESS and _ASCII_ADDRESS.fullmatch(text):
        return None
    return _parse(text)[1]


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Mailbox | None, str | None]:
    if len(text) > MAX_ADDRESS:
        return None, f"longer than {MAX_ADDRESS} characters"
    match = _ASCII.fullmatch(text)
    if match is not None and len(match["local"]) <= MAX_LOCAL:
        return Mailbox(match["local"], match["domain"], match["domain"]), None
    if text.count("@") != 1:
        return None, "it has more than one @" if "@" in text else "it has no @"
    local, _, domain = text.partition("@")
    why = _local_error(local)
    if why is not None:
        return None, why
    ascii_domain = _ascii_domain(domain)
    if not domain:
        return None, "there is nothing after the @"
    if ascii_domain is None:
        return None, f"{domain!r} after the @ is not a domain (labels of letters, digits and hyphens, joined by dots)"
    return Mailbox(local, domain, ascii_domain), None


def _local_error(local: str) -> str | None:
    if not local:
        return "there is nothing before the @"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "the part before the @ cannot start or end with a dot, nor have two dots in a row"
    if len(local.encode("utf-8")) > MAX_LOCAL:
        return f"the part before the @ is longer than {MAX_LOCAL} bytes"
    for char in local:
        if char == "." or (char.isascii() and _ASCII_ATEXT.fullmatch(char)):
            continue
        if char in _SPECIALS or char.isspace() or unicodedata.category(char) in _INVISIBLE or char.isascii():
            shown = repr(char) if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"
            return f"the part before the @ has {shown}, which an address cannot have"
    return None


def _ascii_domain(domain: str) -> str | None:
    """``domain`` in IDNA A-labels (ASCII), or None when it is not a host name."""
    if not domain:
        return None
    if domain.endswith((".", "\u3002", "\uff0e", "\uff61")):
        return None
    if domain.isascii():
        return domain if re.fullmatch(rf"{_LABEL}(?:\.{_LABEL})*", domain) else None
    try:
        encoded = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None
    return encoded if re.fullmatch(rf"{_LABEL}(?:\.{_LABEL})*", encoded) else None
