// bosun/fleet: the daemon's supervision as a library. A fleet is programs from a config file,
// run as a tree of core Workers: each instance a process Worker, each program a Supervisor of
// its instances, the fleet a Supervisor of programs in `after` order. The cli is a thin shell
// around it: commands, control socket, dashboard, detached-daemon plumbing.

export { ConfigError, loadConfig, validateConfig, findConfig, CONFIG_NAMES } from './config.js';
export type { DaemonConfig as FleetConfig, ProgramConfig, Ready, Backoff, Strategy, ListenSpec, WatchConfig } from './config.js';
export { defineConfig } from './define-config.js';
export type { ConfigInput, ProgramInput, ReadyInput, BackoffInput, FleetInput } from './define-config.js';
export { Fleet, type FleetOptions, type FleetEvents, type ReloadResult } from './fleet.js';
export { MemoryLimitError } from './instance.js';
export { RollingRestartError } from './rolling.js';
export { ListenError } from './sockets.js';
export type { InstanceDetails } from './record.js';
export type { InstanceJournal, JournalEvent, JournalLine } from './journal.js';
export type { State, Reason, LastExit, ProgramStatus, StatusBody, LifecycleEvent, EventName, LogFileRef } from './status.js';
export { formatEvent } from './status.js';
export { connectHost, HostLink, type HostLinkOptions } from './host-link.js';
export type { FleetSettings, Placement } from './fleet-config.js';
export { FleetDatabaseError, HostClaimedError, type FleetStatusBody, type FleetProgramStatus, type HostStatus } from './hosts.js';
export { FencedError } from './singleton.js';
