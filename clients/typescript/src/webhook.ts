/**
 * Webhook verification through the official Standard Webhooks library. offboard signs each
 * delivery with the endpoint's secret; during a rotation it sends two signatures, and an
 * application may hold both secrets while it switches. A delivery is genuine when any
 * secret verifies any of its signatures within the library's five-minute tolerance.
 */
import { Webhook } from "standardwebhooks";
import type { OffboardEvent } from "./events/index.js";

/** The delivery is not offboard's: unsigned, badly signed, or too old or new. */
export class ForgedWebhook extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ForgedWebhook";
  }
}

export type Headers = Record<string, string | string[] | undefined>;

/** Header names in lower case, a repeated header's first value. */
export function plainHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const value = Array.isArray(v) ? v[0] : v;
    if (value !== undefined) out[k.toLowerCase()] = value;
  }
  return out;
}

/** The event the body holds, once one of `secrets` verifies it (else `ForgedWebhook`). */
export function verify(body: Uint8Array | string, headers: Headers, secrets: readonly string[]): OffboardEvent {
  if (secrets.length === 0) throw new Error("at least one webhook secret is needed");
  const plain = plainHeaders(headers);
  let last = "no secret verified it";
  for (const secret of secrets) {
    try {
      const event = new Webhook(secret).verify(body, plain);
      if (typeof event !== "object" || event === null) throw new ForgedWebhook("the body is not an event");
      return event as OffboardEvent;
    } catch (e) {
      if (e instanceof ForgedWebhook) throw e;
      last = e instanceof Error ? e.message : String(e);
    }
  }
  throw new ForgedWebhook(last);
}
