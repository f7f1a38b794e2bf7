import type { Contact } from "../types/Contact";
import type { ContactInput } from "../types/ContactInput";
import type { ContactPage } from "../types/ContactPage";
import type { ContactQuery } from "../types/ContactQuery";
import { call } from "./ipc";

export function listContacts(query: ContactQuery): Promise<ContactPage> {
  return call("list_contacts", { query });
}

export function getContact(id: string): Promise<Contact> {
  return call("get_contact", { id });
}

export function createContact(input: ContactInput): Promise<Contact> {
  return call("create_contact", { input });
}

export function updateContact(id: string, input: ContactInput): Promise<Contact> {
  return call("update_contact", { id, input });
}

export function deleteContact(id: string): Promise<void> {
  return call("delete_contact", { id });
}
