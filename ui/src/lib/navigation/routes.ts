// Hash routes: `#/contacts/<id>` survives reloads, and back/forward work
// without a router library. Pure functions so they are unit-tested.

export type Route =
  | { name: "today" }
  | { name: "contacts" }
  | { name: "contact"; id: string }
  | { name: "contact-new"; companyId: string | null }
  | { name: "contact-edit"; id: string }
  | { name: "companies" }
  | { name: "company"; id: string }
  | { name: "company-new" }
  | { name: "company-edit"; id: string }
  | { name: "deals" }
  | { name: "deal"; id: string }
  | { name: "conflicts" }
  | { name: "trash" }
  | { name: "import" }
  | { name: "duplicates" }
  | { name: "reminders" }
  | { name: "tickets" }
  | { name: "ticket"; id: string }
  | { name: "segments" }
  | { name: "segment"; id: string }
  | { name: "segment-new" }
  | { name: "segment-edit"; id: string }
  | { name: "reports" }
  | { name: "audiences" }
  | { name: "settings" };

export type Section = "today" | "contacts" | "companies" | "deals" | "reminders" | "tickets" | "conflicts" | "trash" | "import" | "duplicates" | "segments" | "reports" | "settings";

export function parseRoute(hash: string): Route {
  const [path, query = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  const [section, id, action] = parts;
  // The app opens on Today.
  if (!section || section === "today") return { name: "today" };
  if (section === "conflicts") return { name: "conflicts" };
  if (section === "trash") return { name: "trash" };
  if (section === "import") return { name: "import" };
  if (section === "duplicates") return { name: "duplicates" };
  if (section === "deals") return id ? { name: "deal", id } : { name: "deals" };
  if (section === "reminders") return { name: "reminders" };
  if (section === "tickets") return id ? { name: "ticket", id } : { name: "tickets" };
  if (section === "settings") return { name: "settings" };
  if (section === "reports") return id === "audiences" ? { name: "audiences" } : { name: "reports" };
  if (section === "segments") {
    if (id === "new") return { name: "segment-new" };
    if (id && action === "edit") return { name: "segment-edit", id };
    if (id) return { name: "segment", id };
    return { name: "segments" };
  }
  if (section === "companies") {
    if (id === "new") return { name: "company-new" };
    if (id && action === "edit") return { name: "company-edit", id };
    if (id) return { name: "company", id };
    return { name: "companies" };
  }
  if (section === "contacts") {
    if (id === "new") return { name: "contact-new", companyId: params.get("company") };
    if (id && action === "edit") return { name: "contact-edit", id };
    if (id) return { name: "contact", id };
  }
  return { name: "contacts" };
}

export function href(route: Route): string {
  switch (route.name) {
    case "today":
      return "#/today";
    case "contacts":
      return "#/contacts";
    case "contact":
      return `#/contacts/${encodeURIComponent(route.id)}`;
    case "contact-new":
      return route.companyId
        ? `#/contacts/new?company=${encodeURIComponent(route.companyId)}`
        : "#/contacts/new";
    case "contact-edit":
      return `#/contacts/${encodeURIComponent(route.id)}/edit`;
    case "companies":
      return "#/companies";
    case "company":
      return `#/companies/${encodeURIComponent(route.id)}`;
    case "company-new":
      return "#/companies/new";
    case "company-edit":
      return `#/companies/${encodeURIComponent(route.id)}/edit`;
    case "deals":
      return "#/deals";
    case "deal":
      return `#/deals/${encodeURIComponent(route.id)}`;
    case "conflicts":
      return "#/conflicts";
    case "trash":
      return "#/trash";
    case "import":
      return "#/import";
    case "duplicates":
      return "#/duplicates";
    case "reminders":
      return "#/reminders";
    case "tickets":
      return "#/tickets";
    case "ticket":
      return `#/tickets/${encodeURIComponent(route.id)}`;
    case "segments":
      return "#/segments";
    case "segment":
      return `#/segments/${encodeURIComponent(route.id)}`;
    case "segment-new":
      return "#/segments/new";
    case "segment-edit":
      return `#/segments/${encodeURIComponent(route.id)}/edit`;
    case "reports":
      return "#/reports";
    case "audiences":
      return "#/reports/audiences";
    case "settings":
      return "#/settings";
  }
}

export function sectionOf(route: Route): Section {
  if (route.name === "today") return "today";
  if (route.name === "deals" || route.name === "deal") return "deals";
  if (route.name === "conflicts" || route.name === "settings" || route.name === "reminders") return route.name;
  if (route.name === "trash") return "trash";
  if (route.name === "import") return "import";
  if (route.name === "duplicates") return "duplicates";
  if (route.name === "tickets" || route.name === "ticket") return "tickets";
  if (route.name.startsWith("segment")) return "segments";
  if (route.name === "reports" || route.name === "audiences") return "reports";
  return route.name.startsWith("compan") ? "companies" : "contacts";
}
