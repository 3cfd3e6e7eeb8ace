"""Money in a message is written exactly as Babel writes it (format_currency), though scn
looks up what depends only on the language and the currency once (formatting.money)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel import Locale, localedata, numbers
from hypothesis import given, settings
from hypothesis import strategies as st

from scn.stdlib import formatting

LOCALES = sorted(localedata.locale_identifiers())
#: Two, zero and three digits, a symbol before and after, a code Babel has no data for.
CURRENCIES = ["UAH", "USD", "EUR", "PLN", "CHF", "JPY", "BHD", "KWD", "INR", "GBP", "XAF", "ABC", "usd"]
AMOUNTS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**9, max_value=10**9),
    st.sampled_from([Decimal(s) for s in ("0", "-0", "0.005", "-0.005", "0.015", "999.995", "1E+3", "1234567.891",
                                          "12345678901234567890123456789.5", "1E-30", "-1E+27")]),
)  # fmt: skip


def outcome(function: object, *args: object, **kwargs: object) -> tuple[str, object]:
    """What a call gives: its text, or the kind of error it raises."""
    try:
        return "text", function(*args, **kwargs)  # type: ignore[operator]
    except Exception as error:  # noqa: BLE001 - compared, not handled
        return "error", type(error)


@settings(max_examples=3000, deadline=None)
@given(amount=AMOUNTS, locale=st.sampled_from(LOCALES), code=st.sampled_from(CURRENCIES))
def test_money_is_written_as_babel_writes_it(amount: Decimal, locale: str, code: str) -> None:
    parsed = Locale.parse(locale)
    assert outcome(formatting.money, amount, parsed, code) == outcome(
        numbers.format_currency, amount, code, locale=parsed
    )


@pytest.mark.parametrize("language", ["en", "uk", "pl", "lv", "de", "fr", "hi"])
def test_the_languages_of_messages_take_the_quick_way(language: str) -> None:
    """Otherwise the comparison above would only compare Babel with itself."""
    assert formatting._currency_shape(formatting.locale_of(language), "UAH") is not None


@pytest.mark.parametrize("amount", ["1234.5", "-1234.5", "-0", "0.005", "1234567.891"])
def test_the_common_languages_and_currencies_are_written_as_babel_writes_them(amount: str) -> None:
    for language in ["en", "uk", "pl", "lv", "de", "fr", "hi", "de_CH", "ar_EG", "fa"]:
        locale = formatting.locale_of(language)
        for code in CURRENCIES:
            assert formatting.money(Decimal(amount), locale, code) == numbers.format_currency(
                Decimal(amount), code, locale=locale
            ), (language, code)


def test_where_babel_strips_quotes_from_the_digits_babel_writes_it() -> None:
    """de_CH groups with an apostrophe, which Babel's quote removal takes out of the text."""
    locale = formatting.locale_of("de_CH")
    assert formatting._currency_shape(locale, "CHF") is None
    assert formatting.money(Decimal("1234567.5"), locale, "CHF") == numbers.format_currency(
        Decimal("1234567.5"), "CHF", locale=locale
    )
