/** Generate a package's Prisma client unless it is already up to date; true when it generated. */
export function ensurePrismaClient(where: { root: string; outDir: string }): boolean;
