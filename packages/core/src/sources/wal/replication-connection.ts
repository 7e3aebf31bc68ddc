import pg from "pg";

/** The parts of pg's internal Connection that CopyBoth streaming uses. */
interface WireConnection {
  on(event: "replicationStart", listener: () => void): unknown;
  once(event: "replicationStart", listener: () => void): unknown;
  removeAllListeners(event: "replicationStart"): unknown;
  sendCopyFromChunk(chunk: Buffer): void;
  readonly stream: { destroy(): void };
}

export interface StreamHandlers {
  /** The server answered START_REPLICATION with CopyBothResponse: the stream is live. */
  onStart(): void;
  onData(chunk: Buffer): void;
  /** The stream ended: with the server's or the socket's error, or cleanly. Called once. */
  onEnd(error: Error | undefined): void;
}

/**
 * A `pg` client opened with `replication=database`: it runs replication commands as simple queries
 * and streams START_REPLICATION's CopyBoth data. `pg` parses every protocol message already; this
 * adds the CopyBoth part (a Submittable that receives CopyData) and sending CopyData back.
 */
export class ReplicationConnection {
  readonly client: pg.Client;
  private ended = false;

  private constructor(client: pg.Client) {
    this.client = client;
  }

  static async open(
    config: pg.ClientConfig,
    onError: (error: Error) => void,
  ): Promise<ReplicationConnection> {
    const replicationConfig: pg.ClientConfig & { replication: string } = {
      ...config,
      replication: "database",
      keepAlive: true,
    };
    const client = new pg.Client(replicationConfig);
    // Without a listener an error on an idle socket would crash the process.
    client.on("error", onError);
    try {
      await client.connect();
    } catch (error) {
      client.removeListener("error", onError);
      client.on("error", () => {});
      await client.end().catch(() => {});
      throw error;
    }
    return new ReplicationConnection(client);
  }

  /** The server process id of the WAL sender. */
  get backendPid(): number | undefined {
    return (this.client as unknown as { processID?: number }).processID;
  }

  private get wire(): WireConnection {
    return (this.client as unknown as { connection: WireConnection }).connection;
  }

  query<R extends pg.QueryResultRow>(sql: string): Promise<pg.QueryResult<R>> {
    return this.client.query<R>(sql);
  }

  /** Run START_REPLICATION (or any CopyBoth command) and route its stream to `handlers`. */
  stream(command: string, handlers: StreamHandlers): void {
    let done = false;
    const end = (error: Error | undefined) => {
      if (done) return;
      done = true;
      this.wire.removeAllListeners("replicationStart");
      handlers.onEnd(error);
    };
    this.wire.once("replicationStart", () => {
      if (!done) handlers.onStart();
    });
    const submittable = {
      submit(connection: pg.Connection) {
        connection.query(command);
      },
      handleCopyData(message: { chunk: Buffer }) {
        if (!done) handlers.onData(message.chunk);
      },
      handleError(error: Error) {
        end(error);
      },
      handleReadyForQuery() {
        end(undefined);
      },
      handleCommandComplete() {},
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleCopyInResponse() {},
    };
    this.client.query(submittable);
  }

  /** Send one CopyData message to the server (a standby status update). */
  send(chunk: Buffer): void {
    if (this.ended) return;
    this.wire.sendCopyFromChunk(chunk);
  }

  /** Drop the socket now (used when the server stopped answering). */
  destroy(): void {
    this.ended = true;
    this.wire.stream.destroy();
  }

  /** Close gracefully; a temporary slot is dropped by the server when this session ends. */
  async close(): Promise<void> {
    if (this.ended) {
      await this.client.end().catch(() => {});
      return;
    }
    this.ended = true;
    await this.client.end().catch(() => {});
  }
}
