export interface BenchArgs {
  /** Short runs for CI smoke (whole suite well under 2 minutes). */
  quick: boolean;
  /** Run only these scenarios (ids). */
  only: Set<string> | undefined;
  /** Where latest.md and the SVG go. */
  outDir: string | undefined;
  /** Write the report files (default on; CI's quick run writes to a temp dir unless --out is given). */
  write: boolean;
}

export const SCENARIO_IDS = [
  "hit",
  "isolation",
  "http",
  "latency",
  "write",
  "freshness",
  "memory",
  "tier",
  "bentocache",
] as const;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, only: undefined, outDir: undefined, write: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const [name, inline] = arg.split("=", 2);
    const value = () => inline ?? argv[++i] ?? "";
    switch (name) {
      case "--quick":
        args.quick = true;
        break;
      case "--only":
        args.only = new Set(value().split(",").filter(Boolean));
        break;
      case "--out":
        args.outDir = value();
        break;
      case "--no-write":
        args.write = false;
        break;
      case "--help":
      case "-h":
        process.stdout.write(
          `usage: pnpm bench [--quick] [--only ${SCENARIO_IDS.join(",")}] [--out DIR] [--no-write]\n` +
            "  DATABASE_URL set: benchmark that server; otherwise an embedded PostgreSQL with fsync on.\n",
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg} (try --help)`);
    }
  }
  if (args.only) {
    for (const id of args.only) {
      if (!(SCENARIO_IDS as readonly string[]).includes(id)) {
        throw new Error(`unknown scenario ${id}; known: ${SCENARIO_IDS.join(", ")}`);
      }
    }
  }
  return args;
}
