import type { Company } from "../types/Company";
import type { CompanyInput } from "../types/CompanyInput";
import type { CompanyPage } from "../types/CompanyPage";
import type { CompanyQuery } from "../types/CompanyQuery";
import { call } from "./ipc";

export function listCompanies(query: CompanyQuery): Promise<CompanyPage> {
  return call("list_companies", { query });
}

export function getCompany(id: string): Promise<Company> {
  return call("get_company", { id });
}

export function createCompany(input: CompanyInput): Promise<Company> {
  return call("create_company", { input });
}

export function updateCompany(id: string, input: CompanyInput): Promise<Company> {
  return call("update_company", { id, input });
}

export function deleteCompany(id: string): Promise<void> {
  return call("delete_company", { id });
}
