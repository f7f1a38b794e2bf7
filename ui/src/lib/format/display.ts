// Presentation helpers shared by lists and detail views.
import { parsePhoneNumberFromString } from "libphonenumber-js/min";

export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return "?";
  const first = words[0][0] ?? "";
  const last = words.length > 1 ? (words[words.length - 1][0] ?? "") : "";
  return (first + last).toUpperCase();
}

/** A stable hue per name, so a person keeps their avatar colour everywhere. */
export function avatarHue(seed: string): number {
  let h = 0;
  for (let i = 0; i < seed.length; i++) h = (h * 31 + seed.charCodeAt(i)) >>> 0;
  return h % 360;
}

const count = new Intl.NumberFormat();
export function formatCount(n: number): string {
  return count.format(n);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export function kindLabel(kind: string): string {
  return kind ? kind[0].toUpperCase() + kind.slice(1) : "";
}

/** `+442079460018` -> `+44 20 7946 0018`; anything unparseable is shown as stored. */
export function formatPhone(e164: string): string {
  try {
    return parsePhoneNumberFromString(e164)?.formatInternational() ?? e164;
  } catch {
    return e164;
  }
}
