export { type DemoDatabase, openDemoDatabase } from "./database.js";
export { runTour, type Tour, type TourOptions } from "./run-tour.js";
export { createDemoSchema, DEMO_TABLES } from "./schema.js";
export { STEPS } from "./steps.js";
export type { ExampleApp, StepResult, TourStep } from "./tour.js";
