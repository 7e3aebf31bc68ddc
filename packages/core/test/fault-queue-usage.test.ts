import { until } from "@pgcachewatch/testdb";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import pg from "pg";
import { describe, expect, it, onTestFinished } from "vitest";
import { createCacheWatch, type Logger, silentLogger } from "../src/index.js";

const db = useTestDatabase("fault_queue");

describe("NOTIFY queue usage", () => {
  it("is read with the heartbeat, shown in stats, and warned about past the threshold", async () => {
    const warnings: { message: string; details: Record<string, unknown> | undefined }[] = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (message, details) => warnings.push({ message, details }),
    };
    const threshold = 0.00001;
    const watch = createCacheWatch({
      connectionString: db.url,
      heartbeatInterval: 200,
      queueUsageWarning: threshold,
      logger,
    });
    onTestFinished(() => watch.stop());
    await watch.start();
    await until(() => watch.stats().notifyQueueUsage !== undefined, 5000, "a first reading");
    expect(watch.stats().notifyQueueUsage).toBeGreaterThanOrEqual(0);

    // A session that LISTENs and then sits in a transaction never reads: it pins the queue tail.
    const stuck = new pg.Client({ connectionString: db.url });
    await stuck.connect();
    onTestFinished(async () => {
      await stuck.query("ROLLBACK").catch(() => {});
      await stuck.end();
    });
    await stuck.query("LISTEN pgcw_stuck_listener");
    await stuck.query("BEGIN");
    await stuck.query("SELECT 1");
    const sender = await db.externalWriter();
    // About 2 MB of distinct notifications: some 250 of the queue's pages.
    await sender.query(
      "SELECT pg_notify('pgcw_stuck_listener', repeat('x', 1000) || g::text) FROM generate_series(1, 2000) g",
    );
    await until(() => (watch.stats().notifyQueueUsage ?? 0) >= threshold, 5000, "the usage to rise");
    const warning = warnings.find((w) => /NOTIFY queue is filling up/.test(w.message));
    expect(warning?.details).toMatchObject({ threshold });
    expect(warning?.details?.queueUsage).toBeGreaterThanOrEqual(threshold);
    expect(watch.isServing()).toBe(true);
  });
});
