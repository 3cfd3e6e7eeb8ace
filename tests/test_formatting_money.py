"""Money in a message is written as Babel writes it (format_currency), with CLDR's currency
spacing, which Babel leaves out: a currency sign that ends (or starts) with a letter is
kept apart from the digits by a no-break space ("UAH 1,234.50", not "UAH1,234.50"). scn
looks up what depends only on the language and the currency once (formatting.money)."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from zoneinfo import ZoneInfo

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
    """What a call gives: its text, or the kind of error it raises (with as many digits of
    decimal precision as scn's own formatting gives the value, Babel's too)."""
    try:
        return "text", formatting._with_room(function)(*args, **kwargs)  # type: ignore[arg-type]
    except Exception as error:  # noqa: BLE001 - compared, not handled
        return "error", type(error)


@settings(max_examples=3000, deadline=None)
@given(amount=AMOUNTS, locale=st.sampled_from(LOCALES), code=st.sampled_from(CURRENCIES))
def test_money_is_written_as_babel_writes_it(amount: Decimal, locale: str, code: str) -> None:
    parsed = Locale.parse(locale)
    assert outcome(formatting.money, amount, parsed, code) == outcome(babel_spaced, amount, code, parsed)


def babel_spaced(amount: Decimal, code: str, locale: Locale) -> str:
    """Babel's format_currency with the locale's own pattern, a no-break space put between
    the currency sign and the number where CLDR's currency spacing puts one: the sign is
    next to the number and its character there is neither a symbol (`$`, `₴`) nor a space."""
    pattern = locale.currency_formats["standard"]
    symbol = numbers.get_currency_symbol(code, locale)
    text = pattern.pattern

    def spaced(part: str, before: bool) -> str:
        sign = code.upper() if "¤¤" in part else symbol
        edge = sign[-1] if before else sign[0]
        if (part.endswith("¤") if before else part.startswith("¤")) and unicodedata.category(edge)[0] not in "SZ":
            return part + "\xa0" if before else "\xa0" + part
        return part

    affixes = []
    for prefix, suffix in zip(pattern.prefix, pattern.suffix, strict=True):
        affixes.append((spaced(prefix, True), spaced(suffix, False)))
    if affixes[0] == (pattern.prefix[0], pattern.suffix[0]) and affixes[1] == (pattern.prefix[1], pattern.suffix[1]):
        return numbers.format_currency(amount, code, locale=locale)
    body = pattern.number_pattern
    text = ";".join(f"{quoted(p)}{body}{quoted(s)}" for p, s in affixes)
    return numbers.format_currency(amount, code, format=text, locale=locale)


def quoted(affix: str) -> str:
    """An affix as pattern text: the currency sign as it is, anything else that a pattern
    reads as syntax quoted."""
    return "".join(c if c == "¤" or c not in "#0@.,;%‰+-'E" else f"'{c}'" for c in affix).replace("''", "")


@pytest.mark.parametrize("language", ["en", "uk", "pl", "lv", "de", "fr", "hi"])
def test_the_languages_of_messages_take_the_quick_way(language: str) -> None:
    """Otherwise the comparison above would only compare Babel with itself."""
    assert formatting._currency_shape(formatting.locale_of(language), "UAH") is not None


@pytest.mark.parametrize("amount", ["1234.5", "-1234.5", "-0", "0.005", "1234567.891"])
def test_the_common_languages_and_currencies_are_written_as_babel_writes_them(amount: str) -> None:
    for language in ["en", "uk", "pl", "lv", "de", "fr", "hi", "de_CH", "ar_EG", "fa"]:
        locale = formatting.locale_of(language)
        for code in CURRENCIES:
            assert formatting.money(Decimal(amount), locale, code) == babel_spaced(Decimal(amount), code, locale), (
                language,
                code,
            )


@pytest.mark.parametrize(
    ("language", "code", "written"),
    [
        ("en", "UAH", "UAH\xa01,234.50"),  # a sign of letters: apart from the digits
        ("en", "PLN", "PLN\xa01,234.50"),
        ("en", "CHF", "CHF\xa01,234.50"),
        ("en", "USD", "$1,234.50"),  # a symbol: next to them
        ("en", "GBP", "£1,234.50"),
        ("uk", "UAH", "1\xa0234,50\xa0₴"),  # the pattern already has a space
        ("pl", "UAH", "1\xa0234,50\xa0UAH"),
        ("nl", "EUR", "€\xa01.234,50"),
    ],
)
def test_a_currency_sign_of_letters_is_kept_apart_from_the_digits(language: str, code: str, written: str) -> None:
    assert formatting.money(Decimal("1234.5"), formatting.locale_of(language), code) == written
    assert formatting.money(Decimal("-1234.5"), formatting.locale_of(language), code).replace("-", "") == written


def test_where_babel_strips_quotes_from_the_digits_babel_writes_it() -> None:
    """de_CH groups with an apostrophe, which Babel's quote removal takes out of the text."""
    locale = formatting.locale_of("de_CH")
    assert formatting._currency_shape(locale, "CHF") is None
    assert formatting.money(Decimal("1234567.5"), locale, "CHF") == numbers.format_currency(
        Decimal("1234567.5"), "CHF", locale=locale
    )


NUMBERS = st.one_of(
    AMOUNTS,
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([Decimal(s) for s in ("2", "100", "1E+2", "1.000", "0.0001", "-0.0001", "1.23456789012345678901",
                                          "-1234567.5", "0.1000", "9999999999999999999999999999")]),
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(value=NUMBERS, locale=st.sampled_from(LOCALES))
def test_numbers_are_written_as_babel_writes_them(value: Decimal | int, locale: str) -> None:
    """`{{ n }}` and `|number` without digits: Babel's format_decimal keeping every digit."""
    parsed = Locale.parse(locale)
    assert outcome(formatting.number, value, parsed) == outcome(
        numbers.format_decimal, value, locale=parsed, decimal_quantization=False
    )


@pytest.mark.parametrize(
    "value", ["0", "-0", "2", "-2", "1234.5", "-1234567.891", "0.000001", "1.23456789012345678901", "1E+30", "1E-30"]
)
def test_the_common_languages_write_numbers_as_babel_writes_them(value: str) -> None:
    for language in ["en", "uk", "pl", "lv", "de", "fr", "hi", "de_CH", "ar_EG", "fa"]:
        locale = formatting.locale_of(language)
        assert formatting._number_shape(locale) is not None or language == "de_CH"
        for number in (Decimal(value), int(Decimal(value))):
            assert outcome(formatting.number, number, locale) == outcome(
                numbers.format_decimal, number, locale=locale, decimal_quantization=False
            ), (language, number)


@pytest.mark.parametrize("value", [True, False, "5", " 5 ", "abc", Decimal("NaN"), Decimal("-Infinity")])
def test_what_is_not_a_finite_number_is_written_or_refused_as_babel_does(value: object) -> None:
    locale = formatting.locale_of("pl")
    assert outcome(formatting.number, value, locale) == outcome(
        numbers.format_decimal, value, locale=locale, decimal_quantization=False
    )


def test_an_unset_or_infinite_number_is_not_taken_the_quick_way() -> None:
    """Babel writes infinity with its own symbol; unset prints as nothing."""
    locale = formatting.locale_of("uk")
    assert formatting.number(Decimal("Infinity"), locale) == numbers.format_decimal(
        Decimal("Infinity"), locale=locale, decimal_quantization=False
    )
    assert formatting.shown(None, locale, ZoneInfo("UTC")) == ""
