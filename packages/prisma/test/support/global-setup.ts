import { ensurePrismaClient } from "./generate-client.mjs";

/** Vitest global setup: the test schema's client exists before any Prisma test file loads. */
export default function setup(): void {
  ensurePrismaClient();
}
