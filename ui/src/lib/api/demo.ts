import type { DemoStatus } from "../types/DemoStatus";
import { call } from "./ipc";

export function demoStatus(): Promise<DemoStatus> {
  return call("demo_status");
}

/** Deletes the generated demo contacts and companies; resolves to how many rows went. */
export function clearDemoData(): Promise<number> {
  return call("clear_demo_data");
}
