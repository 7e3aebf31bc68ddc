import { openExternalWriter } from "@pgcachewatch/testdb";
import { serverKind, useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { describe, expect, it } from "vitest";

const db = useTestDatabase("harness");

describe("test harness", () => {
  it("gives each file its own database on a real server", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string; v: string }>(
        "SELECT current_database() AS db, current_setting('server_version') AS v",
      );
      expect(rows[0]?.db).toBe(db.name);
      expect(["embedded", "external", "docker"]).toContain(serverKind());
    } finally {
      await client.end();
    }
  });

  it("delivers a NOTIFY committed on one connection to a LISTEN on another", async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const writer = await db.externalWriter();
    try {
      await listener.query("LISTEN harness_channel");
      const received = new Promise<pg.Notification>((resolve) => listener.once("notification", resolve));
      await writer.query("BEGIN");
      await writer.query("SELECT pg_notify('harness_channel', 'hello from the writer')");
      // Nothing is delivered before COMMIT.
      const early = await Promise.race([received.then(() => "early"), sleep(150).then(() => "none")]);
      expect(early).toBe("none");
      await writer.query("COMMIT");
      const notification = await received;
      expect(notification.channel).toBe("harness_channel");
      expect(notification.payload).toBe("hello from the writer");
      expect(notification.processId).not.toBe((listener as unknown as { processID: number }).processID);
    } finally {
      await listener.end();
    }
  });

  it("opens external writers that are independent connections", async () => {
    const a = await openExternalWriter(db.url);
    const b = await db.externalWriter();
    try {
      const pa = (await a.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      const pb = (await b.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      expect(pa).toBeTypeOf("number");
      expect(pa).not.toBe(pb);
    } finally {
      await a.end();
    }
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
