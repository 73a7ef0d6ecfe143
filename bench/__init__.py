"""The benchmark behind `make bench` (issue 6): the product against its ceiling on this machine.

`python -m bench` creates the database ``issuetracker_bench``, seeds it deterministically,
serves the product with gunicorn exactly as in production (DEBUG off, PostgreSQL, Redis) on a
free port of 127.0.0.1, loads each page with wrk, measures e-mail intake from a private Dovecot,
and prints one Markdown table. Every figure is a ratio to a ceiling measured in the same run,
because absolute numbers only describe the machine.

Modules: ``seeding`` (data), ``server`` (database, gunicorn), ``pages`` (the measured URLs),
``load`` (wrk), ``mailbox`` (the generated support mails), ``intake`` + ``intake_worker`` (IMAP
fetch rates, worker memory), ``report`` (table and machine facts), ``profile`` (pyinstrument on
one page). ``python -m bench --compare REV`` measures two commits side by side: ``compare``
(orchestration), ``side`` (seeding steps run in each commit's own folder), ``paired`` (the
client that alternates between the two servers).
"""
