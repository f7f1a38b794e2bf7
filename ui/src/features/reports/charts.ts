// The Reports screen's charts as plain data: what each chart draws (labels and
// series, numbers for drawing only) and the table its CSV and accessible table
// hold (exact amounts as the core computed them, as text). Pure, unit-tested.
import type { Dashboard } from "../../lib/types/Dashboard";
import type { Money } from "../../lib/types/Money";

export type ChartKind = "bar" | "hbar" | "line";

export type Series = { label: string; data: number[] };

export type ChartSpec = {
  id: string;
  title: string;
  /** One line under the title: what is counted. */
  note: string;
  kind: ChartKind;
  /** The value axis: amounts (compact ticks) or counts (whole ticks), and its title. */
  money: boolean;
  axis: string;
  labels: string[];
  series: Series[];
  /** Whether the chart has anything to show (some non-zero value). */
  hasData: boolean;
  table: { headers: string[]; rows: string[][] };
};

const num = (v: unknown): number => Number(v ?? 0);

function currencies(lists: Money[][]): string[] {
  return [...new Set(lists.flat().map((m) => m.currency))].sort();
}

function amountIn(list: Money[], currency: string): string {
  return list.find((m) => m.currency === currency)?.amount ?? "0";
}

/**
 * Amount series: one in the base currency when every point converts,
 * else one per currency (never a guessed conversion).
 */
function moneySeries(points: { amounts: Money[]; base: Money | null }[], base: string | null, label: string): Series[] {
  if (base && points.every((p) => p.base !== null)) {
    return [{ label: `${label} (${base})`, data: points.map((p) => num(p.base?.amount)) }];
  }
  return currencies(points.map((p) => p.amounts)).map((c) => ({
    label: `${label} (${c})`,
    data: points.map((p) => num(amountIn(p.amounts, c))),
  }));
}

function anyData(series: Series[]): boolean {
  return series.some((s) => s.data.some((v) => v !== 0));
}

export function buildCharts(d: Dashboard): ChartSpec[] {
  const base = d.funnel.base_currency;

  // Pipeline funnel.
  const stages = d.funnel.stages;
  const stageCur = currencies(stages.map((s) => s.amounts));
  const funnelSeries: Series[] = [{ label: "Deals", data: stages.map((s) => s.deals) }];
  const funnel: ChartSpec = {
    id: "funnel",
    title: "Pipeline funnel",
    note: `${d.funnel.pipeline_name}: deals in each stage now`,
    kind: "hbar",
    money: false,
    axis: "Deals",
    labels: stages.map((s) => s.name),
    series: funnelSeries,
    hasData: anyData(funnelSeries),
    table: {
      headers: ["Stage", "Kind", "Deals", ...stageCur.map((c) => `Amount ${c}`), ...(base ? [`Amount in ${base}`] : [])],
      rows: stages.map((s) => [
        s.name,
        s.kind,
        String(s.deals),
        ...stageCur.map((c) => amountIn(s.amounts, c)),
        ...(base ? [s.base?.amount ?? (s.missing_rates.length ? `no rate for ${s.missing_rates.join(" ")}` : "")] : []),
      ]),
    },
  };

  // Won revenue by month.
  const months = d.won_by_month;
  const monthCur = currencies(months.map((m) => m.amounts));
  const wonSeries = moneySeries(months, base, "Won");
  const won: ChartSpec = {
    id: "won",
    title: "Won revenue by month",
    note: "Deals won, by the month they closed",
    kind: "bar",
    money: true,
    axis: wonSeries.length === 1 ? wonSeries[0].label.replace(/^Won /, "").replace(/[()]/g, "") : "Revenue",
    labels: months.map((m) => m.month),
    series: wonSeries,
    hasData: anyData(wonSeries),
    table: {
      headers: ["Month", "Deals won", ...monthCur.map((c) => `Revenue ${c}`), ...(base ? [`Revenue in ${base}`] : [])],
      rows: months.map((m) => [
        m.month,
        String(m.deals),
        ...monthCur.map((c) => amountIn(m.amounts, c)),
        ...(base ? [m.base?.amount ?? (m.missing_rates.length ? `no rate for ${m.missing_rates.join(" ")}` : "")] : []),
      ]),
    },
  };

  // Forecast by expected close month.
  const fRows = d.forecast.rows;
  const fBase = d.forecast.base_currency;
  const fCur = currencies(fRows.map((r) => r.currencies.map((c) => ({ amount: c.total, currency: c.currency }))));
  let fSeries: Series[];
  if (fBase && fRows.every((r) => r.converted)) {
    fSeries = [
      { label: `Total (${fBase})`, data: fRows.map((r) => num(r.converted?.total)) },
      { label: `Weighted (${fBase})`, data: fRows.map((r) => num(r.converted?.weighted)) },
    ];
  } else {
    fSeries = fCur.flatMap((c) => [
      { label: `Total (${c})`, data: fRows.map((r) => num(r.currencies.find((x) => x.currency === c)?.total)) },
      { label: `Weighted (${c})`, data: fRows.map((r) => num(r.currencies.find((x) => x.currency === c)?.weighted)) },
    ]);
  }
  const forecast: ChartSpec = {
    id: "forecast",
    title: "Forecast",
    note: "Total and weighted by stage probability, by expected close (won: 100 %)",
    kind: "bar",
    money: true,
    axis: fBase && fRows.every((r) => r.converted) ? fBase : fCur.length === 1 ? fCur[0] : "Amount",
    labels: fRows.map((r) => r.label),
    series: fSeries,
    hasData: anyData(fSeries),
    table: {
      headers: [
        "Month",
        "Deals",
        ...fCur.flatMap((c) => [`Total ${c}`, `Weighted ${c}`]),
        ...(fBase ? [`Total in ${fBase}`, `Weighted in ${fBase}`] : []),
      ],
      rows: fRows.map((r) => [
        r.label,
        String(r.deals),
        ...fCur.flatMap((c) => {
          const x = r.currencies.find((y) => y.currency === c);
          return [x?.total ?? "0", x?.weighted ?? "0"];
        }),
        ...(fBase ? [r.converted?.total ?? "", r.converted?.weighted ?? ""] : []),
      ]),
    },
  };

  // Campaign performance.
  const cRows = d.campaigns.rows;
  const cBase = d.campaigns.base_currency;
  const cCur = currencies(cRows.map((r) => r.revenue));
  const cSeries: Series[] = [
    { label: "Visitors", data: cRows.map((r) => num(r.visitors)) },
    { label: "Contacts", data: cRows.map((r) => num(r.contacts)) },
    { label: "Deals", data: cRows.map((r) => num(r.deals)) },
    { label: "Won", data: cRows.map((r) => num(r.won)) },
  ];
  const campaigns: ChartSpec = {
    id: "campaigns",
    title: "Campaign performance",
    note: `Last ${d.days} days: visitors, contacts, deals started and won`,
    kind: "hbar",
    money: false,
    axis: "People / deals",
    labels: cRows.map((r) => r.label),
    series: cSeries,
    hasData: anyData(cSeries),
    table: {
      headers: [
        "Campaign",
        "Touches",
        "Visitors",
        "Contacts",
        "Anonymous",
        "Deals",
        "Won",
        ...cCur.map((c) => `Revenue ${c}`),
        ...(cBase ? [`Revenue in ${cBase}`] : []),
      ],
      rows: cRows.map((r) => [
        r.label,
        String(r.touches),
        r.visitors === null ? "" : String(r.visitors),
        r.contacts === null ? "" : String(r.contacts),
        r.anonymous === null ? "" : String(r.anonymous),
        String(r.deals),
        String(r.won),
        ...cCur.map((c) => amountIn(r.revenue, c)),
        ...(cBase ? [r.revenue_base?.amount ?? ""] : []),
      ]),
    },
  };

  // Segment sizes over time.
  const segs = d.segment_sizes;
  const days = segs[0]?.days.map((x) => x.day) ?? d.events_per_day.map((x) => x.day);
  const sSeries: Series[] = segs.map((s) => ({ label: s.name, data: s.days.map((x) => num(x.count)) }));
  const sizes: ChartSpec = {
    id: "segments",
    title: "Segment sizes",
    note: `Members at the end of each day, last ${d.days} days`,
    kind: "line",
    money: false,
    axis: "Members",
    labels: days,
    series: sSeries,
    hasData: anyData(sSeries),
    table: {
      headers: ["Day", ...segs.map((s) => s.name)],
      rows: days.map((day, i) => [day, ...segs.map((s) => String(s.days[i]?.count ?? ""))]),
    },
  };

  // Events per day.
  const ev = d.events_per_day;
  const eSeries: Series[] = [{ label: "Events", data: ev.map((x) => num(x.count)) }];
  const events: ChartSpec = {
    id: "events",
    title: "Events per day",
    note: `Tracks, page views and identifies per UTC day, last ${d.days} days`,
    kind: "bar",
    money: false,
    axis: "Events",
    labels: ev.map((x) => x.day),
    series: eSeries,
    hasData: anyData(eSeries),
    table: { headers: ["Day", "Events"], rows: ev.map((x) => [x.day, String(x.count)]) },
  };

  return [funnel, won, forecast, campaigns, sizes, events];
}

/** RFC 4180 CSV: fields with a comma, quote or line break are quoted; CRLF line ends. */
export function toCsv(headers: string[], rows: string[][]): string {
  const field = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [headers, ...rows].map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}

/** `reports-won-2026-11-30.csv` */
export function chartFileName(id: string, ext: "csv" | "png", today: Date): string {
  const y = today.getFullYear();
  const m = String(today.getMonth() + 1).padStart(2, "0");
  const d = String(today.getDate()).padStart(2, "0");
  return `report-${id}-${y}-${m}-${d}.${ext}`;
}
