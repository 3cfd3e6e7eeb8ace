"""DKIM signatures (RFC 6376) on outgoing mail, made by dkimpy when a key is configured.

rsa-sha256 over the body and the configured headers, relaxed/relaxed canonicalisation
(which survives the re-folding of headers relays do). The public key goes in DNS at
`<selector>._domainkey.<domain>` as a TXT record `v=DKIM1; k=rsa; p=...`; `dknewkey`
(installed with dkimpy) makes a pair.

dkimpy (and dnspython, which it imports) is imported by the first signer made, so that a
server without [email.dkim] does not hold it (tests/test_serve_imports.py).

A header listed but missing from a message is signed as absent (RFC 6376 5.4), so that
nobody on the way can add it: a signed `Reply-To` that was not there stays not there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: What is signed unless the settings say otherwise: the headers receivers judge a sender
#: by, and those that decide what a reader sees or where replies and unsubscriptions go.
SIGNED_HEADERS = ("from", "to", "subject", "date", "message-id", "reply-to", "mime-version", "content-type",
                  "list-unsubscribe", "list-unsubscribe-post")  # fmt: skip


class DkimError(ValueError):
    """Settings that cannot sign; the message says what is wrong and how to fix it."""


class DkimSigner:
    """Signs messages for one domain with one selector's RSA private key (PEM).

    Made at start: a key or a setting that cannot sign stops the start, not every message."""

    def __init__(self, domain: str, selector: str, private_key: bytes, headers: Sequence[str] = SIGNED_HEADERS) -> None:
        if not domain or not domain.isascii() or not all(domain.split(".")):
            raise DkimError(
                f"domain {domain!r} is not a domain name (write an internationalised one in A-labels, xn--...)"
            )
        if not selector or not selector.isascii() or " " in selector:
            raise DkimError(f"selector {selector!r} is not a DNS label such as scn2025")
        import dkim

        names = tuple(h.strip().lower() for h in headers)
        if "from" not in names:
            raise DkimError("headers must include From: RFC 6376 requires it to be signed")
        unsignable = sorted(n for n in names if n.encode() in dkim.DKIM.SHOULD_NOT or not n or not n.isascii())
        if unsignable:
            raise DkimError(f"headers: {', '.join(map(repr, unsignable))} cannot be signed (they change on the way)")
        self.domain = domain.lower().encode("ascii")
        self.selector = selector.encode("ascii")
        self.headers = [n.encode("ascii") for n in names]
        self.private_key = private_key
        try:
            self.sign(b"From: check@" + self.domain + b"\r\nSubject: check\r\n\r\nbody\r\n")
        except (dkim.DKIMException, ValueError, IndexError, TypeError):
            # dkimpy's own words name its ASN.1 parser's tags: what to do instead says more.
            raise DkimError("not an RSA private key in PEM (PKCS#1 or PKCS#8) that DKIM can sign with; "
                            "make one with `dknewkey` or `openssl genrsa 2048`") from None  # fmt: skip

    @classmethod
    def from_file(cls, domain: str, selector: str, path: str, headers: Sequence[str] = SIGNED_HEADERS) -> DkimSigner:
        """A signer with the key in ``path``; DkimError saying why when it cannot sign."""
        try:
            key = Path(path).read_bytes()
        except OSError as error:
            raise DkimError(f"cannot read {path}: {error.strerror}") from error
        try:
            return cls(domain, selector, key, headers)
        except DkimError as error:
            if str(error).startswith("not an RSA"):
                raise DkimError(f"{path} is {error}") from None
            raise

    def sign(self, message: bytes) -> bytes:
        """``message`` (CRLF line ends) with its `DKIM-Signature` header first."""
        import dkim  # imported by __init__ already: a lookup in sys.modules

        signature = dkim.sign(message, self.selector, self.domain, self.private_key, include_headers=self.headers,
                              canonicalize=(b"relaxed", b"relaxed"))  # fmt: skip
        return bytes(signature) + message
