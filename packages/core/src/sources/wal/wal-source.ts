import pg from "pg";
import { clientConfigFor, redactSecrets, toClientConfig } from "../../connection-string.js";
import type { ChangeEvent } from "../../events/change-event.js";
import { type TableInput, type TableRef, toTableRef } from "../../events/table-name.js";
import { type Logger, silentLogger } from "../../logger.js";
import type { ChangeSource, ChangeSourceHandlers } from "../change-source.js";
import {
  PublicationError,
  ReplicationProtocolError,
  ReplicationTimeoutError,
  WalConfigurationError,
  WalOptionsError,
} from "./errors.js";
import { formatLsn, type Lsn, ZERO_LSN } from "./lsn.js";
import { decodePgoutput } from "./pgoutput.js";
import { assertSettings, assertTablesPublishable, readReplicationSettings } from "./preflight.js";
import {
  DEFAULT_PUBLICATION,
  describePublication,
  ensurePublication,
  type PublicationInfo,
} from "./publication.js";
import { quoteIdent, quoteLiteral } from "./quote.js";
import { ReplicationConnection } from "./replication-connection.js";
import { buildStandbyStatusUpdate, parseServerStreamMessage } from "./replication-messages.js";
import { assertSlotName, checkPermanentSlot, createSlot, temporarySlotName } from "./slots.js";
import { TransactionCollector } from "./transaction-collector.js";
import { VisibilityRecheck } from "./visibility-recheck.js";

export interface WalSourceOptions {
  /** Where to connect (default DATABASE_URL, then the PG* variables). The role needs the REPLICATION privilege. */
  readonly connectionString?: string;
  /** Further `pg` client settings (ssl, password, host...), merged under `connectionString`. */
  readonly clientConfig?: pg.ClientConfig;
  /** Publication to stream (created or extended unless `managePublication` is false). Default "pgcachewatch". */
  readonly publication?: string;
  /** Tables to publish. Names exactly as PostgreSQL stores them; unqualified means "public". */
  readonly tables?: readonly TableInput[];
  /** Publish every table of the database (`FOR ALL TABLES`; creating it needs a superuser). */
  readonly allTables?: boolean;
  /** Create/alter the publication at start (default true). False: it must exist (see `pgcachewatch wal setup`). */
  readonly managePublication?: boolean;
  /**
   * Name of a permanent slot to create or resume. Default: a temporary slot per connection, which the
   * server drops when the connection ends, so a crashed app never leaves WAL piling up.
   */
  readonly permanentSlot?: string;
  /**
   * Rule 9: a decoded commit can arrive a moment before new snapshots see it, so every change is
   * reported a second time after this many ms. Raise it above your synchronous-replication latency
   * if you use `synchronous_commit = remote_apply`/`on` with synchronous standbys. Default 100.
   */
  readonly visibilityDelay?: number;
  /** How often to send a standby status update that asks the server to answer (ms). Default 2000. */
  readonly heartbeatInterval?: number;
  /** Declare the connection dead after this long without any message from the server (ms). Default 10000. */
  readonly heartbeatTimeout?: number;
  /** Reconnect backoff (ms, full jitter, doubling from `initial` up to `max`). Default 100..10000. */
  readonly reconnectDelay?: { readonly initial?: number; readonly max?: number };
  /** Row keys carried per event before it becomes table-level (keys omitted). Default 100. */
  readonly maxKeysPerEvent?: number;
  /** `application_name` of the replication connection. Default "pgcachewatch-wal". */
  readonly applicationName?: string;
  readonly logger?: Logger;
}

/** What the source is doing, for status pages and tests. */
export interface WalSourceStatus {
  readonly streaming: boolean;
  readonly slot: string | undefined;
  readonly temporarySlot: boolean;
  readonly publication: string;
  /** Process id of the WAL sender serving this source, while connected. */
  readonly walSenderPid: number | undefined;
  /** Highest LSN acknowledged as applied. */
  readonly appliedLsn: string;
  readonly sessions: number;
  readonly transactions: number;
}

interface Session {
  readonly id: number;
  readonly connection: ReplicationConnection;
  readonly slot: string;
  streaming: boolean;
  ended: boolean;
  lastMessageAt: number;
  lastTickAt: number;
  heartbeat: NodeJS.Timeout | undefined;
}

/**
 * A change source on PostgreSQL logical replication (pgoutput). Writers pay nothing beyond the WAL
 * they already write: no trigger, no NOTIFY queue lock at commit.
 */
export class WalSource implements ChangeSource {
  readonly kind = "wal";
  // #private, not TypeScript `private`: util.inspect() and console.log must not show the connection settings.
  readonly #options: WalSourceOptions;
  #clientConfig: pg.ClientConfig | undefined;
  private readonly publicationName: string;
  private readonly tables: readonly TableRef[] | "all" | undefined;
  private readonly logger: Logger;
  private readonly heartbeatInterval: number;
  private readonly heartbeatTimeout: number;
  private readonly minDelay: number;
  private readonly maxDelay: number;
  private readonly collector: TransactionCollector;
  private readonly recheck: VisibilityRecheck;

  private handlers: ChangeSourceHandlers | undefined;
  private stopped = false;
  private started = false;
  private session: Session | undefined;
  private sessionCount = 0;
  private transactionCount = 0;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private applied: Lsn = ZERO_LSN;
  private publication: PublicationInfo | undefined;
  /** The permanent slot must be (re)created in the next session. */
  private slotMissing = false;

  constructor(options: WalSourceOptions) {
    this.#options = options;
    if (options.allTables && options.tables)
      throw new WalOptionsError("pass either `tables` or `allTables`, not both");
    const manage = options.managePublication ?? true;
    if (manage && !options.allTables && !options.tables) {
      throw new WalOptionsError(
        "the WAL source needs the tables to publish: pass `tables: [...]` or `allTables: true`, " +
          "or `managePublication: false` to stream an existing publication",
      );
    }
    if (options.permanentSlot !== undefined) assertSlotName(options.permanentSlot);
    this.tables = options.allTables ? "all" : options.tables?.map((t) => toTableRef(t));
    this.publicationName = options.publication ?? DEFAULT_PUBLICATION;
    if (this.publicationName.length === 0) throw new WalOptionsError("publication name must not be empty");
    this.logger = options.logger ?? silentLogger;
    this.heartbeatInterval = positive(options.heartbeatInterval ?? 2000, "heartbeatInterval");
    this.heartbeatTimeout = positive(options.heartbeatTimeout ?? 10_000, "heartbeatTimeout");
    this.minDelay = positive(options.reconnectDelay?.initial ?? 100, "reconnectDelay.initial");
    this.maxDelay = Math.max(
      this.minDelay,
      positive(options.reconnectDelay?.max ?? 10_000, "reconnectDelay.max"),
    );
    const maxKeys = options.maxKeysPerEvent ?? 100;
    if (!Number.isInteger(maxKeys) || maxKeys < 0)
      throw new WalOptionsError("maxKeysPerEvent must be an integer >= 0");
    this.collector = new TransactionCollector(maxKeys);
    const visibilityDelay = options.visibilityDelay ?? 100;
    if (!Number.isFinite(visibilityDelay) || visibilityDelay < 0) {
      throw new WalOptionsError("visibilityDelay must be a number of ms >= 0");
    }
    this.recheck = new VisibilityRecheck(visibilityDelay, maxKeys, (event) => this.deliver(event));
  }

  /**
   * Connect, check the server, set up the publication and slot, and start streaming. Resolves once
   * streaming (onReady was called) or once the first attempt failed for a reason that may pass
   * (server down: retried in the background). Rejects for configuration problems (wal_level, privilege,
   * no free slot, tables without replica identity...) with an error that says how to fix them.
   */
  async start(handlers: ChangeSourceHandlers): Promise<void> {
    if (this.started) return;
    // A malformed connection string is a configuration error: start() rejects (typed, no password).
    this.#clientConfig = this.#buildClientConfig();
    this.started = true;
    this.stopped = false;
    this.handlers = handlers;
    try {
      await this.connect();
    } catch (error) {
      if (this.stopped) return;
      if (error instanceof WalConfigurationError || error instanceof WalOptionsError) {
        this.stopped = true;
        this.started = false;
        throw error;
      }
      this.report(error);
      this.scheduleReconnect();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.started = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.recheck.clear();
    const session = this.session;
    this.session = undefined;
    if (session) {
      // Confirm what was applied, so a permanent slot resumes after it (the server reads this before Terminate).
      if (session.streaming) this.sendStatus(session, false);
      session.ended = true;
      if (session.heartbeat) clearInterval(session.heartbeat);
      await session.connection.close();
    }
  }

  /** The publication being streamed, once known: which tables external writes are reported for. */
  coverage(): { readonly allTables: boolean; readonly tables: readonly TableRef[] } | undefined {
    return this.publication && { allTables: this.publication.allTables, tables: this.publication.tables };
  }

  status(): WalSourceStatus {
    const session = this.session;
    return {
      streaming: session?.streaming ?? false,
      slot: session?.slot,
      temporarySlot: this.#options.permanentSlot === undefined,
      publication: this.publicationName,
      walSenderPid: session?.connection.backendPid,
      appliedLsn: formatLsn(this.applied),
      sessions: this.sessionCount,
      transactions: this.transactionCount,
    };
  }

  #buildClientConfig(): pg.ClientConfig {
    const options = this.#options;
    const connectionString =
      options.connectionString ??
      (options.clientConfig?.connectionString ? undefined : process.env.DATABASE_URL);
    const given = options.clientConfig?.connectionString;
    const base: pg.ClientConfig = {
      // A black-holed network must fail the attempt (and retry), not hang it.
      connectionTimeoutMillis: 10_000,
      keepAliveInitialDelayMillis: 10_000,
      ...options.clientConfig,
      ...(given ? toClientConfig(given) : {}),
    };
    return {
      ...clientConfigFor(connectionString, base),
      application_name: options.applicationName ?? "pgcachewatch-wal",
    };
  }

  #config(): pg.ClientConfig {
    this.#clientConfig ??= this.#buildClientConfig();
    return this.#clientConfig;
  }

  private report(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    const connectionString = this.#options.connectionString ?? process.env.DATABASE_URL;
    const message = redactSecrets(err.message, connectionString);
    if (message !== err.message) err.message = message;
    this.logger.warn("wal source: connection attempt failed", { error: err.message });
    this.handlers?.onError(err);
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const ceiling = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.attempts, 20));
    const delay = this.minDelay + Math.random() * (ceiling - this.minDelay);
    this.attempts++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped) return;
      this.connect().catch((error: unknown) => {
        if (this.stopped) return;
        this.report(error);
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref?.();
  }

  /** One session: preflight on a normal connection, then slot and stream on a replication connection. */
  private async connect(): Promise<void> {
    const serverVersionNum = await this.prepare();
    if (this.stopped) return;
    const id = ++this.sessionCount;
    const connection = await ReplicationConnection.open(this.#config(), (error) => {
      this.logger.debug("wal source: replication connection error", { error: error.message });
    });
    if (this.stopped) {
      await connection.close();
      return;
    }
    const temporary = this.#options.permanentSlot === undefined;
    const slot = this.#options.permanentSlot ?? temporarySlotName();
    const session: Session = {
      id,
      connection,
      slot,
      streaming: false,
      ended: false,
      lastMessageAt: Date.now(),
      lastTickAt: Date.now(),
      heartbeat: undefined,
    };
    this.session = session;
    try {
      if (temporary || this.slotMissing) {
        // A new slot becomes consistent only once every transaction running now has ended.
        const slow = setTimeout(() => {
          this.logger.warn(
            "wal source: creating the replication slot waits for transactions already running on the server to end (see pg_stat_activity)",
            { slot },
          );
        }, 5000);
        slow.unref?.();
        await createSlot(connection, slot, temporary, serverVersionNum).finally(() => clearTimeout(slow));
        if (!temporary) this.logger.info("wal source: created permanent replication slot", { slot });
      }
      this.collector.reset();
      await this.startStreaming(session);
    } catch (error) {
      this.endSession(session, error instanceof Error ? error : new Error(String(error)), false);
      throw error;
    }
  }

  /** Check the server and set up the publication; returns server_version_num. */
  private async prepare(): Promise<number> {
    // Bounded: a hung preflight fails this attempt and the next one retries.
    const client = new pg.Client({ query_timeout: 30_000, ...this.#config() });
    client.on("error", () => {});
    await client.connect();
    try {
      const settings = await readReplicationSettings(client);
      let slotState: "usable" | "missing" | "lost" | "temporary" = "temporary";
      if (this.#options.permanentSlot !== undefined) {
        slotState = await checkPermanentSlot(client, this.#options.permanentSlot, settings.database);
        if (slotState === "lost") {
          this.logger.warn("wal source: permanent slot was invalidated by the server; recreating it", {
            slot: this.#options.permanentSlot,
          });
        }
      }
      this.slotMissing = slotState === "missing" || slotState === "lost";
      assertSettings(settings, { newSlot: slotState !== "usable" });
      if (this.#options.managePublication ?? true) {
        const tables = this.tables ?? [];
        await assertTablesPublishable(client, tables);
        const result = await ensurePublication(
          client,
          this.publicationName,
          tables,
          settings.serverVersionNum,
        );
        if (result.created || result.added.length > 0) {
          this.logger.info("wal source: publication ready", {
            publication: this.publicationName,
            created: result.created,
            added: result.added.map((t) => `${t.schema}.${t.table}`),
          });
        }
        this.publication = result.publication;
      } else {
        const publication = await describePublication(client, this.publicationName);
        if (!publication.exists) {
          throw new PublicationError(
            "PUBLICATION_MISSING",
            `publication "${this.publicationName}" does not exist and managePublication is false.`,
            `create it with \`pgcachewatch wal setup --publication ${this.publicationName} --tables ...\`, or set managePublication: true.`,
          );
        }
        this.publication = publication;
      }
      return settings.serverVersionNum;
    } finally {
      await client.end().catch(() => {});
    }
  }

  private startStreaming(session: Session): Promise<void> {
    const publicationNames = quoteLiteral(quoteIdent(this.publicationName));
    const command =
      `START_REPLICATION SLOT ${quoteIdent(session.slot)} LOGICAL 0/0 ` +
      `(proto_version '1', publication_names ${publicationNames})`;
    return new Promise((resolve, reject) => {
      session.connection.stream(command, {
        onStart: () => {
          if (session.ended || this.stopped) {
            resolve();
            return;
          }
          session.streaming = true;
          session.lastMessageAt = Date.now();
          this.attempts = 0;
          this.startHeartbeat(session);
          this.logger.info("wal source: streaming", {
            slot: session.slot,
            publication: this.publicationName,
          });
          this.handlers?.onReady();
          resolve();
        },
        onData: (chunk) => this.onData(session, chunk),
        onEnd: (error) => {
          const reason = error ?? new Error("the server ended the replication stream");
          if (!session.streaming) reject(reason);
          this.endSession(session, reason, true);
        },
      });
    });
  }

  private startHeartbeat(session: Session): void {
    session.lastTickAt = Date.now();
    session.heartbeat = setInterval(() => {
      const now = Date.now();
      // A stalled event loop (not a dead socket) delays our own timer: don't blame the server for it.
      if (now - session.lastTickAt > this.heartbeatInterval + this.heartbeatTimeout / 2)
        session.lastMessageAt = now;
      session.lastTickAt = now;
      const silent = now - session.lastMessageAt;
      if (silent > this.heartbeatTimeout) {
        this.logger.warn("wal source: server silent, reconnecting", { silentMs: silent });
        this.endSession(session, new ReplicationTimeoutError(silent), true);
        return;
      }
      this.sendStatus(session, true);
    }, this.heartbeatInterval);
    session.heartbeat.unref?.();
  }

  private sendStatus(session: Session, replyRequested: boolean): void {
    if (session.ended) return;
    try {
      session.connection.send(buildStandbyStatusUpdate(this.applied, Date.now(), replyRequested));
    } catch (error) {
      this.endSession(session, error instanceof Error ? error : new Error(String(error)), true);
    }
  }

  private onData(session: Session, chunk: Buffer): void {
    if (session.ended) return;
    const now = Date.now();
    session.lastMessageAt = now;
    try {
      const message = parseServerStreamMessage(chunk);
      if (message.kind === "keepalive") {
        // Outside a transaction everything up to walEnd was received and applied: let the slot advance
        // even when no watched table changes (otherwise unrelated writes would pile up WAL).
        if (!this.collector.inTransaction && message.walEnd > this.applied) this.applied = message.walEnd;
        if (message.replyRequested) this.sendStatus(session, false);
        return;
      }
      const committed = this.collector.accept(decodePgoutput(message.payload), now);
      if (!committed) return;
      this.transactionCount++;
      for (const event of committed.events) {
        if (!this.deliver(event)) {
          this.endSession(session, new Error("the change handler failed; restarting the stream"), true);
          return;
        }
      }
      // Acknowledge only what was applied: a permanent slot resumes after this point.
      if (committed.endLsn > this.applied) this.applied = committed.endLsn;
      this.recheck.schedule(committed.events);
    } catch (error) {
      if (error instanceof ReplicationProtocolError) {
        this.handlers?.onMalformed(error.message, chunk.subarray(0, 64).toString("hex"));
      }
      this.endSession(session, error instanceof Error ? error : new Error(String(error)), true);
    }
  }

  /** Hand one event to the engine. Returns false if the handler threw. */
  private deliver(event: ChangeEvent): boolean {
    try {
      this.handlers?.onChange(event);
      return true;
    } catch (error) {
      this.handlers?.onError(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }

  /** End a session once: report the loss (if it was streaming), close, and reconnect. */
  private endSession(session: Session, error: Error, reconnect: boolean): void {
    if (session.ended) return;
    session.ended = true;
    if (session.heartbeat) clearInterval(session.heartbeat);
    if (this.session === session) this.session = undefined;
    this.collector.reset();
    const wasStreaming = session.streaming;
    session.streaming = false;
    session.connection.destroy();
    void session.connection.close();
    if (this.stopped) return;
    if (wasStreaming) {
      this.logger.warn("wal source: replication stream lost", { error: error.message, slot: session.slot });
      this.handlers?.onLost(error);
    }
    if (reconnect && wasStreaming) this.scheduleReconnect();
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new WalOptionsError(`${name} must be a positive number of ms`);
  return value;
}

/** Create a WAL change source: `createCacheWatch({ source: createWalSource({ ... }) })`. */
export function createWalSource(options: WalSourceOptions): WalSource {
  return new WalSource(options);
}
