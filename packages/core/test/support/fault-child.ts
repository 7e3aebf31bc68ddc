/**
 * Scenarios that must end with the process exiting by itself, run in a child process by the
 * fault tests: `node --import tsx fault-child.ts <scenario> <connection string> [table]`.
 */
import { createCacheWatch } from "../../src/index.js";

const [scenario, connectionString, table] = process.argv.slice(2);

async function main(): Promise<void> {
  if (scenario === "bad-connection-string") {
    const watch = createCacheWatch({ connectionString });
    try {
      await watch.start();
      process.stdout.write("started\n");
    } catch (error) {
      const e = error as { code?: string; name?: string; message?: string };
      process.stdout.write(
        `${JSON.stringify({ rejected: true, code: e.code, name: e.name, message: e.message })}\n`,
      );
    }
    await watch.stop();
    return;
  }
  if (scenario === "stop-during-start") {
    const watch = createCacheWatch({
      connectionString,
      ...(table ? { ensureTriggers: [table] } : {}),
      reconnectDelay: { initial: 50, max: 200 },
    });
    const started = watch.start().then(
      () => "resolved",
      (error: unknown) => `rejected ${(error as Error).name}`,
    );
    // stop() while start() is still in ensureTriggers (its connection is being opened).
    await new Promise((resolve) => setImmediate(resolve));
    await watch.stop();
    process.stdout.write(`stopped; start ${await started}; state ${watch.state}\n`);
    return;
  }
  throw new Error(`unknown scenario ${scenario}`);
}

await main();
