import type { Prisma } from "@prisma/client/extension";
import type { CacheArgument, CachedOperation } from "./options.js";

type WithCache<T, Op extends CachedOperation> = Prisma.Args<T, Op> & CacheArgument;

/** The cached operations' signatures on the extended client: Prisma's, plus the `cache` argument. */
export type CacheArgumentMethods = {
  findUnique<T, A>(
    this: T,
    args: Prisma.Exact<A, WithCache<T, "findUnique">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findUnique">>;
  findUniqueOrThrow<T, A>(
    this: T,
    args: Prisma.Exact<A, WithCache<T, "findUniqueOrThrow">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findUniqueOrThrow">>;
  findFirst<T, A>(
    this: T,
    args?: Prisma.Exact<A, WithCache<T, "findFirst">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirst">>;
  findFirstOrThrow<T, A>(
    this: T,
    args?: Prisma.Exact<A, WithCache<T, "findFirstOrThrow">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirstOrThrow">>;
  findMany<T, A>(
    this: T,
    args?: Prisma.Exact<A, WithCache<T, "findMany">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findMany">>;
  count<T, A>(
    this: T,
    args?: Prisma.Exact<A, WithCache<T, "count">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "count">>;
  aggregate<T, A>(
    this: T,
    args: Prisma.Exact<A, WithCache<T, "aggregate">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "aggregate">>;
  groupBy<T, A>(
    this: T,
    args: Prisma.Exact<A, WithCache<T, "groupBy">>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "groupBy">>;
};
