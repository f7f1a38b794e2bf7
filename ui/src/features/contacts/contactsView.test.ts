import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { contactsPager, contactsView, contactPager } = await import("./contactsView.svelte");

describe("contact pagers", () => {
  beforeEach(() => {
    invoke.mockReset();
    invoke.mockResolvedValue({ total: 0, items: [] });
  });

  it("the Contacts screen's pager sends the current search and tag", async () => {
    contactsView.search = "  ada.lov ";
    contactsView.tag = "vip";
    await contactsPager.reset();
    expect(invoke).toHaveBeenLastCalledWith("list_contacts", {
      query: { search: "ada.lov", tag: "vip", company_id: null, offset: 0, limit: 100 },
    });
    contactsView.search = "";
    contactsView.tag = "";
    await contactsPager.reset();
    expect(invoke).toHaveBeenLastCalledWith("list_contacts", {
      query: { search: null, tag: null, company_id: null, offset: 0, limit: 100 },
    });
  });

  it("a company's pager asks only for that company's people", async () => {
    await contactPager(() => ({ companyId: "co-1" })).reset();
    expect(invoke).toHaveBeenLastCalledWith("list_contacts", {
      query: { search: null, tag: null, company_id: "co-1", offset: 0, limit: 100 },
    });
  });
});
