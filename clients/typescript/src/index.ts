/**
 * offboard's events and API for an application written in TypeScript:
 * - `verify`: a webhook checked with the official Standard Webhooks library;
 * - `Consumer`: deliveries applied once and in each organization's order, gaps filled and
 *   downtime caught up from the feed;
 * - `MemoryStore`, `SqliteStore`: where a consumer keeps its place (or your own `Store`);
 * - `Client`: sessions, users and the feed with a least-privilege API key;
 * - `endsAccess`: whether an event ends the person's access in its organization;
 * - every event type, generated from offboard's JSON Schemas.
 */
export { ENDS_ACCESS, endsAccess } from "./access.js";
export { Client, OffboardError, type FeedPage, type Session, type User } from "./client.js";
export { Consumer, type Apply } from "./consumer.js";
export { MemoryStore, SqliteStore, type Applied, type Store } from "./store.js";
export { ForgedWebhook, verify, type Headers } from "./webhook.js";
export type * from "./events/index.js";
export type { components, paths } from "./api.js";
