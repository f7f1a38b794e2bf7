import type { UnlistenFn } from "@tauri-apps/api/event";
import type { StoreInfo } from "../types/StoreInfo";
import { call, subscribe } from "./ipc";

/** Where the local database lives and this device's id. */
export function storeInfo(): Promise<StoreInfo> {
  return call("store_info");
}

/**
 * Runs `handler` whenever the shell reports that the database changed (a write
 * from this app, the `hub` CLI or, later, sync). The shell batches changes into
 * one `store-changed` event per 500 ms tick.
 */
export function onStoreChanged(handler: () => void): Promise<UnlistenFn> {
  return subscribe("store-changed", handler);
}
