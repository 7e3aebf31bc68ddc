/** Generate the test schema's Prisma client unless it is already up to date; true when it generated. */
export function ensurePrismaClient(): boolean;
