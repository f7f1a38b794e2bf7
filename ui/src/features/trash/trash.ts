// The Trash screen's words and links: pure, unit-tested.
import type { Route } from "../../lib/navigation/routes";
import type { TrashItem } from "../../lib/types/TrashItem";

/** What can be in the trash (hub_core::trash::TRASHABLE), in the filter's order. */
export const TRASH_KINDS = [
  { entity: "contact", one: "Contact", many: "Contacts" },
  { entity: "company", one: "Company", many: "Companies" },
  { entity: "deal", one: "Deal", many: "Deals" },
  { entity: "ticket", one: "Ticket", many: "Tickets" },
  { entity: "reminder", one: "Reminder", many: "Reminders" },
  { entity: "activity", one: "Activity", many: "Activities" },
] as const;

/** "Contact" for `contact`; an unknown kind is shown capitalised. */
export function kindName(entity: string): string {
  const kind = TRASH_KINDS.find((k) => k.entity === entity);
  if (kind) return kind.one;
  return entity ? entity[0].toUpperCase() + entity.slice(1).replace(/_/g, " ") : "";
}

/** A field's name for people: `company_id` -> "Company", `stay_in_touch_days` -> "Stay in touch days". */
export function fieldLabel(field: string): string {
  const words = field.replace(/_id$/, "").replace(/_/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : field;
}

/** "Title, Notes" for the fields another device wrote after the delete; "" for none. */
export function editedFields(item: Pick<TrashItem, "edited_after_delete">): string {
  return item.edited_after_delete.map(fieldLabel).join(", ");
}

/** The name shown for a deleted record (a record may have an empty name). */
export function itemLabel(item: Pick<TrashItem, "entity" | "label">): string {
  return item.label.trim() || `Unnamed ${kindName(item.entity).toLowerCase()}`;
}

/** Where a restored record is seen again, or null when it has no screen of its own. */
export function restoredRoute(item: Pick<TrashItem, "entity" | "id">): Route | null {
  switch (item.entity) {
    case "contact":
      return { name: "contact", id: item.id };
    case "company":
      return { name: "company", id: item.id };
    case "deal":
      return { name: "deal", id: item.id };
    case "ticket":
      return { name: "ticket", id: item.id };
    case "reminder":
      return { name: "reminders" };
    default:
      return null;
  }
}
