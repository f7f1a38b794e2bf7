import { describe, expect, it } from "vitest";
import type { Contact } from "../types/Contact";
import { checkContact, draftErrors, draftFromContact, emptyDraft, toContactInput } from "./contactForm";

const contact: Contact = {
  id: "c1",
  first_name: "Ada",
  last_name: "Lovelace",
  display_name: "Ada Lovelace",
  title: "Engineer",
  company: { id: "co1", name: "Analytical Engines" },
  lifecycle_stage: "customer",
  owner: null,
  source: null,
  notes: "Met at the exhibition",
  emails: [{ kind: "work", address: "ada@engines.example" }],
  phones: [],
  tags: ["vip"],
  created_at: "2024-01-01T00:00:00Z",
  updated_at: "2024-01-02T00:00:00Z",
};

describe("contact form model", () => {
  it("turns a stored contact into a draft and back without losing anything", () => {
    const draft = draftFromContact(contact);
    expect(draft.display_name).toBe("");
    expect(draft.phones).toEqual([{ kind: "mobile", number: "" }]);
    const { input } = toContactInput(draft);
    expect(input).toEqual({
      first_name: "Ada",
      last_name: "Lovelace",
      display_name: null,
      title: "Engineer",
      company_id: "co1",
      company_name: null,
      lifecycle_stage: "customer",
      owner: null,
      source: null,
      notes: "Met at the exhibition",
      emails: [{ kind: "work", address: "ada@engines.example" }],
      phones: [],
      tags: ["vip"],
    });
  });

  it("keeps an explicit display name", () => {
    expect(draftFromContact({ ...contact, display_name: "The Countess" }).display_name).toBe("The Countess");
  });

  it("sends a typed company name when no existing company was picked", () => {
    const draft = emptyDraft();
    draft.first_name = "Grace";
    draft.company = { id: null, name: "  Navy Labs " };
    const { input } = toContactInput(draft);
    expect(input.company_id).toBeNull();
    expect(input.company_name).toBe("Navy Labs");
  });

  it("asks for a name and flags bad emails and phones by row", () => {
    const draft = emptyDraft();
    draft.emails = [
      { kind: "work", address: "ok@example.com" },
      { kind: "home", address: "not-an-email" },
    ];
    draft.phones = [{ kind: "mobile", number: "call me" }];
    expect(checkContact(draft)).toEqual({
      first_name: "Enter a first or last name",
      "emails[1]": expect.stringContaining("valid email"),
      "phones[0]": expect.stringContaining("phone number"),
    });
    draft.last_name = "Hopper";
    draft.emails[1].address = "grace@navy.example";
    draft.phones[0].number = "+1 (415) 555-0132";
    expect(checkContact(draft)).toEqual({});
  });

  it("maps core errors back to the draft rows they came from", () => {
    const draft = emptyDraft();
    draft.first_name = "Grace";
    draft.emails = [
      { kind: "work", address: "" },
      { kind: "home", address: "grace@navy" },
    ];
    const prepared = toContactInput(draft);
    expect(prepared.input.emails).toHaveLength(1);
    const errors = draftErrors(
      [
        { field: "emails[0]", message: "not an email" },
        { field: "company_name", message: "too long" },
      ],
      prepared,
    );
    expect(errors).toEqual({ "emails[1]": "not an email", company: "too long" });
  });
});
