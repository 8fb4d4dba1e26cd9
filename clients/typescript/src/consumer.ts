/**
 * A consumer of offboard's events: verified, applied once, and applied in each
 * organization's `sequence` order, whatever order the webhooks arrive in.
 *
 * `handle(body, headers)` verifies a delivery, skips a `webhook-id` it has seen, applies the
 * event when it is the organization's next, and holds it when it is ahead of a gap, which it
 * then fills from the feed (`catchUp`) with the API key. `catchUp(organizationId)` also brings
 * an application back after downtime. `apply` is the application's own function, called once
 * per event, in order.
 */
import type { Client } from "./client.js";
import type { OffboardEvent } from "./events/index.js";
import type { Store } from "./store.js";
import { type Headers, plainHeaders, verify } from "./webhook.js";

export type Apply = (event: OffboardEvent) => void | Promise<void>;

export class Consumer {
  /** The endpoint's signing secrets (two while rotating). */
  secrets: string[];
  private queues = new Map<string, Promise<unknown>>();

  /**
   * `client`: an API key with `events:read`, to fill gaps and catch up (without one, an
   * event ahead of a gap waits for the webhooks that fill it).
   */
  constructor(
    private readonly store: Store,
    private readonly apply: Apply,
    secrets: readonly string[],
    private readonly client?: Client,
  ) {
    this.secrets = [...secrets];
  }

  /** One organization's work at a time, in arrival order. */
  private serial<T>(org: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(org) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.queues.set(org, next.catch(() => undefined));
    return next;
  }

  /**
   * Verifies and takes one delivery (throws `ForgedWebhook` for a forged or stale one:
   * answer it 400); answer 2xx once it resolves. Resolves to the event.
   */
  async handle(body: Uint8Array | string, headers: Headers): Promise<OffboardEvent> {
    const event = verify(body, headers, this.secrets);
    const webhookId = plainHeaders(headers)["webhook-id"] ?? "";
    const org = event.organization_id;
    await this.serial(org, async () => {
      if (await this.store.seen(webhookId)) return;
      const { sequence: last } = await this.store.lastApplied(org);
      if (event.sequence <= last) return;
      if (event.sequence === last + 1 || (last === 0 && !this.client)) {
        await this.applyOne(event);
      } else {
        await this.store.hold(event);
      }
      await this.drain(org);
      if (this.client && (await this.store.held(org)).length > 0) await this.catchUpNow(org);
    });
    return event;
  }

  /** Applies the organization's events after the last applied one from the feed, in order. */
  catchUp(organizationId: string): Promise<number> {
    return this.serial(organizationId, () => this.catchUpNow(organizationId));
  }

  private async catchUpNow(org: string): Promise<number> {
    if (!this.client) throw new Error("catching up needs a Client with an events:read key");
    let applied = 0;
    for (;;) {
      let { sequence: last, eventId: after } = await this.store.lastApplied(org);
      const page = await this.client.events(org, { after, limit: 100 });
      const before = applied;
      for (const raw of page.data) {
        const event = raw as unknown as OffboardEvent;
        if (event.sequence <= last) continue;
        // The feed has no gaps: from the start its first event is the next.
        await this.applyOne(event);
        last = event.sequence;
        applied += 1;
      }
      await this.drain(org);
      if (page.data.length === 0 || applied === before) return applied;
    }
  }

  /** Applies held events that are now next. */
  private async drain(org: string): Promise<void> {
    for (const event of await this.store.held(org)) {
      const { sequence: last } = await this.store.lastApplied(org);
      if (event.sequence <= last) continue;
      if (event.sequence !== last + 1) break;
      await this.applyOne(event);
    }
    await this.store.dropHeld(org, (await this.store.lastApplied(org)).sequence);
  }

  private async applyOne(event: OffboardEvent): Promise<void> {
    await this.apply(event);
    await this.store.record(event.organization_id, event.sequence, event.id);
  }
}
