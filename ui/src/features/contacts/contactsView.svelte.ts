// The Contacts screen's state lives here, outside the component, so opening a
// contact and coming back keeps the search, the filter, the loaded rows and
// the scroll position.
import { listContacts } from "../../lib/api/contacts";
import { Pager } from "../../lib/paging/pager.svelte";
import type { ContactSummary } from "../../lib/types/ContactSummary";

export const contactsView = $state({ search: "", tag: "", scrollTop: 0 });

type ContactFilter = { search?: string; tag?: string; companyId?: string };

/** A pager over `list_contacts`; `filter` is read on every fetch, so it may change. */
export function contactPager(filter: () => ContactFilter) {
  return new Pager<ContactSummary>((offset, limit) => {
    const { search, tag, companyId } = filter();
    return listContacts({
      search: search?.trim() || null,
      tag: tag || null,
      company_id: companyId ?? null,
      offset,
      limit,
    });
  });
}

export const contactsPager = contactPager(() => contactsView);
