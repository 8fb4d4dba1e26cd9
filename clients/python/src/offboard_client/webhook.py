"""Webhook verification through the official Standard Webhooks library.

offboard signs each delivery with the endpoint's secret (`webhook-id`,
`webhook-timestamp`, `webhook-signature`); during a rotation it sends two signatures,
and an application may hold both secrets while it switches. A delivery is genuine
when any secret verifies any of its signatures within the library's five-minute
tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["ForgedWebhook", "verify"]


class ForgedWebhook(Exception):
    """The delivery is not offboard's: unsigned, badly signed, or too old or new."""


def verify(body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> dict[str, Any]:
    """The event the body holds, once one of `secrets` verifies it (else `ForgedWebhook`)."""
    if not secrets:
        raise ValueError("at least one webhook secret is needed")
    plain = {k.lower(): v for k, v in headers.items()}
    last: Exception | None = None
    for secret in secrets:
        try:
            event = Webhook(secret).verify(body, plain)
        except WebhookVerificationError as e:
            last = e
            continue
        if not isinstance(event, dict):
            raise ForgedWebhook("the body is not an event")
        return event
    raise ForgedWebhook(str(last))
