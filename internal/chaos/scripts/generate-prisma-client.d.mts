/** Generate the test schema's Prisma client unless it is already up to date. */
export function ensurePrismaClient(): void;
