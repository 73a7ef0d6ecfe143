"""Refusals of ticket writes, with a message fit to show to the person who asked."""

from __future__ import annotations


class TicketError(Exception):
    """A refused write, with a message fit to show to the person who asked."""


class BoardClosedError(TicketError):
    pass


class InvalidTransitionError(TicketError):
    pass


class ForwardingError(TicketError):
    """A refused forwarding action, with a message for the manager."""
