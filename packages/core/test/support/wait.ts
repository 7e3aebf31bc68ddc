export { deferred, nextEvent, until } from "@pgcachewatch/testdb";
