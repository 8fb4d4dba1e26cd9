"""Which events end a person's access in an organization."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ENDS_ACCESS", "ends_access"]

#: The events after which the person may no longer use the application in the event's
#: organization (an organization's deletion ends everyone's; a suspension ends the
#: account's everywhere and comes with `sessions.revoked`).
ENDS_ACCESS = frozenset(
    {
        "membership.deactivated",
        "membership.deleted",
        "user.deleted",
        "user.suspended",
        "sessions.revoked",
        "organization.deleted",
    }
)


def ends_access(event: Mapping[str, Any]) -> bool:
    """Whether this event ends the person's access in its organization. Losing every
    role (`membership.roles_changed` with no roles) does not: the membership stays
    active."""
    return event.get("type") in ENDS_ACCESS
