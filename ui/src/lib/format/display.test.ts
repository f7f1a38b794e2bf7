import { describe, expect, it } from "vitest";
import { avatarHue, formatPhone, initials, plural } from "./display";

describe("display helpers", () => {
  it("makes initials from the first and last word", () => {
    expect(initials("Ada King Lovelace")).toBe("AL");
    expect(initials("cher")).toBe("C");
    expect(initials("  ")).toBe("?");
  });

  it("gives a name the same hue every time", () => {
    expect(avatarHue("Ada")).toBe(avatarHue("Ada"));
    expect(avatarHue("Ada")).toBeGreaterThanOrEqual(0);
    expect(avatarHue("Ada")).toBeLessThan(360);
  });

  it("formats stored E.164 numbers for people and leaves odd ones alone", () => {
    expect(formatPhone("+442079460018")).toBe("+44 20 7946 0018");
    expect(formatPhone("+14155550132")).toBe("+1 415 555 0132");
    expect(formatPhone("ext. 12")).toBe("ext. 12");
  });

  it("pluralises", () => {
    expect(plural(1, "contact")).toBe("1 contact");
    expect(plural(2, "company", "companies")).toBe("2 companies");
  });
});
