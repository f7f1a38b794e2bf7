import type { Ticket } from "../types/Ticket";
import type { TicketComment } from "../types/TicketComment";
import type { TicketDetail } from "../types/TicketDetail";
import type { TicketInput } from "../types/TicketInput";
import type { TicketPage } from "../types/TicketPage";
import type { TicketQuery } from "../types/TicketQuery";
import type { TicketStatus } from "../types/TicketStatus";
import { call } from "./ipc";

export function listTickets(query: TicketQuery): Promise<TicketPage> {
  return call("list_tickets", { query });
}

/** A ticket with its comments, oldest first. */
export function getTicket(id: string): Promise<TicketDetail> {
  return call("get_ticket", { id });
}

export function createTicket(input: TicketInput): Promise<Ticket> {
  return call("create_ticket", { input });
}

export function updateTicket(id: string, input: TicketInput): Promise<Ticket> {
  return call("update_ticket", { id, input });
}

/** Resolving or closing sets `closed_at`; reopening clears it. */
export function setTicketStatus(id: string, status: TicketStatus): Promise<Ticket> {
  return call("set_ticket_status", { id, status });
}

export function deleteTicket(id: string): Promise<void> {
  return call("delete_ticket", { id });
}

export function commentTicket(id: string, body: string): Promise<TicketComment> {
  return call("comment_ticket", { id, body });
}

export function deleteTicketComment(id: string): Promise<void> {
  return call("delete_ticket_comment", { id });
}

/** The current user's name (the signed-in email, else `me`), as assignees are named. */
export function currentUser(): Promise<string> {
  return call("current_user");
}
