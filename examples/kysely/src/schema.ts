import type { Generated } from "kysely";

/** The tables this example reads, as Kysely sees them (kysely-codegen would generate this). */
export interface Database {
  users: { id: Generated<number>; name: string; email: string };
  posts: {
    id: Generated<number>;
    author_id: number;
    title: string;
    body: string;
    created_at: Generated<Date>;
  };
  comments: {
    id: Generated<number>;
    post_id: number;
    author_id: number;
    body: string;
    created_at: Generated<Date>;
  };
}
