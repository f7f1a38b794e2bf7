// Short confirmations ("Contact saved") and errors that have no field to sit by.

export type Toast = { id: number; kind: "success" | "error"; text: string };

export const toasts = $state<{ items: Toast[] }>({ items: [] });

let next = 1;

export function toast(text: string, kind: Toast["kind"] = "success", ms = 3200): void {
  const id = next++;
  toasts.items.push({ id, kind, text });
  setTimeout(() => dismiss(id), kind === "error" ? ms * 2 : ms);
}

export function dismiss(id: number): void {
  toasts.items = toasts.items.filter((t) => t.id !== id);
}
