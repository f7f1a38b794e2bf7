// Pure helpers of the deals screens: exact money display (amounts are decimal
// strings from hub-core and never become floats here), stale badges, and the
// new-deal form. Unit-tested in dealFormat.test.ts.
import type { Deal } from "../../lib/types/Deal";
import type { DealInput } from "../../lib/types/DealInput";
import type { DealSummary } from "../../lib/types/DealSummary";
import type { Money } from "../../lib/types/Money";

/** ISO 4217 minor digits that are not 2 (hub-core's money.rs has the full list). */
const MINOR: Record<string, number> = {
  BHD: 3, BIF: 0, CLF: 4, CLP: 0, DJF: 0, GNF: 0, IQD: 3, ISK: 0, JOD: 3, JPY: 0, KMF: 0,
  KRW: 0, KWD: 3, LYD: 3, OMR: 3, PYG: 0, RWF: 0, TND: 3, UGX: 0, UYI: 0, UYW: 4, VND: 0,
  VUV: 0, XAF: 0, XOF: 0, XPF: 0,
};

export function minorDigits(currency: string): number {
  return MINOR[currency] ?? 2;
}

/**
 * Round a plain decimal string to `digits` places, half away from zero, in
 * string arithmetic: `roundDecimal("10.115", 2)` is "10.12".
 */
export function roundDecimal(value: string, digits: number): string {
  const negative = value.startsWith("-");
  const [intRaw, fracRaw = ""] = (negative ? value.slice(1) : value).split(".");
  const intPart = intRaw.replace(/^0+(?=\d)/, "") || "0";
  let frac = fracRaw.padEnd(digits + 1, "0");
  const roundUp = Number(frac[digits]) >= 5;
  frac = frac.slice(0, digits);
  let digitsStr = intPart + frac;
  if (roundUp) {
    const chars = digitsStr.split("");
    let i = chars.length - 1;
    for (; i >= 0; i--) {
      if (chars[i] === "9") chars[i] = "0";
      else {
        chars[i] = String(Number(chars[i]) + 1);
        break;
      }
    }
    digitsStr = (i < 0 ? "1" : "") + chars.join("");
  }
  const whole = digitsStr.slice(0, digitsStr.length - digits) || "0";
  const fraction = digits > 0 ? "." + digitsStr.slice(digitsStr.length - digits) : "";
  const isZero = /^[0.]*$/.test(whole + fraction);
  return (negative && !isZero ? "-" : "") + whole + fraction;
}

/** `formatAmount("12500.5", "EUR")` -> "12,500.50 EUR" (rounded to the currency's digits). */
export function formatAmount(amount: string, currency: string): string {
  const rounded = roundDecimal(amount, minorDigits(currency));
  const [whole, fraction] = rounded.split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = sign ? whole.slice(1) : whole;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${grouped}${fraction !== undefined ? "." + fraction : ""} ${currency}`;
}

/** Several currencies in one line: "1,000.00 EUR · 200.00 USD"; "—" for none. */
export function formatMonies(list: Money[]): string {
  return list.length === 0 ? "—" : list.map((m) => formatAmount(m.amount, m.currency)).join(" · ");
}

/** The badges a Kanban card shows for a stale deal. */
export function staleBadges(deal: Pick<DealSummary, "rotting" | "no_next_activity" | "days_in_stage">): string[] {
  const badges: string[] = [];
  if (deal.rotting) badges.push(`Idle ${deal.days_in_stage} d`);
  if (deal.no_next_activity) badges.push("No next activity");
  return badges;
}

export type DealForm = {
  title: string;
  notes: string;
  amount: string;
  currency: string;
  expectedClose: string;
  stageId: string;
  contact: { id: string | null; name: string };
};

export function emptyDealForm(stageId = "", currency = ""): DealForm {
  return { title: "", notes: "", amount: "", currency, expectedClose: "", stageId, contact: { id: null, name: "" } };
}

/** The edit form of a stored deal. */
export function dealFormOf(deal: Deal): DealForm {
  return {
    title: deal.title,
    notes: deal.notes ?? "",
    amount: deal.amount ?? "",
    currency: deal.currency ?? "",
    expectedClose: deal.expected_close ?? "",
    stageId: deal.stage.id,
    contact: { id: deal.contact?.id ?? null, name: deal.contact?.name ?? "" },
  };
}

/** An edit as a full DealInput: what the form does not show (company, owner, line items) is kept. */
export function toDealUpdate(
  form: DealForm,
  deal: Deal,
): { input: DealInput } | { errors: Record<string, string> } {
  const made = toDealInput(form, deal.pipeline_id);
  if ("errors" in made) return made;
  return {
    input: {
      ...made.input,
      company_id: deal.company?.id ?? null,
      owner: deal.owner,
      line_items: deal.line_items.map((i) => ({ name: i.name, quantity: i.quantity, unit_price: i.unit_price })),
    },
  };
}

/** The form as a DealInput, or the errors a person can fix before saving. */
export function toDealInput(
  form: DealForm,
  pipelineId: string | null,
): { input: DealInput } | { errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const title = form.title.trim();
  if (!title) errors.title = "A deal needs a title";
  const amount = form.amount.trim().replace(/[\s,]/g, "");
  if (amount && !/^\d+(\.\d+)?$/.test(amount)) errors.amount = "An amount is a number such as 1234.50";
  const currency = form.currency.trim().toUpperCase();
  if (currency && !/^[A-Z]{3}$/.test(currency)) errors.currency = "A currency is a three-letter code such as EUR";
  if (form.expectedClose && !/^\d{4}-\d{2}-\d{2}$/.test(form.expectedClose)) {
    errors.expected_close = "A date such as 2026-12-31";
  }
  if (form.contact.name.trim() && !form.contact.id) errors.contact_id = "Pick a contact from the list";
  if (Object.keys(errors).length > 0) return { errors };
  return {
    input: {
      title,
      contact_id: form.contact.id,
      company_id: null,
      pipeline_id: pipelineId,
      stage_id: form.stageId || null,
      amount: amount || null,
      currency: currency || null,
      expected_close: form.expectedClose || null,
      owner: null,
      notes: form.notes.trim() || null,
      line_items: [],
    },
  };
}
