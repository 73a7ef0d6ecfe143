"""One side of `--compare`: a data step run in that side's own folder, with that commit's own code.

``python -m bench.side STEP ...`` runs with the working directory set to the folder of one
commit (REV's export, or the working tree), so ``bench.seeding`` and the product models it
imports are that commit's own: an older commit seeds its own database with its own schema and
module paths. The comparison copies this file into REV's export, whatever REV's bench looked
like, so it imports nothing of the product and of the bench nothing but ``bench.seeding`` (and,
for commits from before ``seed_intake_inbox`` existed, ``bench.intake``).

Steps, each in a fresh process; each prints one line ``BENCH_JSON {...}``:

  base                                     manager, boards, keywords, side tickets
  tickets BOARD MANAGER START STOP NOW     tickets START … STOP-1 of the measured board, VACUUM
  clean-web-form BOARD                     remove what the public-form POST runs filed
  intake-inboxes PORT USER PASSWORD LABEL…   per label an intake manager with an Inbox on USER
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path


def base() -> dict[str, object]:
    import issuetracker
    from bench import seeding

    data = seeding.seed_base()
    return {
        "manager_id": data.manager_id,
        "measured_board_id": data.measured_board_id,
        "web_form_board_id": data.web_form_board_id,
        "manager_email": seeding.MANAGER_EMAIL,
        "manager_password": seeding.MANAGER_PASSWORD,
        "measured_board": seeding.MEASURED_BOARD,
        "web_form_board": seeding.WEB_FORM_BOARD,
        # The caller checks that this process imported the product from the side's own folder.
        "code_dir": str(Path(issuetracker.__file__).resolve().parent.parent),
    }


def tickets(board_id: int, manager_id: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    from bench import seeding

    seeding.seed_board_tickets(board_id=board_id, manager_id=manager_id, start=start, stop=stop, now=now)
    seeding.vacuum_analyze()
    answer: dict[str, object] = {"detail_ticket_id": seeding.detail_ticket_id(board_id=board_id)}
    # This file runs beside another commit's seeding; one from before the thread (issue 10) has no
    # thread ticket, and the orchestration measures its detail page instead.
    thread_ticket_id = getattr(seeding, "thread_ticket_id", None)
    if thread_ticket_id is not None:
        answer["thread_ticket_id"] = thread_ticket_id(board_id=board_id, manager_id=manager_id)
    return answer


def clean_web_form(board_id: int) -> dict[str, object]:
    from bench import seeding

    return {"removed": seeding.delete_web_form_tickets(board_id=board_id)}


def intake_inboxes(port: int, username: str, password: str, labels: list[str]) -> dict[str, object]:
    from bench import seeding

    ids = []
    for label in labels:
        if hasattr(seeding, "seed_intake_inbox"):
            ids.append(seeding.seed_intake_inbox(username=username, port=port, label=label, password=password))
        else:
            # Commits from before the comparison existed kept this in bench/intake.py, with the
            # same password built in.
            from bench.intake import _create_inbox

            ids.append(_create_inbox(username=username, port=port, label=label))
    return {"inbox_ids": ids}


def main(argv: list[str]) -> int:
    step, args = (argv[0], argv[1:]) if argv else ("", [])
    import django

    django.setup()
    if step == "base" and not args:
        result = base()
    elif step == "tickets" and len(args) == 5:
        board, manager, start, stop = (int(value) for value in args[:4])
        result = tickets(board, manager, start, stop, datetime.fromisoformat(args[4]))
    elif step == "clean-web-form" and len(args) == 1:
        result = clean_web_form(int(args[0]))
    elif step == "intake-inboxes" and len(args) >= 4:
        result = intake_inboxes(int(args[0]), args[1], args[2], args[3:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print("BENCH_JSON " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
