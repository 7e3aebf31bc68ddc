export * from "./triggers/index.js";
