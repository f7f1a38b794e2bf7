import type { UnlistenFn } from "@tauri-apps/api/event";
import type { DeviceInfo } from "../types/DeviceInfo";
import type { Progress } from "../types/Progress";
import type { Report } from "../types/Report";
import type { SyncState } from "../types/SyncState";
import type { SyncStatus } from "../types/SyncStatus";
import { call, subscribeTo } from "./ipc";

export type SignInInput = {
  server: string;
  email: string;
  password: string;
  deviceName: string | null;
  /** Keep the device token in a 0600 file instead of the OS keyring. */
  insecureStorage: boolean;
};

/** Account, device id, pending changes, last sync and last error. */
export function syncStatus(): Promise<SyncStatus> {
  return call("sync_status");
}

/** What the status indicator shows now; later changes arrive as `sync-state`. */
export function syncState(): Promise<SyncState> {
  return call("sync_state");
}

/**
 * Signs this database in. Rejects with `keyring_unavailable` when there is no
 * keyring and `insecureStorage` is off (nothing was sent to the server then).
 */
export function signIn(input: SignInInput): Promise<SyncStatus> {
  return call("sign_in", {
    server: input.server,
    email: input.email,
    password: input.password,
    deviceName: input.deviceName,
    insecureStorage: input.insecureStorage,
  });
}

/** Revokes this device's token on the server (best effort) and forgets it here. */
export function signOut(): Promise<SyncStatus> {
  return call("sign_out");
}

/** One sync round now, after any round in progress. */
export function syncNow(): Promise<Report> {
  return call("sync_now");
}

export function listDevices(): Promise<DeviceInfo[]> {
  return call("list_devices");
}

export function revokeDevice(id: string): Promise<void> {
  return call("revoke_device", { id });
}

export function onSyncState(handler: (state: SyncState) => void): Promise<UnlistenFn> {
  return subscribeTo("sync-state", handler);
}

export function onSyncProgress(handler: (progress: Progress) => void): Promise<UnlistenFn> {
  return subscribeTo("sync-progress", handler);
}
