import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { call, CommandError } = await import("./ipc");
const { createContact } = await import("./contacts");

describe("ipc", () => {
  beforeEach(() => {
    invoke.mockReset();
  });

  it("passes command arguments through", async () => {
    invoke.mockResolvedValue({ total: 0, items: [] });
    await call("list_contacts", { query: { offset: 0 } });
    expect(invoke).toHaveBeenCalledWith("list_contacts", { query: { offset: 0 } });
  });

  it("turns a {code, message, fields} rejection into a CommandError", async () => {
    invoke.mockRejectedValue({
      code: "validation",
      message: "emails[0]: not an email",
      fields: [{ field: "emails[0]", message: "not an email" }],
    });
    const err = await createContact({} as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    const e = err as InstanceType<typeof CommandError>;
    expect(e.code).toBe("validation");
    expect(e.fieldMessage("emails[0]")).toBe("not an email");
    expect(e.fieldMap()).toEqual({ "emails[0]": "not an email" });
  });

  it("wraps anything else as an ipc error", async () => {
    invoke.mockRejectedValue("command list_contacts not found");
    const err = await call("list_contacts").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as InstanceType<typeof CommandError>).code).toBe("ipc");
  });
});
