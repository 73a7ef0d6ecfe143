"""A deterministic mailbox of typical support mail for the intake benchmark.

The mix (per 100 messages, drawn with a fixed seed): plain text 35, HTML only 10,
text + HTML alternative 20, with an attachment 15 (a PDF or PNG of 10–120 KB, base64), replies
to earlier messages with In-Reply-To/References 12, auto-replies 3, and copies of the real-world
corpus under ``inboxes/tests/eml/`` 5 (made unique by a header, so none is a Message-ID duplicate).
Text is English (utf-8), Polish (iso-8859-2, windows-1250), Russian (koi8-r) and Japanese
(iso-2022-jp), with subjects RFC 2047-encoded in the same charset.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from pathlib import Path

from .util import BASE_DIR

SEED = 20260602
DOMAIN = "customers.example"
# Subject keywords of the intake manager's boards; mail without one goes to the standby queue.
KEYWORDS = {"billing": ["invoice", "payment", "refund"], "support": ["login", "error", "crash"]}

_LANGUAGES: dict[str, dict[str, object]] = {
    "en": {
        "charsets": ["utf-8"],
        "subjects": [
            "Login error after the update",
            "Invoice 2026/{n} has the wrong address",
            "Payment declined but money taken",
            "App crash when opening settings",
            "Question about my refund",
            "Cannot export my data",
            "Error 500 on the order page",
            "Where is my parcel?",
            "Two-factor code never arrives",
            "Feature request: dark mode",
        ],
        "lines": [
            "Hello support team,",
            "since this morning I cannot log in to my account.",
            "The page shows an error and asks me to try again later.",
            "I already reset my password twice, without success.",
            "Our accounting needs the corrected invoice by Friday.",
            "The amount was taken from my card but the order shows as unpaid.",
            "Please find the screenshot attached.",
            "I am using Firefox 128 on Ubuntu.",
            "Thank you in advance for your help.",
            "Kind regards, and thanks for the quick answers so far.",
        ],
    },
    "pl": {
        "charsets": ["iso-8859-2", "windows-1250"],
        "subjects": [
            "Błąd logowania po aktualizacji",
            "Faktura 2026/{n} - zły adres (invoice)",
            "Płatność odrzucona, a środki pobrane (payment)",
            "Aplikacja się zamyka (crash) przy otwieraniu ustawień",
            "Pytanie o zwrot pieniędzy (refund)",
            "Nie mogę pobrać zestawienia",
            "Zamówienie nie dotarło, gdzie jest paczka?",
        ],
        "lines": [
            "Dzień dobry,",
            "od rana nie mogę się zalogować do swojego konta.",
            "Strona pokazuje błąd i prosi o ponowienie próby później.",
            "Hasło zmieniałam już dwa razy, bez skutku.",
            "Księgowość potrzebuje poprawionej faktury do piątku.",
            "Pieniądze zostały pobrane z karty, a zamówienie jest nieopłacone.",
            "Zrzut ekranu w załączniku.",
            "Z góry dziękuję za pomoc.",
            "Pozdrawiam serdecznie, Łukasz Żółć",
        ],
    },
    "ru": {
        "charsets": ["koi8-r"],
        "subjects": [
            "Ошибка входа (login) после обновления",
            "Счёт 2026/{n}: неверный адрес (invoice)",
            "Платёж отклонён (payment), но деньги списаны",
            "Приложение падает (crash) при запуске",
            "Вопрос о возврате средств",
        ],
        "lines": [
            "Здравствуйте,",
            "с утра не могу войти в свой аккаунт.",
            "Страница показывает ошибку и просит попробовать позже.",
            "Деньги списаны с карты, а заказ не оплачен.",
            "Скриншот во вложении.",
            "Заранее спасибо за помощь.",
            "С уважением, Иван Петров",
        ],
    },
    "ja": {
        "charsets": ["iso-2022-jp"],
        "subjects": [
            "ログインできません (login error)",
            "請求書 2026/{n} の住所が違います (invoice)",
            "支払いについての質問 (payment)",
            "アプリがクラッシュします (crash)",
            "返金について",
        ],
        "lines": [
            "お世話になっております。",
            "今朝からアカウントにログインできません。",
            "エラーが表示され、後でもう一度試すように言われます。",
            "請求書の修正を金曜日までにお願いします。",
            "スクリーンショットを添付します。",
            "よろしくお願いいたします。",
        ],
    },
}
_LANGUAGE_WEIGHTS = [("en", 50), ("pl", 25), ("ru", 13), ("ja", 12)]
_NAMES = ["Anna Nowak", "Jan Kowalski", "Olga Ivanova", "Yuki Tanaka", "Emma Brown", "Liam Smith", "Sofia Rossi"]
_KINDS = [("plain", 35), ("html", 10), ("alternative", 20), ("attachment", 15), ("reply", 12), ("auto", 3)]
_CORPUS_SHARE = 0.05
_CORPUS_SKIP = {"huge_body.eml"}  # 1 MB of one body: not a typical support mail


def _weighted(rng: random.Random, weights: list[tuple[str, int]]) -> str:
    roll = rng.randrange(sum(weight for _name, weight in weights))
    for name, weight in weights:
        if roll < weight:
            return name
        roll -= weight
    return weights[-1][0]


def _corpus() -> list[bytes]:
    folder = BASE_DIR / "inboxes" / "tests" / "eml"
    return [path.read_bytes() for path in sorted(folder.glob("*.eml")) if path.name not in _CORPUS_SKIP]


def generate(count: int) -> list[bytes]:
    """``count`` messages; the first n of generate(m) are generate(n) for every n ≤ m."""
    corpus = _corpus()
    sent: dict[str, list[tuple[str, str]]] = {}  # language → (message-id, subject), for replies
    start = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    messages = []
    for index in range(count):
        rng = random.Random(SEED * 7_919 + index)
        if corpus and rng.random() < _CORPUS_SHARE:
            raw = rng.choice(corpus)
            messages.append(f"X-Bench-Copy: {index}\r\n".encode() + raw)
            continue
        messages.append(_message(rng, index, start + timedelta(minutes=index * 3), sent))
    return messages


def _message(rng: random.Random, index: int, date: datetime, sent: dict[str, list[tuple[str, str]]]) -> bytes:
    language = _weighted(rng, _LANGUAGE_WEIGHTS)
    spec = _LANGUAGES[language]
    charset = rng.choice(spec["charsets"])  # type: ignore[arg-type]
    kind = _weighted(rng, _KINDS)
    subject = rng.choice(spec["subjects"]).replace("{n}", str(1000 + index))  # type: ignore[union-attr]
    # Unique per sender and message, so the same-subject rule (ING-4) treats them as new reports.
    subject = f"{subject} #{index}"
    lines = rng.sample(spec["lines"], k=min(len(spec["lines"]), rng.randint(3, 6)))  # type: ignore[arg-type]
    text = "\n".join(lines) + "\n"
    name = rng.choice(_NAMES)
    sender = f"{name.split()[0].lower()}.{index % 300}@{DOMAIN}"
    # Not make_msgid(): it mixes in the time and the pid, and the mailbox must be the same every run.
    message_id = f"<bench.{index}.{rng.getrandbits(48):012x}@{DOMAIN}>"

    in_reply_to = ""
    earlier = sent.setdefault(language, [])
    if kind == "reply" and earlier:
        in_reply_to, original = earlier[rng.randrange(len(earlier))]
        subject = f"Re: {original}"
        text += "\n> " + "\n> ".join(rng.sample(spec["lines"], k=2)) + "\n"  # type: ignore[arg-type]

    if kind == "html":
        body = MIMEText(_html(lines), "html", charset)
    elif kind == "alternative":
        body = MIMEMultipart("alternative")
        body.attach(MIMEText(text, "plain", charset))
        body.attach(MIMEText(_html(lines), "html", charset))
    elif kind == "attachment":
        body = MIMEMultipart("mixed")
        body.attach(MIMEText(text, "plain", charset))
        size = rng.randint(10_000, 120_000)
        payload = rng.randbytes(size)
        if rng.random() < 0.5:
            part = MIMEApplication(b"%PDF-1.4\n" + payload, "pdf")
            part.add_header("Content-Disposition", "attachment", filename=f"invoice-{index}.pdf")
        else:
            part = MIMEImage(b"\x89PNG\r\n\x1a\n" + payload, "png")
            part.add_header("Content-Disposition", "attachment", filename=f"screenshot-{index}.png")
        body.attach(part)
    else:
        body = MIMEText(text, "plain", charset)

    if isinstance(body, MIMEMultipart):
        # Fixed boundaries (the default is random) keep the mailbox byte-for-byte the same.
        body.set_boundary(f"=_bench_{index}_outer")
        for number, part in enumerate(body.get_payload()):
            if isinstance(part, MIMEMultipart):
                part.set_boundary(f"=_bench_{index}_{number}")
    body["Subject"] = Header(subject, charset).encode()
    body["From"] = f"{Header(name, charset).encode()} <{sender}>"
    body["To"] = "Support <support@tracker.example>"
    body["Date"] = format_datetime(date)
    body["Message-ID"] = message_id
    if in_reply_to:
        body["In-Reply-To"] = in_reply_to
        body["References"] = in_reply_to
    if kind == "auto":
        body["Auto-Submitted"] = "auto-replied"
        body.replace_header("Subject", Header(f"Out of office: {subject}", charset).encode())
    earlier.append((message_id, subject))
    return body.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _html(lines: list[str]) -> str:
    items = "".join(f"<p>{line}</p>" for line in lines)
    return (
        "<html><head><style>p{margin:0}</style></head><body>"
        f"<div class='mail'>{items}<br><table><tr><td><b>Order</b></td><td>#4711</td></tr></table>"
        "<p style='color:#888'>Sent from my phone</p></div></body></html>"
    )


def total_bytes(messages: list[bytes]) -> int:
    return sum(len(message) for message in messages)


def write_sample(messages: list[bytes], folder: Path, limit: int = 0) -> None:
    """Debugging aid: the first ``limit`` messages as .eml files."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, raw in enumerate(messages[: limit or len(messages)]):
        (folder / f"{index:04d}.eml").write_bytes(raw)
