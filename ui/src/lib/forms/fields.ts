// Small shared rules for the forms. The core is the authority (it validates
// again and its `fields` errors are shown the same way); these checks only
// spare a round trip for obvious mistakes.

export type FieldErrors = Record<string, string>;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@.]{2,}$/;
const PHONE = /^\+?[\d\s().\-/]+$/;

export function emailProblem(address: string): string | undefined {
  const a = address.trim();
  if (a === "") return undefined;
  return EMAIL.test(a) ? undefined : "Enter a valid email address, like name@example.com";
}

export function phoneProblem(number: string): string | undefined {
  const n = number.trim();
  if (n === "") return undefined;
  const digits = n.replace(/\D/g, "").length;
  if (!PHONE.test(n) || digits < 5 || digits > 17) {
    return "Enter a phone number with digits only, like +1 415 555 0132";
  }
  return undefined;
}

export function domainProblem(domain: string): string | undefined {
  const d = domain.trim();
  if (d === "") return undefined;
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(d.replace(/^https?:\/\//i, "").replace(/\/.*$/, ""))
    ? undefined
    : "Enter a domain like example.com";
}

/** Trimmed text, or null for an empty field (the core stores NULL, not ""). */
export function textOrNull(value: string): string | null {
  const v = value.trim();
  return v === "" ? null : v;
}
