import type { Company } from "../types/Company";
import type { CompanyInput } from "../types/CompanyInput";
import { domainProblem, textOrNull, type FieldErrors } from "./fields";

export const COMPANY_SIZES = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001+"];

export type CompanyDraft = {
  name: string;
  domain: string;
  industry: string;
  size: string;
  street: string;
  city: string;
  region: string;
  postal_code: string;
  country: string;
};

export function emptyCompanyDraft(): CompanyDraft {
  return {
    name: "",
    domain: "",
    industry: "",
    size: "",
    street: "",
    city: "",
    region: "",
    postal_code: "",
    country: "",
  };
}

export function draftFromCompany(c: Company): CompanyDraft {
  return {
    name: c.name,
    domain: c.domain ?? "",
    industry: c.industry ?? "",
    size: c.size ?? "",
    street: c.street ?? "",
    city: c.city ?? "",
    region: c.region ?? "",
    postal_code: c.postal_code ?? "",
    country: c.country ?? "",
  };
}

export function toCompanyInput(d: CompanyDraft): CompanyInput {
  return {
    name: d.name.trim(),
    domain: textOrNull(d.domain),
    industry: textOrNull(d.industry),
    size: textOrNull(d.size),
    street: textOrNull(d.street),
    city: textOrNull(d.city),
    region: textOrNull(d.region),
    postal_code: textOrNull(d.postal_code),
    country: textOrNull(d.country),
  };
}

export function checkCompany(d: CompanyDraft): FieldErrors {
  const errors: FieldErrors = {};
  if (!d.name.trim()) errors.name = "Enter the company name";
  const domain = domainProblem(d.domain);
  if (domain) errors.domain = domain;
  return errors;
}
