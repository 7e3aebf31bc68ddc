import type { IncomingMessage, ServerResponse } from "node:http";
import type { CacheWatch } from "../engine/cache-watch.js";
import { INSPECTOR_SCRIPT_HASH, inspectorPage } from "./inspector-page.js";
import { inspectorSnapshot } from "./inspector-snapshot.js";
import { recorderOf, type WatchRecorder, type WatchRecorderOptions } from "./watch-recorder.js";

export interface InspectorOptions extends WatchRecorderOptions {
  /** The page's heading. Default "PGCacheWatch inspector". */
  title?: string;
  /** How often the page asks for new data, ms. Default 1000. */
  pollInterval?: number;
  /** Query shapes listed. Default 20. */
  topQueries?: number;
}

/** A node:http request handler; `close()` stops its sampling timer and detaches it from the engine. */
export interface InspectorHandler {
  (request: IncomingMessage, response: ServerResponse): void;
  readonly recorder: WatchRecorder;
  close(): void;
}

const CSP = [
  "default-src 'none'",
  `script-src '${INSPECTOR_SCRIPT_HASH}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The inspector: one self-contained HTML page with live charts of what `watch` does, and the JSON
 * it polls (same path, `?data`). Framework-agnostic `(req, res)`: mount it on a path of your
 * server (node:http, Express `app.use(path, handler)`, Fastify with `reply.hijack()` and
 * `handler(request.raw, reply.raw)`). It is off unless mounted, and it shows query shapes and
 * table names: mount it behind your app's own authentication.
 *
 * Create it when the engine is created: per-query and per-table figures count from then on.
 */
export function createInspector(watch: CacheWatch, options: InspectorOptions = {}): InspectorHandler {
  const recorder = recorderOf(watch, options);
  const title = options.title ?? "PGCacheWatch inspector";
  const page = inspectorPage(title, options.pollInterval ?? 1000);
  const topQueries = options.topQueries ?? 20;
  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(response, 405, "text/plain; charset=utf-8", "method not allowed\n", { allow: "GET, HEAD" });
      return;
    }
    const query = (request.url ?? "").split("?")[1] ?? "";
    const wantsData = new URLSearchParams(query).has("data");
    if (wantsData) {
      const body = JSON.stringify(inspectorSnapshot(recorder, title, topQueries));
      send(response, 200, "application/json; charset=utf-8", body, {}, request.method === "HEAD");
      return;
    }
    send(
      response,
      200,
      "text/html; charset=utf-8",
      page,
      { "content-security-policy": CSP, "x-frame-options": "DENY", "referrer-policy": "no-referrer" },
      request.method === "HEAD",
    );
  };
  return Object.assign(handler, { recorder, close: () => recorder.close() });
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string>,
  headOnly = false,
): void {
  response.writeHead(status, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  response.end(headOnly ? undefined : body);
}
