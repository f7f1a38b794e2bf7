import { describe, expect, it } from "vitest";
import { checkCompany, emptyCompanyDraft, toCompanyInput } from "./companyForm";

describe("company form model", () => {
  it("requires a name and a plausible domain", () => {
    const draft = emptyCompanyDraft();
    draft.domain = "not a domain";
    expect(Object.keys(checkCompany(draft)).sort()).toEqual(["domain", "name"]);
    draft.name = "Acme";
    draft.domain = "https://www.acme.example/about";
    expect(checkCompany(draft)).toEqual({});
  });

  it("sends empty fields as null", () => {
    const draft = emptyCompanyDraft();
    draft.name = " Acme ";
    draft.city = "Berlin";
    expect(toCompanyInput(draft)).toEqual({
      name: "Acme",
      domain: null,
      industry: null,
      size: null,
      street: null,
      city: "Berlin",
      region: null,
      postal_code: null,
      country: null,
    });
  });
});
