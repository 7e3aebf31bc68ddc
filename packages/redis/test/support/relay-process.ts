// A separate app instance that only runs the bus (and, once elected, the relay): the test kills
// it with SIGKILL or freezes it with SIGSTOP. Env: REDIS_URL, DATABASE_URL, PREFIX.
import { NotifySource } from "@pgcachewatch/core";
import { createBusSource } from "../../src/index.js";

const source = createBusSource({
  redis: process.env.REDIS_URL as string,
  prefix: process.env.PREFIX as string,
  heartbeatInterval: 200,
  lockTtl: 3000,
  relaySource: () =>
    new NotifySource({
      connectionString: process.env.DATABASE_URL as string,
      channel: "pgcachewatch",
      heartbeatInterval: 1000,
    }),
});
await source.start({
  onReady: () => process.stdout.write("ready\n"),
  onLost: () => process.stdout.write("lost\n"),
  onChange: () => {},
  onMalformed: () => {},
  onError: () => {},
});
setInterval(() => {
  if (source.isRelay) process.stdout.write("relay\n");
}, 100);
