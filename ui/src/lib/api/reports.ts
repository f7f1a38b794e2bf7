import type { Dashboard } from "../types/Dashboard";
import type { DashboardQuery } from "../types/DashboardQuery";
import { call } from "./ipc";

/** Every chart of the Reports screen: funnel, won revenue, forecast, campaigns, segment sizes, events. */
export function reportDashboard(query: DashboardQuery): Promise<Dashboard> {
  return call("report_dashboard", { query });
}

/** A chart's canvas (`data:image/png;base64,…`) as a PNG file at `path`; resolves to the path written. */
export function saveChartPng(path: string, image: string): Promise<string> {
  return call("save_chart_png", { path, image });
}

/** A chart's data as a CSV file at `path`; resolves to the path written. */
export function saveChartCsv(path: string, csv: string): Promise<string> {
  return call("save_chart_csv", { path, csv });
}
