// A portal's flow written against the types generated from openapi.json, with no hand edits:
// log in, list with filters, open a ticket with a file, reply, read the timeline, close.
// `npm run check` regenerates src/schema.ts and type-checks this file (CI runs it).
import type { components, paths } from "./schema";
import { ProblemType, Severity, TicketStatus, TicketType, Visibility } from "./schema";

type Schemas = components["schemas"];
type Json<T> = Promise<T>;

const API = "/api/v1";

export class Portal {
  private token = "";

  constructor(private readonly base: string) {}

  private headers(): Record<string, string> {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  private async json<T>(path: string, init: RequestInit = {}): Json<T> {
    const r = await fetch(`${this.base}${API}${path}`, {
      ...init,
      headers: { ...this.headers(), ...(init.headers as Record<string, string> | undefined) },
    });
    if (!r.ok) {
      const problem = (await r.json()) as Schemas["Problem"];
      throw new ProblemError(problem);
    }
    return (await r.json()) as T;
  }

  async login(email: string, password: string): Promise<void> {
    const body: Schemas["LoginRequest"] = { email, password };
    const token = await this.json<Schemas["TokenRead"]>("/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    this.token = token.access_token;
  }

  async list(
    filters: NonNullable<paths["/api/v1/tickets"]["get"]["parameters"]["query"]>,
  ): Promise<Schemas["Page_TicketItem_"]> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) {
      for (const one of Array.isArray(value) ? value : [value]) {
        if (one !== undefined && one !== null) query.append(name, String(one));
      }
    }
    return this.json(`/tickets?${query}`);
  }

  async counts(): Promise<Schemas["StatusCounts"]> {
    return this.json("/tickets/counts");
  }

  async open(
    payload: paths["/api/v1/tickets"]["post"]["requestBody"]["content"]["multipart/form-data"]["payload"],
    file: Blob,
    filename: string,
  ): Promise<Schemas["TicketDetail"]> {
    const form = new FormData();
    form.append("payload", new Blob([JSON.stringify(payload)], { type: "application/json" }));
    form.append("files", file, filename);
    return this.json("/tickets", { method: "POST", body: form });
  }

  async reply(ticketId: number, body: Schemas["ReplyCreate"]): Promise<Schemas["ReplyRead"]> {
    return this.json(`/tickets/${ticketId}/replies`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  async timeline(ticketId: number, cursor?: string): Promise<Schemas["EventList"]> {
    return this.json(`/tickets/${ticketId}/events${cursor ? `?cursor=${cursor}` : ""}`);
  }

  async move(ticketId: number, change: Schemas["StatusChange"]): Promise<Schemas["TicketDetail"]> {
    return this.json(`/tickets/${ticketId}/status`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(change),
    });
  }
}

export class ProblemError extends Error {
  constructor(readonly problem: Schemas["Problem"]) {
    super(problem.detail);
  }

  get illegalMove(): boolean {
    return this.problem.type === ProblemType.URN_SPORTELLO_PROBLEM_ILLEGAL_TRANSITION;
  }
}

// Enums have readable member names (x-enum-varnames): TicketStatus.WAITING_CUSTOMER.
const STATUS_TAB: Record<TicketStatus, string> = {
  [TicketStatus.OPEN]: "Open",
  [TicketStatus.IN_PROGRESS]: "In progress",
  [TicketStatus.WAITING_CUSTOMER]: "Waiting for you",
  [TicketStatus.WAITING_THIRD_PARTY]: "Waiting for a third party",
  [TicketStatus.IMPROVEMENT]: "Improvement",
  [TicketStatus.RESOLVED]: "Resolved",
  [TicketStatus.CLOSED]: "Closed",
};

export async function portalFlow(base: string, screenshot: Blob): Promise<string[]> {
  const portal = new Portal(base);
  await portal.login("mario.rossi@example.com", "una-password-lunga");
  const page = await portal.list({ status: [TicketStatus.OPEN, TicketStatus.IN_PROGRESS], unread: true, limit: 20 });
  const rows = page.items.map(
    (t) =>
      `${t.number} ${t.subject} ${t.assignee?.name ?? "-"} ${t.category?.name ?? ""}` +
      ` ${t.reply_count} ${t.last_activity?.at ?? ""} ${t.unread ? "*" : ""}` +
      ` ${STATUS_TAB[t.status]} ${t.allowed_transitions.join(",")}`,
  );
  const counts = await portal.counts();
  rows.push(`${counts.total} ${counts.counts.open ?? 0}`);
  const ticket = await portal.open(
    {
      customer_code: "AGRI-BIANCHI",
      type: TicketType.TECHNICAL,
      subject: "La stampa non parte",
      description: "Allego la schermata.",
      severity: Severity.BLOCKING,
    },
    screenshot,
    "schermata.png",
  );
  rows.push(ticket.attachments.map((a) => a.filename).join(","));
  await portal.reply(ticket.id, {
    body: "Aggiungo un dettaglio.",
    visibility: Visibility.PUBLIC,
  });
  let cursor: string | null | undefined = undefined;
  do {
    const events: Schemas["EventList"] = await portal.timeline(ticket.id, cursor ?? undefined);
    rows.push(...events.items.map((e) => `${e.kind} ${e.actor?.name ?? "system"} ${e.to ?? ""}`));
    cursor = events.next_cursor;
  } while (cursor);
  try {
    const closed = await portal.move(ticket.id, { status: TicketStatus.CLOSED });
    rows.push(closed.status);
  } catch (error) {
    if (error instanceof ProblemError && error.illegalMove) rows.push("not allowed");
    else throw error;
  }
  return rows;
}
