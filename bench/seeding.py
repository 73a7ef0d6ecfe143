"""The benchmark's data set: deterministic (fixed seed), realistic, written with bulk_create.

One manager (verified address, known password) owns a few boards. The measured board grows in
place: ``seed_board_tickets(start=0, stop=1_000)`` for the first run, then
``seed_board_tickets(start=1_000, stop=100_000)`` adds the older history for the second. Ticket
``i`` is always the same ticket (title, state, dates, uuid), so the 1,000-ticket board is exactly
the newest 1,000 tickets of the 100,000-ticket board and every URL (kanban, list page 3, the
detail page) stays the same between the two runs.

Board counters (``Board.count_<state>``) are written from the rows themselves after each batch,
exactly the numbers ``tickets.services`` would have kept, and the tables are VACUUM ANALYZEd,
as autovacuum would have done on a live site long before a board reached that size.

Where the product's code is imported: the block right below, the only one of this module, and
``bench/intake_worker.py`` (the parser and ``inbox_poll``). When models or services move between
apps, these are the lines to change. Because of them, import this module only after
``django.setup()``. ``bench compare`` runs each commit's own copy of this module in that
commit's folder (through ``bench/side.py``), so an older commit seeds with its older paths; what
``bench/side.py`` calls here (names and keyword arguments) is the interface to keep.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

# The product's code: every import of it in the bench's data code (see the module docstring).
from accounts.models import Manager
from boards.models import Board, Keyword
from inboxes.models import Inbox
from outbox.models import OutgoingMail
from tickets.models import Entry, Ticket

SEED = 20260601
BATCH_SIZE = 2_000
# The newest ticket is this old; the board's history then goes back one ticket per step.
NEWEST_TICKET_AGE = timedelta(minutes=3)
TICKET_STEP = timedelta(minutes=10)  # 1,000 tickets ≈ one week, 100,000 ≈ two years

MANAGER_EMAIL = "bench-manager@example.com"
MANAGER_PASSWORD = "bench-password-2026"
MEASURED_BOARD = "customer-portal"
WEB_FORM_BOARD = "web-reports"

_PRODUCTS = [
    "checkout",
    "login page",
    "invoice PDF",
    "mobile app",
    "password reset",
    "search",
    "CSV export",
    "dashboard",
    "notification emails",
    "order history",
    "profile settings",
    "shopping cart",
    "payment form",
    "API token page",
    "two-factor login",
    "file upload",
    "calendar sync",
    "report builder",
    "user invitations",
    "dark mode",
]
_PROBLEMS = [
    "does not load",
    "shows a blank page",
    "returns error 500",
    "is very slow",
    "shows the wrong total",
    "times out",
    "logs me out",
    "crashes on start",
    "shows an outdated value",
    "rejects a valid input",
    "sends duplicate emails",
    "has a broken layout on my phone",
    "ignores my language setting",
    "cannot be opened in Firefox",
    "loses my changes",
]
_CONTEXTS = [
    "after the last update",
    "since Monday",
    "for some customers",
    "on Android",
    "on iPhone",
    "in Safari",
    "when I use a coupon",
    "with a long company name",
    "for invoices in EUR",
    "after changing my address",
    "only in the Polish version",
    "every morning",
    "",
    "",
    "",
]
_SENTENCES = [
    "I tried again after clearing the browser cache, with the same result.",
    "This started right after I updated the app this morning.",
    "My colleague sees the same thing on her laptop.",
    "The page keeps spinning for about a minute and then gives up.",
    "We rely on this for our monthly closing, so it is quite urgent for us.",
    "Steps: open the page, click the blue button, wait a few seconds.",
    "Expected: the list of my orders. Actual: an empty table with no message.",
    "The error message says 'Something went wrong, please try again later'.",
    "I attached nothing because the upload itself fails.",
    "It works in private browsing mode, which is strange.",
    "Our account number is in the signature below if you need it.",
    "Could you please tell me whether this is a known problem?",
    "The total is off by exactly the shipping cost.",
    "It happens on both Wi-Fi and mobile data.",
    "I am using the latest version of Chrome on Windows 11.",
    "Three of our customers called about this today.",
    "Nothing changed on our side as far as I know.",
    "The same worked fine last week.",
    "Sometimes it works on the second try, most of the time it does not.",
    "Thank you for looking into it, and have a nice day.",
    "Screenshot description: a red banner at the top with code E-4012.",
    "The date shown is one day off, maybe a timezone issue?",
    "Our finance team cannot download the statements at all.",
    "Please let me know if you need more details from my side.",
]
_FIRST = ["anna", "jan", "maria", "piotr", "olga", "ivan", "yuki", "kenji", "emma", "liam", "sofia", "noah"]
_LAST = ["nowak", "kowalski", "smith", "tanaka", "ivanova", "garcia", "muller", "rossi", "brown", "sato"]
_DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example", "shop.example"]
_COMMENTS = [
    "Reproduced, looking into it.",
    "Fixed in today's release, thank you for the report.",
    "This is expected behaviour, see the help page.",
    "Duplicate of an earlier report.",
    "We could not reproduce this; please write again if it happens once more.",
    "",
    "",
]
# Share of each final state on the board: many finished tickets, as on any long-lived board.
_STATE_WEIGHTS = [("new", 18), ("in_progress", 12), ("closed", 55), ("rejected", 15)]


@dataclass(frozen=True)
class SeededData:
    manager_id: int
    measured_board_id: int
    web_form_board_id: int
    web_form_unique_name: str
    detail_ticket_id: int


def _ticket_rng(index: int) -> random.Random:
    # One generator per ticket: ticket i is the same whatever range is being seeded.
    return random.Random(SEED * 1_000_003 + index)


def _title(rng: random.Random) -> str:
    product, problem, context = rng.choice(_PRODUCTS), rng.choice(_PROBLEMS), rng.choice(_CONTEXTS)
    title = f"{product.capitalize()} {problem}"
    return f"{title} {context}".strip()


def _description(rng: random.Random) -> str:
    parts = ["Hello,", ""]
    paragraphs = rng.randint(1, 4)
    for _p in range(paragraphs):
        parts.append(" ".join(rng.sample(_SENTENCES, rng.randint(2, 5))))
        parts.append("")
    parts.append(f"Best regards,\n{rng.choice(_FIRST).capitalize()}")
    return "\n".join(parts)


def _email(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{rng.randint(1, 400)}@{rng.choice(_DOMAINS)}"


def _final_state(rng: random.Random) -> str:
    roll = rng.randrange(100)
    for state, weight in _STATE_WEIGHTS:
        if roll < weight:
            return state
        roll -= weight
    return "closed"


def _path_to(state: str, rng: random.Random) -> list[tuple[str, str]]:
    """The moves that lead from ``new`` to ``state`` (TKT-2)."""
    if state == "new":
        return []
    if state == "in_progress":
        return [("new", "in_progress")]
    if state == "closed":
        return [("new", "in_progress"), ("in_progress", "closed")]
    # rejected: straight away, or after some work
    if rng.random() < 0.6:
        return [("new", "rejected")]
    return [("new", "in_progress"), ("in_progress", "rejected")]


def seed_base(*, ticket_board_stop_hint: int = 0) -> SeededData:
    """The manager, their boards (one archived) and keywords; idempotent for a fresh database."""
    rng = random.Random(SEED)
    manager = Manager.objects.create_user(MANAGER_EMAIL, MANAGER_PASSWORD, name="Bench Manager")
    manager.timezone = "Europe/Warsaw"
    manager.save(update_fields=["timezone"])
    EmailAddress.objects.create(user=manager, email=MANAGER_EMAIL, verified=True, primary=True)

    boards = {}
    for unique_name, name, keywords in [
        (MEASURED_BOARD, "Customer portal", ["portal", "login", "checkout"]),
        ("billing", "Billing", ["invoice", "payment", "refund"]),
        ("mobile-app", "Mobile app", ["android", "iphone", "app crash"]),
        (WEB_FORM_BOARD, "Web reports", []),
        ("old-website", "Old website", ["legacy"]),
    ]:
        board = Board.objects.create(
            manager=manager,
            name=name,
            unique_name=unique_name,
            greeting=f"Tell us what went wrong with the {name.lower()}. We answer within one working day.",
        )
        for text in keywords:
            Keyword.objects.create(manager=manager, board=board, text=text)
        boards[unique_name] = board

    # A few tickets on the side boards, so the dashboard and board list show real numbers.
    now = timezone.now()
    side = []
    for unique_name in ("billing", "mobile-app", "old-website"):
        for _n in range(40):
            created = now - timedelta(hours=rng.randint(1, 24 * 60))
            side.append(_side_ticket(boards[unique_name], rng, created))
    Ticket.objects.bulk_create(side, batch_size=BATCH_SIZE)
    old = boards["old-website"]
    Board.objects.filter(pk=old.pk).update(is_archived=True, archived_at=now - timedelta(days=30))
    for board in boards.values():
        recount_board(board.pk)

    return SeededData(
        manager_id=manager.pk,
        measured_board_id=boards[MEASURED_BOARD].pk,
        web_form_board_id=boards[WEB_FORM_BOARD].pk,
        web_form_unique_name=WEB_FORM_BOARD,
        detail_ticket_id=0,
    )


def _side_ticket(board: object, rng: random.Random, created: datetime) -> object:
    return Ticket(
        uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
        board=board,
        manager_id=board.manager_id,  # type: ignore[attr-defined]
        title=_title(rng),
        description=_description(rng),
        state=rng.choice(["new", "in_progress", "closed"]),
        creator_email=_email(rng),
        source=rng.choice(["web", "email"]),
        created_at=created,
        updated_at=created,
    )


def seed_board_tickets(*, board_id: int, manager_id: int, start: int, stop: int, now: datetime) -> None:
    """Tickets ``start`` … ``stop - 1`` of the measured board, with their state changes."""
    newest = now - NEWEST_TICKET_AGE
    for batch_start in range(start, stop, BATCH_SIZE):
        batch_stop = min(batch_start + BATCH_SIZE, stop)
        tickets: list[Ticket] = []
        moves: list[list[tuple[str, str, datetime, str]]] = []
        for index in range(batch_start, batch_stop):
            rng = _ticket_rng(index)
            created = newest - TICKET_STEP * index - timedelta(seconds=rng.randint(0, 500))
            state = _final_state(rng)
            path = _path_to(state, rng)
            when = created
            ticket_moves = []
            for from_state, to_state in path:
                # Work happens within hours to days, never in the future.
                when = min(when + timedelta(minutes=rng.randint(10, 4 * 24 * 60)), newest)
                ticket_moves.append((from_state, to_state, when, rng.choice(_COMMENTS)))
            tickets.append(
                Ticket(
                    uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
                    board_id=board_id,
                    manager_id=manager_id,
                    title=_title(rng),
                    description=_description(rng),
                    state=state,
                    creator_email=_email(rng),
                    source="email" if rng.random() < 0.6 else "web",
                    created_at=created,
                    updated_at=when,
                )
            )
            moves.append(ticket_moves)
        with transaction.atomic():
            created_tickets = Ticket.objects.bulk_create(tickets, batch_size=BATCH_SIZE)
            changes = [
                Entry(
                    ticket_id=ticket.pk,
                    kind="reply",
                    from_state=from_state,
                    to_state=to_state,
                    body=comment,
                    author_id=manager_id,
                    created_at=when,
                )
                for ticket, ticket_moves in zip(created_tickets, moves, strict=True)
                for from_state, to_state, when, comment in ticket_moves
            ]
            Entry.objects.bulk_create(changes, batch_size=BATCH_SIZE)
    recount_board(board_id)


def recount_board(board_id: int) -> None:
    """Set the counters to what tickets.services would have kept them at (one per state, internal only)."""
    counts = dict(
        Ticket.objects.internal().filter(board_id=board_id).values_list("state").annotate(n=Count("id")).order_by()
    )
    forwarded = Ticket.objects.forwarded().filter(board_id=board_id).count()
    Board.objects.filter(pk=board_id).update(
        count_new=counts.get("new", 0),
        count_in_progress=counts.get("in_progress", 0),
        count_closed=counts.get("closed", 0),
        count_rejected=counts.get("rejected", 0),
        count_forwarded=forwarded,
    )


def detail_ticket_id(*, board_id: int) -> int:
    """A ticket among the newest 1,000 that went through two moves: a detail page with a timeline."""
    ticket = (
        Ticket.objects.filter(board_id=board_id, state="closed")
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)[20:21]
    )
    return ticket[0]


THREAD_TITLE = "Bench: a ticket with a long conversation"
THREAD_ENTRIES = 200


def thread_ticket_id(*, board_id: int, manager_id: int) -> int:
    """A ticket with a 200-entry thread (reporter mail with quotes, replies with moves, notes), made once."""
    existing = Ticket.objects.filter(board_id=board_id, title=THREAD_TITLE).values_list("id", flat=True).first()
    if existing is not None:
        return existing
    rng = random.Random(THREAD_ENTRIES)
    start = timezone.now() - timedelta(days=30)
    with transaction.atomic():
        ticket = Ticket.objects.create(
            board_id=board_id,
            manager_id=manager_id,
            title=THREAD_TITLE,
            description=_description(rng),
            state="in_progress",
            creator_email="long.thread@example.com",
            source="email",
            created_at=start,
            updated_at=start,
        )
        entries = []
        for n in range(THREAD_ENTRIES):
            when = start + timedelta(minutes=10 * n)
            kind = ("message", "reply", "note")[n % 3]
            body = _description(rng)
            if kind == "message":
                body += "\n\nOn Mon, Support <support@example.com> wrote:\n> " + _description(rng).replace("\n", "\n> ")
            entries.append(
                Entry(
                    ticket=ticket,
                    kind=kind,
                    body=body,
                    sender_email=ticket.creator_email if kind == "message" else "",
                    source="email" if kind == "message" else "",
                    author_id=None if kind == "message" else manager_id,
                    message_id=f"<bench-{n}@example.com>" if kind == "message" else "",
                    created_at=when,
                )
            )
        Entry.objects.bulk_create(entries)
    recount_board(board_id)
    return ticket.pk


def vacuum_analyze() -> None:
    """What autovacuum does on a live site: fresh planner statistics and visibility map."""
    with connection.cursor() as cursor:
        for model in (Ticket, Entry, Board, Session):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        # Write the seeded pages out now: otherwise the checkpointer does it during the first
        # measurements after a large seed and slows them (and their ceiling) down.
        cursor.execute("CHECKPOINT")


def delete_web_form_tickets(*, board_id: int) -> int:
    """Remove what the public-form POST run created, so both sizes see the same data set."""
    with transaction.atomic():
        tickets = Ticket.objects.filter(board_id=board_id)
        OutgoingMail.objects.filter(ticket__in=tickets).delete()
        deleted, _by_model = tickets.delete()
    recount_board(board_id)
    return deleted


def seed_intake_inbox(*, username: str, port: int, label: str, password: str) -> int:
    """A manager of its own with keyword boards, and an Inbox on the Dovecot user (no SSL: loopback)."""
    from .mailbox import KEYWORDS

    manager = Manager.objects.create_user(f"intake-{label}@example.com", MANAGER_PASSWORD, name=f"Intake {label}")
    EmailAddress.objects.create(user=manager, email=manager.email, verified=True, primary=True)
    for name, keywords in KEYWORDS.items():
        board = Board.objects.create(manager=manager, name=name.capitalize(), unique_name=f"intake-{label}-{name}")
        for text in keywords:
            Keyword.objects.create(manager=manager, board=board, text=text)
    inbox = Inbox(
        manager=manager,
        name=f"Support {label}",
        imap_host="127.0.0.1",
        imap_port=port,
        imap_username=username,
        imap_use_ssl=False,
        # Confirmations are queued in the outbox; no worker sends them during the bench.
        smtp_host="127.0.0.1",
        smtp_port=2525,
        smtp_use_starttls=False,
        from_address=f"support-{label}@tracker.example",
    )
    inbox.set_imap_password(password)
    inbox.save()
    return inbox.pk
