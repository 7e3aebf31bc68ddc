import type pg from "pg";
import { InvalidConnectionStringError } from "./errors.js";

/**
 * Connection strings, in the two forms libpq accepts:
 *
 *   URL        postgres://user:password@host:5432/db?sslmode=require
 *   key=value  host=db.internal port=5432 dbname=app user=app password='s3 cret' sslmode=require
 *
 * `pg` understands only the URL form: given key=value text it builds a URL relative to
 * `postgres://base`, connects to a host named "base" and takes the whole text (password included)
 * as the database name. So key=value text is parsed here, for the keys listed in
 * {@link KEY_VALUE_KEYS}, and handed to `pg` as an equivalent URL; any other key is refused with
 * {@link InvalidConnectionStringError} rather than silently ignored. Every message about a
 * connection string goes through {@link redactConnectionString}.
 */

/** Text that did not even parse is not shown: where its password is cannot be known. */
function invalid(connectionString: string | undefined, why: string): InvalidConnectionStringError {
  return new InvalidConnectionStringError(
    connectionString === undefined
      ? "(not shown: it does not parse)"
      : redactConnectionString(connectionString),
    why,
  );
}

export type ConnectionStringForm = "url" | "key-value" | "socket";

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const MASK = "*****";

/** libpq keys accepted in key=value text, and the URL part or query parameter each becomes. */
export const KEY_VALUE_KEYS = [
  "host",
  "hostaddr",
  "port",
  "dbname",
  "user",
  "password",
  "application_name",
  "fallback_application_name",
  "options",
  "client_encoding",
  "sslmode",
  "sslcert",
  "sslkey",
  "sslrootcert",
  "connect_timeout",
] as const;

const KNOWN_KEYS = new Set<string>(KEY_VALUE_KEYS);

/** Which of the forms `text` is written in. */
export function connectionStringForm(text: string): ConnectionStringForm {
  if (URL_SCHEME.test(text)) return "url";
  if (text.startsWith("/")) return "socket";
  return "key-value";
}

/** The same text with every password replaced by `*****`, whatever the form. */
export function redactConnectionString(text: string): string {
  if (connectionStringForm(text) === "url") {
    return (
      text
        // user:password@ in the authority (the password may itself contain ':' or '@' before the last '@')
        .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):[^/?#]*@/i, `$1:${MASK}@`)
        .replace(/([?&]password=)[^&#]*/gi, `$1${MASK}`)
    );
  }
  return redactKeyValuePasswords(text);
}

/** Replace the value of every `password=` pair (quoted or not) in key=value text. */
function redactKeyValuePasswords(text: string): string {
  return text.replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)/gi, `$1${MASK}`);
}

/**
 * Remove a connection string's secrets from any message: the connection string as a whole (in
 * case a library echoed it) and its password wherever it appears on its own.
 */
export function redactSecrets(message: string, connectionString: string | undefined): string {
  if (connectionString === undefined || connectionString.length === 0) return message;
  let result = message.split(connectionString).join(redactConnectionString(connectionString));
  const password = passwordOf(connectionString);
  if (password !== undefined && password.length >= 3) result = result.split(password).join(MASK);
  return redactKeyValuePasswords(result);
}

function passwordOf(text: string): string | undefined {
  try {
    if (connectionStringForm(text) === "url") {
      const url = new URL(normaliseUrl(text));
      return url.password === "" ? undefined : decodeURIComponent(url.password);
    }
    return parseKeyValue(text).get("password");
  } catch {
    return undefined;
  }
}

/** pg's own parser encodes spaces and stray '%' before parsing (pg-connection-string). */
function normaliseUrl(text: string): string {
  return /\s|%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(text) ? encodeURI(text).replace(/%25(\d\d)/g, "%$1") : text;
}

/**
 * Parse libpq key=value text: `key = value` pairs separated by whitespace; a value may be
 * single-quoted, with `\'` and `\\` escapes inside or outside quotes.
 */
export function parseKeyValue(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(text[i] ?? "")) i++;
  };
  while (true) {
    skipSpace();
    if (i >= n) break;
    const keyStart = i;
    while (i < n && /[A-Za-z0-9_]/.test(text[i] ?? "")) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (key.length === 0 || text[i] !== "=") {
      throw invalid(
        undefined,
        `expected key=value at offset ${keyStart} (neither a postgres:// URL nor key=value pairs)`,
      );
    }
    i++;
    skipSpace();
    let value = "";
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < n) {
        const ch = text[i] as string;
        if (ch === "\\" && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else if (ch === "'") {
          i++;
          closed = true;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      if (!closed) throw invalid(undefined, `unterminated quoted value for ${key}`);
    } else {
      while (i < n && !/\s/.test(text[i] ?? "")) {
        if (text[i] === "\\" && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else {
          value += text[i];
          i++;
        }
      }
    }
    pairs.set(key, value);
  }
  return pairs;
}

/** Key=value text as the equivalent URL `pg` parses (hosts that are socket directories go in `?host=`). */
function keyValueToUrl(text: string): { url: string; connectTimeoutMs: number | undefined } {
  const pairs = parseKeyValue(text);
  if (pairs.size === 0) throw invalid(text, "it is empty");
  for (const key of pairs.keys()) {
    if (!KNOWN_KEYS.has(key)) {
      throw invalid(
        text,
        `unsupported key ${JSON.stringify(key)} (supported: ${KEY_VALUE_KEYS.join(", ")}; or use a postgres:// URL)`,
      );
    }
  }
  const host = pairs.get("host") || pairs.get("hostaddr") || "";
  const port = pairs.get("port") ?? "";
  if (port !== "" && !isPort(port)) throw invalid(text, `port ${JSON.stringify(port)} is not a port number`);
  let connectTimeoutMs: number | undefined;
  const timeout = pairs.get("connect_timeout");
  if (timeout !== undefined && timeout !== "") {
    if (!/^\d+$/.test(timeout)) throw invalid(text, "connect_timeout must be a whole number of seconds");
    // libpq: 0 means wait forever; values below 2 count as 2.
    const seconds = Number(timeout);
    connectTimeoutMs = seconds === 0 ? 0 : Math.max(2, seconds) * 1000;
  }
  const user = pairs.get("user");
  const password = pairs.get("password");
  const userInfo =
    user === undefined && password === undefined
      ? ""
      : `${encodeURIComponent(user ?? "")}${password === undefined ? "" : `:${encodeURIComponent(password)}`}@`;
  const query = new URLSearchParams();
  const socketHost = host.startsWith("/");
  if (socketHost) query.set("host", host);
  for (const key of [
    "application_name",
    "fallback_application_name",
    "options",
    "client_encoding",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
  ]) {
    const value = pairs.get(key);
    if (value !== undefined) query.set(key, value);
  }
  const authorityHost =
    socketHost || host === "" ? "" : host.includes(":") ? `[${host}]` : encodeURIComponent(host);
  const database = pairs.get("dbname");
  const search = query.toString();
  const url = `postgresql://${userInfo}${authorityHost}${port === "" ? "" : `:${port}`}/${database === undefined ? "" : encodeURIComponent(database)}${search === "" ? "" : `?${search}`}`;
  return { url, connectTimeoutMs };
}

function isPort(text: string): boolean {
  if (!/^\d{1,5}$/.test(text)) return false;
  const port = Number(text);
  return port >= 1 && port <= 65535;
}

/**
 * Check a connection string and turn it into `pg` client settings, or throw
 * {@link InvalidConnectionStringError} (which never contains the password). A URL is checked and
 * passed on as written (`pg` parses it, sslmode and all); key=value text becomes the equivalent URL.
 */
export function toClientConfig(connectionString: string): pg.ClientConfig {
  const form = connectionStringForm(connectionString);
  if (form === "socket") return { connectionString };
  if (form === "key-value") {
    const { url, connectTimeoutMs } = keyValueToUrl(connectionString);
    return connectTimeoutMs === undefined
      ? { connectionString: url }
      : { connectionString: url, connectionTimeoutMillis: connectTimeoutMs };
  }
  const scheme = connectionString.slice(0, connectionString.indexOf(":")).toLowerCase();
  if (scheme !== "postgres" && scheme !== "postgresql" && scheme !== "socket") {
    throw invalid(connectionString, `scheme ${JSON.stringify(scheme)} is not postgres:// or postgresql://`);
  }
  let url: URL;
  try {
    url = new URL(normaliseUrl(connectionString));
  } catch {
    // Usually the port: WHATWG URL refuses anything but digits up to 65535 there.
    throw invalid(
      connectionString,
      "not a valid URL (check the port and that special characters in the password are percent-encoded)",
    );
  }
  const port = url.searchParams.get("port") ?? url.port;
  if (port !== "" && !isPort(port))
    throw invalid(connectionString, `port ${JSON.stringify(port)} is not a port number`);
  return { connectionString };
}

/**
 * Settings for a `pg.Client` from an optional connection string merged over `base`; without one,
 * `pg` reads PGHOST, PGPORT, PGUSER, PGPASSWORD... as usual.
 */
export function clientConfigFor(
  connectionString: string | undefined,
  base: pg.ClientConfig = {},
): pg.ClientConfig {
  if (connectionString === undefined || connectionString === "") return base;
  return { ...base, ...toClientConfig(connectionString) };
}
