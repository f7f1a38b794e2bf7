// The Contacts screen's state lives here, outside the component, so opening a
// contact and coming back keeps the search, the filter, the loaded rows and
// the scroll position.
import { listContacts } from "../../lib/api/contacts";
import { Pager } from "../../lib/paging/pager.svelte";
import type { ContactSummary } from "../../lib/types/ContactSummary";

export const contactsView = $state({ search: "", tag: "", scrollTop: 0 });

export function contactPager(query: { search?: string; tag?: string; companyId?: string }) {
  return new Pager<ContactSummary>((offset, limit) =>
    listContacts({
      search: query.search?.trim() || null,
      tag: query.tag || null,
      company_id: query.companyId ?? null,
      offset,
      limit,
    }),
  );
}

export const contactsPager = contactPager({});
