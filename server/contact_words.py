"""The words of the pages a contact opens from a message (unsubscribe, preferences), in
the contact's language.

The contact clicked a link in a message written in their language; the page that opens
answers in it too. A catalogue is a dict per language: the page texts (`TEXTS`), each
channel's name as a word (`CHANNEL_NAMES`, for the checkboxes and the list of
subscriptions) and what a channel brings, written to fit that language's two unsubscribe
sentences (`CHANNEL_MESSAGES`: Polish "wiadomości e-mail", Ukrainian "листи"), since
Slavic and Baltic languages inflect the word where English only puts it in a slot.
English is the reference: every other language has each of its texts and channels
(tests/test_contact_pages.py fails otherwise), and a language not here is answered in
English.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..stdlib.messages import language_candidates

#: The language of a contact without one, or with one not in the catalogue.
FALLBACK = "en"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "unsubscribe.title": "Unsubscribe",
        "unsubscribe.question": "Do you want to stop receiving {messages} from us?",
        "unsubscribe.button": "Unsubscribe",
        "unsubscribed.title": "You are unsubscribed",
        "unsubscribed.text": "You will no longer receive {messages} from us.",
        "preferences.title": "Your subscriptions",
        "preferences.intro": "Choose which messages you would like to receive from us.",
        "preferences.unreachable": "We have no contact details to send you messages.",
        "preferences.button": "Save",
        "saved.title": "Saved",
        "saved.subscribed": "You are subscribed to: {channels}.",
        "saved.nothing": "You will not receive any messages from us.",
    },
    "uk": {
        "unsubscribe.title": "Відписка від розсилки",
        "unsubscribe.question": "Відписатися і більше не отримувати від нас {messages}?",
        "unsubscribe.button": "Відписатися",
        "unsubscribed.title": "Ви відписалися",
        "unsubscribed.text": "Ми більше не надсилатимемо вам {messages}.",
        "preferences.title": "Ваші підписки",
        "preferences.intro": "Оберіть, які повідомлення ви хочете від нас отримувати.",
        "preferences.unreachable": "У нас немає ваших контактів для розсилки.",
        "preferences.button": "Зберегти",
        "saved.title": "Збережено",
        "saved.subscribed": "Ваші підписки: {channels}.",
        "saved.nothing": "Ви відписалися від усіх наших повідомлень.",
    },
    "ru": {
        "unsubscribe.title": "Отписка от рассылки",
        "unsubscribe.question": "Отписаться и больше не получать от нас {messages}?",
        "unsubscribe.button": "Отписаться",
        "unsubscribed.title": "Вы отписались",
        "unsubscribed.text": "Мы больше не будем присылать вам {messages}.",
        "preferences.title": "Ваши подписки",
        "preferences.intro": "Выберите, какие сообщения вы хотите от нас получать.",
        "preferences.unreachable": "У нас нет ваших контактов для рассылки.",
        "preferences.button": "Сохранить",
        "saved.title": "Сохранено",
        "saved.subscribed": "Ваши подписки: {channels}.",
        "saved.nothing": "Вы отписались от всех наших сообщений.",
    },
    "pl": {
        "unsubscribe.title": "Rezygnacja z subskrypcji",
        "unsubscribe.question": "Czy chcesz przestać otrzymywać od nas {messages}?",
        "unsubscribe.button": "Wypisz się",
        "unsubscribed.title": "Subskrypcja anulowana",
        "unsubscribed.text": "Przestaniemy wysyłać Ci {messages}.",
        "preferences.title": "Twoje subskrypcje",
        "preferences.intro": "Wybierz, jakie wiadomości chcesz od nas otrzymywać.",
        "preferences.unreachable": "Nie mamy Twoich danych kontaktowych do wysyłki wiadomości.",
        "preferences.button": "Zapisz",
        "saved.title": "Zapisano",
        "saved.subscribed": "Twoje subskrypcje: {channels}.",
        "saved.nothing": "Nie będziesz otrzymywać od nas żadnych wiadomości.",
    },
    "lv": {
        "unsubscribe.title": "Atteikties no ziņām",
        "unsubscribe.question": "Vai vairs nevēlaties saņemt no mums {messages}?",
        "unsubscribe.button": "Atteikties",
        "unsubscribed.title": "Abonements atcelts",
        "unsubscribed.text": "Mēs jums vairs nesūtīsim {messages}.",
        "preferences.title": "Jūsu abonementi",
        "preferences.intro": "Izvēlieties, kādas ziņas vēlaties saņemt no mums.",
        "preferences.unreachable": "Mums nav jūsu kontaktinformācijas ziņu sūtīšanai.",
        "preferences.button": "Saglabāt",
        "saved.title": "Saglabāts",
        "saved.subscribed": "Jūsu abonementi: {channels}.",
        "saved.nothing": "Mēs jums vairs nesūtīsim nekādas ziņas.",
    },
    "de": {
        "unsubscribe.title": "Abmelden",
        "unsubscribe.question": "Möchten Sie keine {messages} mehr von uns erhalten?",
        "unsubscribe.button": "Abmelden",
        "unsubscribed.title": "Sie sind abgemeldet",
        "unsubscribed.text": "Sie erhalten keine {messages} mehr von uns.",
        "preferences.title": "Ihre Abonnements",
        "preferences.intro": "Wählen Sie, welche Nachrichten Sie von uns erhalten möchten.",
        "preferences.unreachable": "Uns liegen keine Kontaktdaten vor, über die wir Ihnen Nachrichten senden können.",
        "preferences.button": "Speichern",
        "saved.title": "Gespeichert",
        "saved.subscribed": "Ihre Abonnements: {channels}.",
        "saved.nothing": "Sie erhalten keine Nachrichten mehr von uns.",
    },
}

#: Each channel as a word, written as in the middle of a sentence (a label starts it with a capital).
CHANNEL_NAMES: dict[str, dict[str, str]] = {
    "en": {"email": "email", "sms": "SMS", "viber": "Viber", "push": "push notifications",
           "webpush": "browser notifications"},
    "uk": {"email": "електронна пошта", "sms": "SMS", "viber": "Viber", "push": "push-сповіщення",
           "webpush": "сповіщення в браузері"},
    "ru": {"email": "электронная почта", "sms": "SMS", "viber": "Viber", "push": "push-уведомления",
           "webpush": "уведомления в браузере"},
    "pl": {"email": "e-mail", "sms": "SMS", "viber": "Viber", "push": "powiadomienia push",
           "webpush": "powiadomienia w przeglądarce"},
    "lv": {"email": "e-pasts", "sms": "SMS", "viber": "Viber", "push": "push paziņojumi",
           "webpush": "paziņojumi pārlūkā"},
    "de": {"email": "E-Mail", "sms": "SMS", "viber": "Viber", "push": "Push-Benachrichtigungen",
           "webpush": "Browser-Benachrichtigungen"},
}  # fmt: skip

#: What a channel brings, in the form the language's `unsubscribe.question` and
#: `unsubscribed.text` take it (the accusative plural in Ukrainian, Russian, Polish, Latvian).
CHANNEL_MESSAGES: dict[str, dict[str, str]] = {
    "en": {"email": "emails", "sms": "text messages", "viber": "Viber messages", "push": "push notifications",
           "webpush": "browser notifications"},
    "uk": {"email": "листи", "sms": "SMS", "viber": "повідомлення у Viber", "push": "push-сповіщення",
           "webpush": "сповіщення в браузері"},
    "ru": {"email": "письма", "sms": "SMS", "viber": "сообщения в Viber", "push": "push-уведомления",
           "webpush": "уведомления в браузере"},
    "pl": {"email": "wiadomości e-mail", "sms": "wiadomości SMS", "viber": "wiadomości na Viberze",
           "push": "powiadomienia push", "webpush": "powiadomienia w przeglądarce"},
    "lv": {"email": "e-pasta vēstules", "sms": "īsziņas", "viber": "Viber ziņas", "push": "push paziņojumus",
           "webpush": "paziņojumus pārlūkā"},
    "de": {"email": "E-Mails", "sms": "SMS", "viber": "Viber-Nachrichten", "push": "Push-Benachrichtigungen",
           "webpush": "Browser-Benachrichtigungen"},
}  # fmt: skip


def language_for(tag: object) -> str:
    """The catalogue's language for a contact's language tag: the tag itself, then its base
    ("uk-UA", "uk_UA" -> "uk"), as a template variant is chosen; English for anything else
    (no tag, an empty one, a language not here)."""
    if isinstance(tag, str) and tag:
        for candidate in language_candidates(tag):
            if candidate in TEXTS:
                return candidate
    return FALLBACK


@dataclass(frozen=True, slots=True)
class Words:
    """The texts of one language (plain text: HTML-escape them where they are shown)."""

    language: str

    def text(self, key: str, **values: str) -> str:
        return TEXTS[self.language][key].format(**values)

    def channel(self, channel: str) -> str:
        """The channel's name, as in the middle of a sentence ("електронна пошта")."""
        return CHANNEL_NAMES[self.language][channel]

    def label(self, channel: str) -> str:
        """The channel's name starting with a capital, as a checkbox's label ("Електронна пошта")."""
        name = self.channel(channel)
        return name[:1].upper() + name[1:]

    def messages(self, channel: str) -> str:
        """What the channel brings, in the form the unsubscribe sentences take ("листи")."""
        return CHANNEL_MESSAGES[self.language][channel]


def words_for(tag: object) -> Words:
    """The words for a contact whose language is ``tag`` (None, "", "uk-UA", "xx"...)."""
    return Words(language_for(tag))
