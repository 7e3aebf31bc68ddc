import type { CacheWatchOptions } from "../engine/options.js";
import type { Logger } from "../logger.js";
import type { ChangeSource } from "./change-source.js";
import { NotifySource } from "./notify-source.js";
import { createWalSource } from "./wal/wal-source.js";

/** Build the change source named in the options, or undefined for `source: "none"`. */
export function createSource(
  options: CacheWatchOptions,
  channel: string,
  logger: Logger,
): ChangeSource | undefined {
  const source = options.source ?? "notify";
  if (source === "none") return undefined;
  if (typeof source !== "string") return source;
  if (source === "wal") {
    return createWalSource({
      ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
      ...(options.reconnectDelay === undefined ? {} : { reconnectDelay: options.reconnectDelay }),
      ...options.wal,
      logger,
    });
  }
  return new NotifySource({
    ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
    channel,
    ...(options.heartbeatInterval === undefined ? {} : { heartbeatInterval: options.heartbeatInterval }),
    ...(options.reconnectDelay === undefined ? {} : { reconnectDelay: options.reconnectDelay }),
    ...(options.eventSecret === undefined ? {} : { eventSecret: options.eventSecret }),
    ...(options.queueUsageWarning === undefined ? {} : { queueUsageWarning: options.queueUsageWarning }),
    logger,
  });
}
