/** The logger the engine writes to. Compatible with pino, console and most loggers. */
export interface Logger {
  debug(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

const noop = () => {};

/** The default: silent. Pass `logger: console` (or pino) to see what the engine does. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
