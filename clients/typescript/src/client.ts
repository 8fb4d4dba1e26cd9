/**
 * A thin client for what an application calls with its API key (`/v1`): register,
 * introspect and revoke a session, read a user, read the feed. Uses the platform's fetch.
 */
import type { components } from "./api.js";

export type Session = components["schemas"]["Session"];
export type User = components["schemas"]["User"];
export type FeedPage = components["schemas"]["FeedPage"];

/** offboard answered with an error: `status`, and the error's `code` and `message`. */
export class OffboardError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = "OffboardError";
  }
}

/**
 * `new Client("http://127.0.0.1:8080", "obk_…")`: each call needs its scope on the key
 * (`sessions:write`, `sessions:read`, `users:read`, `events:read`).
 */
export class Client {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly apiKey: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.apiKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) {
      let code = "";
      let message = res.statusText;
      try {
        const err = JSON.parse(text).error;
        code = String(err?.code ?? "");
        message = String(err?.message ?? message);
      } catch {
        // Not offboard's envelope: the status says it.
      }
      throw new OffboardError(res.status, code, message);
    }
    return (text ? JSON.parse(text) : null) as T;
  }

  /** A session of an ACTIVE member (`expiresAt`: RFC 3339). */
  registerSession(userId: string, organizationId: string, expiresAt: string): Promise<Session> {
    return this.call("POST", "/sessions", {
      user_id: userId,
      organization_id: organizationId,
      expires_at: expiresAt,
    });
  }

  /** Introspection: `active`, and the member's `roles` now. */
  session(sessionId: string): Promise<Session> {
    return this.call("GET", `/sessions/${encodeURIComponent(sessionId)}`);
  }

  revokeSession(sessionId: string): Promise<Session> {
    return this.call("DELETE", `/sessions/${encodeURIComponent(sessionId)}`);
  }

  user(userId: string): Promise<User> {
    return this.call("GET", `/users/${encodeURIComponent(userId)}`);
  }

  /** The organization's events after the event `after`, in commit order. */
  events(organizationId: string, options: { after?: string | null; limit?: number; wait?: string } = {}): Promise<FeedPage> {
    const q = new URLSearchParams({ organization_id: organizationId, limit: String(options.limit ?? 100) });
    if (options.after) q.set("after", options.after);
    if (options.wait) q.set("wait", options.wait);
    return this.call("GET", `/events?${q}`);
  }
}
