"""Coupon codes: generated from a pattern with a cryptographic random source."""

from __future__ import annotations

import random
import re
import secrets

#: 32 letters and digits that cannot be mistaken for each other (no I, O, 0, 1): each
#: random character carries 5 bits, so `{XXXXXXXX}` is 40 bits.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_SLOT = re.compile(r"\{(X+)\}")


def generate_code(pattern: str, rng: random.Random | None = None) -> str:
    """Fill every `{XXX...}` of ``pattern`` with as many random characters.

    The characters come from the operating system's cryptographic source; only a
    simulation passes its own seeded ``rng``, so that its output is the same each run.
    """
    choose = rng.choice if rng is not None else secrets.choice
    return _SLOT.sub(lambda m: "".join(choose(ALPHABET) for _ in m.group(1)), pattern)
