export {
  MissingReplicaIdentityError,
  NoFreeReplicationSlotError,
  PublicationError,
  ReplicationPrivilegeError,
  ReplicationProtocolError,
  ReplicationSlotError,
  ReplicationTimeoutError,
  WalConfigurationError,
  WalLevelError,
  WalOptionsError,
  WatchedTableNotFoundError,
} from "./errors.js";
export { formatLsn, type Lsn, parseLsn } from "./lsn.js";
export {
  type WalConnectionOptions,
  type WalDropOptions,
  type WalDropResult,
  type WalSetupOptions,
  type WalSetupResult,
  type WalStatus,
  walDrop,
  walSetup,
  walStatus,
} from "./operations.js";
export type { ReplicationSettings } from "./preflight.js";
export { DEFAULT_PUBLICATION, type PublicationInfo } from "./publication.js";
export {
  type ReplicaIdentity,
  readReplicaIdentities,
  setReplicaIdentityFull,
  type TableReplicaIdentity,
} from "./replica-identity.js";
export { type SlotInfo, SlotInUseError, TEMPORARY_SLOT_PREFIX } from "./slots.js";
export { createWalSource, WalSource, type WalSourceOptions, type WalSourceStatus } from "./wal-source.js";
