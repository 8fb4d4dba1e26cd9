/**
 * Where a consumer keeps what it has applied: per organization, the last event applied (its
 * `sequence` and id, the feed's cursor), the deliveries seen (`webhook-id`), and the events
 * that arrived ahead of a gap. The application may supply its own (`Store`); an in-memory
 * store and a SQLite store (Node's own `node:sqlite`) ship here.
 */
import type { OffboardEvent } from "./events/index.js";

export interface Applied {
  /** 0 when nothing was applied. */
  sequence: number;
  eventId: string | null;
}

export interface Store {
  lastApplied(organizationId: string): Promise<Applied>;
  seen(webhookId: string): Promise<boolean>;
  /** The event was applied: it is the organization's last, and its id is seen. */
  record(organizationId: string, sequence: number, eventId: string): Promise<void>;
  /** Keep an event that arrived ahead of a gap. */
  hold(event: OffboardEvent): Promise<void>;
  /** The organization's held events, in `sequence` order. */
  held(organizationId: string): Promise<OffboardEvent[]>;
  /** Forget the held events up to this sequence. */
  dropHeld(organizationId: string, upTo: number): Promise<void>;
}

/** Everything in this process's memory (tests, or an application that catches up at start). */
export class MemoryStore implements Store {
  private last = new Map<string, Applied>();
  private seenIds = new Set<string>();
  private heldEvents = new Map<string, Map<number, OffboardEvent>>();

  async lastApplied(organizationId: string): Promise<Applied> {
    return this.last.get(organizationId) ?? { sequence: 0, eventId: null };
  }
  async seen(webhookId: string): Promise<boolean> {
    return this.seenIds.has(webhookId);
  }
  async record(organizationId: string, sequence: number, eventId: string): Promise<void> {
    this.last.set(organizationId, { sequence, eventId });
    this.seenIds.add(eventId);
  }
  async hold(event: OffboardEvent): Promise<void> {
    let held = this.heldEvents.get(event.organization_id);
    if (!held) this.heldEvents.set(event.organization_id, (held = new Map()));
    held.set(event.sequence, event);
  }
  async held(organizationId: string): Promise<OffboardEvent[]> {
    const held = this.heldEvents.get(organizationId) ?? new Map<number, OffboardEvent>();
    return [...held.keys()].sort((a, b) => a - b).map((s) => held.get(s)!);
  }
  async dropHeld(organizationId: string, upTo: number): Promise<void> {
    const held = this.heldEvents.get(organizationId);
    for (const s of [...(held?.keys() ?? [])]) if (s <= upTo) held!.delete(s);
  }
}

/** What the SQLite store needs of a database: `node:sqlite`'s `DatabaseSync` has it. */
interface Database {
  exec(sql: string): void;
  prepare(sql: string): {
    run(...params: unknown[]): unknown;
    get(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
  };
  close(): void;
}

/**
 * A SQLite file through Node's own `node:sqlite` (Node 22.5 or later): survives restarts;
 * each record is one transaction, so an event is never recorded applied without its id seen.
 */
export class SqliteStore implements Store {
  private constructor(private readonly db: Database) {}

  static async open(path: string): Promise<SqliteStore> {
    // Loaded only here: the rest of the package runs where node:sqlite does not exist.
    const specifier = "node:sqlite";
    const { DatabaseSync } = await import(specifier);
    const db: Database = new DatabaseSync(path);
    db.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE IF NOT EXISTS offboard_applied (
        organization_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, event_id TEXT);
      CREATE TABLE IF NOT EXISTS offboard_seen (webhook_id TEXT PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS offboard_held (
        organization_id TEXT NOT NULL, sequence INTEGER NOT NULL, event TEXT NOT NULL,
        PRIMARY KEY (organization_id, sequence));`);
    return new SqliteStore(db);
  }

  async lastApplied(organizationId: string): Promise<Applied> {
    const row = this.db
      .prepare("SELECT sequence, event_id FROM offboard_applied WHERE organization_id = ?")
      .get(organizationId) as { sequence: number; event_id: string | null } | undefined;
    return row ? { sequence: Number(row.sequence), eventId: row.event_id } : { sequence: 0, eventId: null };
  }
  async seen(webhookId: string): Promise<boolean> {
    return this.db.prepare("SELECT 1 AS x FROM offboard_seen WHERE webhook_id = ?").get(webhookId) !== undefined;
  }
  async record(organizationId: string, sequence: number, eventId: string): Promise<void> {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      this.db
        .prepare(
          "INSERT INTO offboard_applied (organization_id, sequence, event_id) VALUES (?, ?, ?) " +
            "ON CONFLICT (organization_id) DO UPDATE SET sequence = excluded.sequence, event_id = excluded.event_id",
        )
        .run(organizationId, sequence, eventId);
      this.db.prepare("INSERT OR IGNORE INTO offboard_seen (webhook_id) VALUES (?)").run(eventId);
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }
  async hold(event: OffboardEvent): Promise<void> {
    this.db
      .prepare("INSERT OR REPLACE INTO offboard_held (organization_id, sequence, event) VALUES (?, ?, ?)")
      .run(event.organization_id, event.sequence, JSON.stringify(event));
  }
  async held(organizationId: string): Promise<OffboardEvent[]> {
    const rows = this.db
      .prepare("SELECT event FROM offboard_held WHERE organization_id = ? ORDER BY sequence")
      .all(organizationId) as { event: string }[];
    return rows.map((r) => JSON.parse(r.event) as OffboardEvent);
  }
  async dropHeld(organizationId: string, upTo: number): Promise<void> {
    this.db.prepare("DELETE FROM offboard_held WHERE organization_id = ? AND sequence <= ?").run(organizationId, upTo);
  }
  close(): void {
    this.db.close();
  }
}
