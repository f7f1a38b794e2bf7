// Companies screen state kept across navigation (see contactsView).
import { listCompanies } from "../../lib/api/companies";
import { Pager } from "../../lib/paging/pager.svelte";
import type { Company } from "../../lib/types/Company";

export const companiesView = $state({ search: "", scrollTop: 0 });

export const companiesPager = new Pager<Company>((offset, limit) =>
  listCompanies({ search: companiesView.search.trim() || null, offset, limit }),
);
