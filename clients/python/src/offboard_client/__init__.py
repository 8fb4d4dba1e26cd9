"""offboard's events and API for an application written in Python.

- `verify`: a webhook checked with the official Standard Webhooks library;
- `Consumer`: deliveries applied once and in each organization's order, gaps filled and
  downtime caught up from the feed;
- `MemoryStore`, `SqliteStore`: where a consumer keeps its place (or your own `Store`);
- `Client`: sessions, users and the feed with a least-privilege API key;
- `ends_access`: whether an event ends the person's access in its organization;
- `offboard_client.events`: each event type, generated from offboard's JSON Schemas.
"""

from .access import ENDS_ACCESS, ends_access
from .client import Client, OffboardError
from .consumer import Consumer
from .store import MemoryStore, SqliteStore, Store
from .webhook import ForgedWebhook, verify

__all__ = [
    "ENDS_ACCESS",
    "Client",
    "Consumer",
    "ForgedWebhook",
    "MemoryStore",
    "OffboardError",
    "SqliteStore",
    "Store",
    "ends_access",
    "verify",
]
