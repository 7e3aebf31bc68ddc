import { relations, sql } from "drizzle-orm";
import {
  integer,
  jsonb,
  pgMaterializedView,
  pgSchema,
  pgTable,
  pgView,
  serial,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

export const users = pgTable("users", {
  id: serial("id").primaryKey(),
  name: text("name").notNull(),
  profile: jsonb("profile").$type<{ tags: string[] }>(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const posts = pgTable("posts", {
  id: serial("id").primaryKey(),
  authorId: integer("author_id").notNull(),
  title: text("title").notNull(),
});

export const comments = pgTable("comments", {
  id: serial("id").primaryKey(),
  postId: integer("post_id").notNull(),
  body: text("body").notNull(),
});

export const audit = pgSchema("audit");
export const auditLog = audit.table("log", {
  id: serial("id").primaryKey(),
  userId: integer("user_id").notNull(),
  action: text("action").notNull(),
});

/** Users with at least one post: a view declared with its query. */
export const activeAuthors = pgView("active_authors").as((qb) =>
  qb
    .selectDistinct({ id: users.id, name: users.name })
    .from(users)
    .innerJoin(posts, sql`${posts.authorId} = ${users.id}`),
);

export const legacyView = pgView("legacy_view", { id: integer("id") }).existing();

export const postCounts = pgMaterializedView("post_counts").as((qb) =>
  qb
    .select({ authorId: posts.authorId, n: sql<number>`count(*)::int`.as("n") })
    .from(posts)
    .groupBy(posts.authorId),
);

export const usersRelations = relations(users, ({ many }) => ({
  posts: many(posts),
  auditEntries: many(auditLog),
}));
export const postsRelations = relations(posts, ({ one, many }) => ({
  author: one(users, { fields: [posts.authorId], references: [users.id] }),
  comments: many(comments),
}));
export const commentsRelations = relations(comments, ({ one }) => ({
  post: one(posts, { fields: [comments.postId], references: [posts.id] }),
}));
export const auditLogRelations = relations(auditLog, ({ one }) => ({
  user: one(users, { fields: [auditLog.userId], references: [users.id] }),
}));

export const schema = {
  users,
  posts,
  comments,
  auditLog,
  usersRelations,
  postsRelations,
  commentsRelations,
  auditLogRelations,
};

/** DDL for the schema above, plus NOTIFY triggers on every table (as `installTriggers` would install). */
export const SETUP_SQL = `
create table users (id serial primary key, name text not null, profile jsonb, created_at timestamptz not null default now());
create table posts (id serial primary key, author_id integer not null, title text not null);
create table comments (id serial primary key, post_id integer not null, body text not null);
create schema audit;
create table audit.log (id serial primary key, user_id integer not null, action text not null);
create view active_authors as select distinct users.id, users.name from users inner join posts on posts.author_id = users.id;
create view legacy_view as select id from users;
create materialized view post_counts as select author_id, count(*)::int as n from posts group by author_id;
create function notify_change() returns trigger language plpgsql as $$
begin
  perform pg_notify('pgcachewatch', json_build_object('v', 1, 's', TG_TABLE_SCHEMA, 't', TG_TABLE_NAME, 'op', lower(TG_OP))::text);
  return null;
end $$;
create trigger users_changed after insert or update or delete or truncate on users for each statement execute function notify_change();
create trigger posts_changed after insert or update or delete or truncate on posts for each statement execute function notify_change();
create trigger comments_changed after insert or update or delete or truncate on comments for each statement execute function notify_change();
create trigger log_changed after insert or update or delete or truncate on audit.log for each statement execute function notify_change();
insert into users (name, profile) values ('ada', '{"tags":["math"]}'), ('bob', null), ('cy', null), ('dora', null);
insert into posts (author_id, title) values (1, 'notes'), (1, 'engines'), (2, 'hello');
insert into comments (post_id, body) values (1, 'nice'), (3, 'hi');
insert into audit.log (user_id, action) values (1, 'login');
`;
