"""Celery tasks of attachments: each calls one service."""

from __future__ import annotations

from celery import shared_task

from .services import stored_files_remove_orphans


@shared_task
def remove_orphan_files() -> int:
    """Beat, hourly: delete stored files no attachment refers to any more (ATT-4)."""
    return stored_files_remove_orphans()
