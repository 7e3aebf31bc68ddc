export type { BusMessage } from "./bus-message.js";
export { BusSource, type BusSourceOptions, createBusSource } from "./bus-source.js";
export { type ClassCodec, CODEC_VERSION, ValueCodec } from "./codec.js";
export {
  BusLostError,
  TierUnavailableError,
  UndecodableValueError,
  UnencodableValueError,
} from "./errors.js";
export { createRedisTier, RedisTier, type RedisTierOptions, type RedisTierStats } from "./redis-tier.js";
