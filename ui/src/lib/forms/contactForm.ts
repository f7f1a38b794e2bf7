// The contact form's model: a Contact becomes an editable draft, the draft
// becomes a ContactInput, and core errors (`emails[1]`) find their way back to
// the draft row they belong to even after empty rows were left out.
import type { Contact } from "../types/Contact";
import type { ContactInput } from "../types/ContactInput";
import type { LifecycleStage } from "../types/LifecycleStage";
import { formatPhone } from "../format/display";
import { emailProblem, phoneProblem, textOrNull, type FieldErrors } from "./fields";

export const STAGES: { value: LifecycleStage; label: string }[] = [
  { value: "lead", label: "Lead" },
  { value: "prospect", label: "Prospect" },
  { value: "customer", label: "Customer" },
  { value: "churned", label: "Churned" },
];

export const EMAIL_KINDS = ["work", "home", "other"] as const;
export const PHONE_KINDS = ["mobile", "work", "home", "other"] as const;

export type ContactDraft = {
  first_name: string;
  last_name: string;
  display_name: string;
  title: string;
  /** Picked company; `id` is null when the name is new and will be created. */
  company: { id: string | null; name: string };
  lifecycle_stage: LifecycleStage;
  owner: string;
  source: string;
  notes: string;
  emails: { kind: string; address: string }[];
  phones: { kind: string; number: string }[];
  tags: string[];
};

export function emptyDraft(company: { id: string; name: string } | null = null): ContactDraft {
  return {
    first_name: "",
    last_name: "",
    display_name: "",
    title: "",
    company: company ? { ...company } : { id: null, name: "" },
    lifecycle_stage: "lead",
    owner: "",
    source: "",
    notes: "",
    emails: [{ kind: "work", address: "" }],
    phones: [{ kind: "mobile", number: "" }],
    tags: [],
  };
}

export function draftFromContact(c: Contact): ContactDraft {
  const derived = [c.first_name, c.last_name].filter(Boolean).join(" ");
  return {
    first_name: c.first_name ?? "",
    last_name: c.last_name ?? "",
    // Only keep an explicit display name; a derived one follows name edits.
    display_name: c.display_name === derived ? "" : c.display_name,
    title: c.title ?? "",
    company: c.company ? { ...c.company } : { id: null, name: "" },
    lifecycle_stage: c.lifecycle_stage,
    owner: c.owner ?? "",
    source: c.source ?? "",
    notes: c.notes ?? "",
    emails: c.emails.length ? c.emails.map((e) => ({ ...e })) : [{ kind: "work", address: "" }],
    phones: c.phones.length
      ? c.phones.map((p) => ({ kind: p.kind, number: formatPhone(p.number) }))
      : [{ kind: "mobile", number: "" }],
    tags: [...c.tags],
  };
}

export type PreparedContact = {
  input: ContactInput;
  /** `emailRows[i]` is the draft row that became `input.emails[i]`. */
  emailRows: number[];
  phoneRows: number[];
};

export function toContactInput(d: ContactDraft): PreparedContact {
  const emailRows: number[] = [];
  const phoneRows: number[] = [];
  const emails = d.emails.flatMap((e, row) => {
    if (e.address.trim() === "") return [];
    emailRows.push(row);
    return [{ kind: e.kind, address: e.address.trim() }];
  });
  const phones = d.phones.flatMap((p, row) => {
    if (p.number.trim() === "") return [];
    phoneRows.push(row);
    return [{ kind: p.kind, number: p.number.trim() }];
  });
  const companyName = d.company.name.trim();
  return {
    input: {
      first_name: textOrNull(d.first_name),
      last_name: textOrNull(d.last_name),
      display_name: textOrNull(d.display_name),
      title: textOrNull(d.title),
      company_id: companyName && d.company.id ? d.company.id : null,
      company_name: companyName && !d.company.id ? companyName : null,
      lifecycle_stage: d.lifecycle_stage,
      owner: textOrNull(d.owner),
      source: textOrNull(d.source),
      notes: textOrNull(d.notes),
      emails,
      phones,
      tags: d.tags.map((t) => t.trim()).filter(Boolean),
    },
    emailRows,
    phoneRows,
  };
}

/** Checks made before saving; keys are draft fields (`emails[2]` is draft row 2). */
export function checkContact(d: ContactDraft): FieldErrors {
  const errors: FieldErrors = {};
  if (!d.first_name.trim() && !d.last_name.trim() && !d.display_name.trim()) {
    errors.first_name = "Enter a first or last name";
  }
  d.emails.forEach((e, i) => {
    const problem = emailProblem(e.address);
    if (problem) errors[`emails[${i}]`] = problem;
  });
  d.phones.forEach((p, i) => {
    const problem = phoneProblem(p.number);
    if (problem) errors[`phones[${i}]`] = problem;
  });
  return errors;
}

/** Core field errors re-keyed to the draft (row numbers and the name fields). */
export function draftErrors(
  fields: { field: string; message: string }[],
  prepared: PreparedContact,
): FieldErrors {
  const errors: FieldErrors = {};
  for (const { field, message } of fields) {
    let key = field;
    const row = /^(emails|phones)\[(\d+)\]/.exec(field);
    if (row) {
      const rows = row[1] === "emails" ? prepared.emailRows : prepared.phoneRows;
      key = `${row[1]}[${rows[Number(row[2])] ?? Number(row[2])}]`;
    } else if (field === "company_id" || field === "company_name") {
      key = "company";
    } else if (field === "name") {
      key = "first_name";
    }
    errors[key] ??= message;
  }
  return errors;
}
