import { describe, expect, it } from "vitest";
import type { Deal } from "../../lib/types/Deal";
import {
  dealFormOf,
  emptyDealForm,
  formatAmount,
  formatMonies,
  roundDecimal,
  staleBadges,
  toDealInput,
  toDealUpdate,
} from "./dealFormat";

describe("money display", () => {
  it("rounds decimal strings half away from zero without floats", () => {
    expect(roundDecimal("10.115", 2)).toBe("10.12");
    expect(roundDecimal("10.114", 2)).toBe("10.11");
    expect(roundDecimal("9.995", 2)).toBe("10.00");
    expect(roundDecimal("999", 2)).toBe("999.00");
    expect(roundDecimal("0.5", 0)).toBe("1");
    expect(roundDecimal("1234.5", 0)).toBe("1235");
    expect(roundDecimal("-2.345", 2)).toBe("-2.35");
    expect(roundDecimal("-0.001", 2)).toBe("0.00");
    // Beyond float precision: exact.
    expect(roundDecimal("12345678901234567.895", 2)).toBe("12345678901234567.90");
  });

  it("formats with the currency's digits and thousands separators", () => {
    expect(formatAmount("12500.5", "EUR")).toBe("12,500.50 EUR");
    expect(formatAmount("1234567", "JPY")).toBe("1,234,567 JPY");
    expect(formatAmount("10.1255", "KWD")).toBe("10.126 KWD");
    expect(formatAmount("0", "USD")).toBe("0.00 USD");
    expect(formatMonies([])).toBe("—");
    expect(
      formatMonies([
        { amount: "1000", currency: "EUR" },
        { amount: "20.5", currency: "USD" },
      ]),
    ).toBe("1,000.00 EUR · 20.50 USD");
  });
});

describe("stale badges", () => {
  it("name why a deal is stale", () => {
    expect(staleBadges({ rotting: true, no_next_activity: true, days_in_stage: 40 })).toEqual([
      "Idle 40 d",
      "No next activity",
    ]);
    expect(staleBadges({ rotting: false, no_next_activity: false, days_in_stage: 2 })).toEqual([]);
  });
});

describe("the new-deal form", () => {
  it("builds a DealInput", () => {
    const form = { ...emptyDealForm("s1", "eur"), title: " Engine ", amount: "12,500.50", expectedClose: "2026-12-31" };
    const made = toDealInput(form, "p1");
    expect("input" in made && made.input).toMatchObject({
      title: "Engine",
      amount: "12500.50",
      currency: "EUR",
      stage_id: "s1",
      pipeline_id: "p1",
      expected_close: "2026-12-31",
    });
  });

  it("reports what to fix", () => {
    const made = toDealInput({ ...emptyDealForm(), amount: "ten", currency: "EURO" }, null);
    expect("errors" in made && Object.keys(made.errors).sort()).toEqual(["amount", "currency", "title"]);
  });
});

describe("the edit form", () => {
  it("keeps what it does not show", () => {
    const deal = {
      id: "d1",
      title: "Licences",
      contact: { id: "c1", name: "Ada" },
      company: { id: "co1", name: "Engines" },
      pipeline_id: "p1",
      stage: { id: "s2", name: "Proposal" },
      amount: "59.97",
      currency: "EUR",
      expected_close: null,
      owner: "ada@example.com",
      notes: null,
      line_items: [{ id: "l1", name: "Seat", quantity: "3", unit_price: "19.99", total: "59.97" }],
    } as unknown as Deal;
    const form = { ...dealFormOf(deal), title: "Licences 2027", amount: "50" };
    const made = toDealUpdate(form, deal);
    expect("input" in made && made.input).toMatchObject({
      title: "Licences 2027",
      amount: "50",
      currency: "EUR",
      contact_id: "c1",
      company_id: "co1",
      owner: "ada@example.com",
      stage_id: "s2",
      pipeline_id: "p1",
      line_items: [{ name: "Seat", quantity: "3", unit_price: "19.99" }],
    });
  });
});
