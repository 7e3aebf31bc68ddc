/** Generate the benchmark's Prisma client unless it is already up to date; true when it generated. */
export function ensurePrismaClient(): boolean;
