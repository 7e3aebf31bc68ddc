export interface BenchArgs {
  /** Short runs for CI smoke (whole suite well under 2 minutes). */
  quick: boolean;
  /** Run only these scenarios (ids). */
  only: Set<string> | undefined;
  /** Where latest.md and the SVG go. */
  outDir: string | undefined;
  /** Write the report files (default on; CI's quick run writes to a temp dir unless --out is given). */
  write: boolean;
  /** Base name of the report files (default latest, or quick with --quick). */
  name: string | undefined;
  /** Add a deliberately broken reader to the freshness mix, to show its checker fails. */
  proveChecker: boolean;
}

export const SCENARIO_IDS = [
  "hit",
  "isolation",
  "http",
  "latency",
  "write",
  "freshness",
  "sweep",
  "fk",
  "memory",
  "tier",
  "bentocache",
] as const;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = {
    quick: false,
    only: undefined,
    outDir: undefined,
    write: true,
    name: undefined,
    proveChecker: false,
  };
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
      case "--name":
        args.name = value();
        if (!/^[A-Za-z0-9._-]+$/.test(args.name))
          throw new Error(`--name takes a plain file name, got ${args.name}`);
        break;
      case "--prove-checker":
        args.proveChecker = true;
        break;
      case "--help":
      case "-h":
        process.stdout.write(
          `usage: pnpm bench [--quick] [--only ${SCENARIO_IDS.join(",")}] [--out DIR] [--name BASE] [--no-write] [--prove-checker]\n` +
            "  --name BASE: write BASE.md and BASE.svg (default latest, quick with --quick).\n" +
            "  --prove-checker: add a deliberately broken reader to freshness; its stale-beyond count must be > 0.\n" +
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
