import { describe, expect, it } from "vitest";
import type { Dashboard } from "../../lib/types/Dashboard";
import { audienceFileName, leftOutText, removalFileName, withDestinationExt } from "./audience";
import { buildCharts, chartFileName, toCsv } from "./charts";

const stage = (name: string, kind: string, deals: number, amounts: { amount: string; currency: string }[], base: string | null) => ({
  stage_id: name,
  name,
  kind,
  deals,
  amounts,
  base: base === null ? null : { amount: base, currency: "EUR" },
  missing_rates: base === null ? ["JPY"] : [],
});

function dashboard(): Dashboard {
  return {
    today: "2026-11-30",
    days: 2,
    funnel: {
      pipeline_id: "p",
      pipeline_name: "Sales",
      base_currency: "EUR",
      stages: [stage("Lead", "open", 3, [{ amount: "10.5", currency: "EUR" }], "10.5"), stage("Won", "won", 1, [{ amount: "100", currency: "JPY" }], null)],
    },
    won_by_month: [
      { month: "2026-10", deals: 0, amounts: [], base: { amount: "0", currency: "EUR" }, missing_rates: [] },
      { month: "2026-11", deals: 2, amounts: [{ amount: "0.3", currency: "EUR" }], base: { amount: "0.3", currency: "EUR" }, missing_rates: [] },
    ],
    forecast: {
      by: "month",
      base_currency: "EUR",
      rows: [{ key: "2026-12", label: "2026-12", deals: 1, currencies: [{ currency: "EUR", deals: 1, total: "100", weighted: "25" }], converted: { currency: "EUR", total: "100", weighted: "25" }, missing_rates: [] }],
      total: { key: "total", label: "Total", deals: 1, currencies: [], converted: null, missing_rates: [] },
    },
    campaigns: {
      from: "2026-11-29",
      to: "2026-11-30",
      segment: null,
      base_currency: "EUR",
      rows: [
        {
          label: "spring, sale / google / cpc",
          direct: false,
          campaign: "spring, sale",
          source: "google",
          medium: "cpc",
          touches: 5n,
          visitors: 4n,
          contacts: 2n,
          anonymous: 2n,
          deals: 1n,
          won: 1n,
          revenue: [{ amount: "99.99", currency: "EUR" }],
          revenue_base: { amount: "99.99", currency: "EUR" },
          rates: { visitor_to_contact: "0.5", contact_to_deal: "0.5", contact_to_won: "0.5" },
        },
      ],
      missing_rates: [],
    },
    segment_sizes: [{ segment_id: "s", name: "Fans", current: 3n, days: [{ day: "2026-11-29", count: 2n }, { day: "2026-11-30", count: 3n }] }],
    events_per_day: [{ day: "2026-11-29", count: 0n }, { day: "2026-11-30", count: 7n }],
  } as unknown as Dashboard;
}

describe("buildCharts", () => {
  const charts = buildCharts(dashboard());
  const byId = Object.fromEntries(charts.map((c) => [c.id, c]));

  it("draws the six charts in order", () => {
    expect(charts.map((c) => c.id)).toEqual(["funnel", "won", "forecast", "campaigns", "segments", "events"]);
    expect(charts.every((c) => c.hasData)).toBe(true);
  });

  it("keeps exact amounts in the tables and names missing rates", () => {
    expect(byId.funnel.table.headers).toEqual(["Stage", "Kind", "Deals", "Amount EUR", "Amount JPY", "Amount in EUR"]);
    expect(byId.funnel.table.rows[0]).toEqual(["Lead", "open", "3", "10.5", "0", "10.5"]);
    expect(byId.funnel.table.rows[1][5]).toBe("no rate for JPY");
    expect(byId.won.table.rows[1]).toEqual(["2026-11", "2", "0.3", "0.3"]);
    expect(byId.campaigns.table.rows[0].slice(0, 7)).toEqual(["spring, sale / google / cpc", "5", "4", "2", "2", "1", "1"]);
  });

  it("plots money in the base currency when every point converts, else per currency", () => {
    expect(byId.won.series.map((s) => s.label)).toEqual(["Won (EUR)"]);
    expect(byId.won.series[0].data).toEqual([0, 0.3]);
    expect(byId.forecast.series.map((s) => s.label)).toEqual(["Total (EUR)", "Weighted (EUR)"]);
    const d = dashboard();
    d.won_by_month[1].base = null;
    expect(buildCharts(d)[1].series.map((s) => s.label)).toEqual(["Won (EUR)"]);
    expect(buildCharts(d)[1].series[0].data).toEqual([0, 0.3]);
  });

  it("reads segment sizes and events per day as numbers", () => {
    expect(byId.segments.series).toEqual([{ label: "Fans", data: [2, 3] }]);
    expect(byId.segments.table.rows).toEqual([["2026-11-29", "2"], ["2026-11-30", "3"]]);
    expect(byId.events.series[0].data).toEqual([0, 7]);
  });

  it("says when a chart has nothing to show", () => {
    const d = dashboard();
    d.events_per_day = d.events_per_day.map((e) => ({ ...e, count: 0n }));
    expect(buildCharts(d)[5].hasData).toBe(false);
  });
});

describe("toCsv", () => {
  it("quotes commas, quotes and line breaks (RFC 4180)", () => {
    expect(toCsv(["a", "b"], [["x, y", 'say "hi"'], ["line\nbreak", "1"]])).toBe('a,b\r\n"x, y","say ""hi"""\r\n"line\nbreak",1\r\n');
  });
  it("writes a header-only file for no rows", () => {
    expect(toCsv(["Day", "Events"], [])).toBe("Day,Events\r\n");
  });
});

describe("file names", () => {
  const d = new Date(2026, 10, 30);
  it("dates chart and audience files", () => {
    expect(chartFileName("won", "png", d)).toBe("report-won-2026-11-30.png");
    expect(audienceFileName("Big Spenders / EU", "meta", false, d)).toBe("big-spenders-eu-meta-2026-11-30.json");
    expect(audienceFileName("Café", "google", true, d)).toBe("cafe-google-seed-2026-11-30.csv");
    expect(removalFileName("Fans", "csv", d)).toBe("fans-csv-removals-2026-11-30.csv");
    expect(withDestinationExt("/home/a/Downloads/fans-meta.json", "csv")).toBe("/home/a/Downloads/fans-meta.csv");
  });
  it("describes who was left out", () => {
    expect(leftOutText({ no_consent: 3, do_not_sell: 0, no_identifier: 1 } as never)).toBe("3 without consent · 1 without an email or phone");
    expect(leftOutText({ no_consent: 0, do_not_sell: 0, no_identifier: 0 } as never)).toBe("None");
  });
});
