import type { DataSource } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode, badInput } from "../../../platform/errors.js";
import type { CreatorService } from "./creators.js";
import { rows } from "./sql.js";

export type LiveSessionStatus = "LIVE" | "ENDED";

export interface LiveSessionRow {
  id: string;
  hostId: string;
  title: string;
  status: LiveSessionStatus;
  startedAt: Date;
  endedAt: Date | null;
  giftCount: number;
  coinsReceived: number;
  diamondsEarned: number;
  uniqueGifters: number;
  /** The host's region (from their token) when the session started. */
  region: string;
}

/** The live directory's page bound (Query.liveSessions). */
export const MAX_LIVE_PAGE = 50;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);

export const SESSION_COLUMNS = `id, host_id, title, status, started_at, ended_at, gift_count, coins_received, diamonds_earned, unique_gifters, region`;

export function toSession(r: Record<string, any>): LiveSessionRow {
  return {
    id: r.id,
    hostId: r.host_id,
    title: r.title,
    status: r.status,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    giftCount: Number(r.gift_count),
    coinsReceived: Number(r.coins_received),
    diamondsEarned: Number(r.diamonds_earned),
    uniqueGifters: Number(r.unique_gifters),
    region: r.region,
  };
}

export class LiveSessionService {
  constructor(
    private readonly ds: DataSource,
    private readonly creators: CreatorService,
  ) {}

  /** Starts a live session; a host has at most one at a time (the unique partial index decides races). */
  async start(user: AuthUser, title: string): Promise<LiveSessionRow> {
    const t = title.trim();
    if (t.length < 1 || t.length > 200) throw badInput("title must be 1 to 200 characters", ["input", "title"]);
    await this.creators.ensure(user);
    try {
      const [row] = await this.ds.query(`INSERT INTO earnings.live_sessions (host_id, title, region) VALUES ($1, $2, $3) RETURNING ${SESSION_COLUMNS}`, [user.id, t, user.region]);
      return toSession(row);
    } catch (e) {
      if ((e as { code?: string; constraint?: string }).constraint === "live_sessions_one_live") {
        const current = await this.current(user.id);
        throw new DomainError(ErrorCode.ALREADY_LIVE, `already live in session ${current?.id ?? "(ending)"}; end it first`);
      }
      throw e;
    }
  }

  /** Ends the host's session. Ending an already-ended session returns it unchanged (a retried request succeeds). */
  async end(user: AuthUser, id: string): Promise<LiveSessionRow> {
    if (!isUuid(id)) throw badInput("id is not a live session id", ["input", "id"]);
    const [found] = await this.ds.query(`SELECT ${SESSION_COLUMNS} FROM earnings.live_sessions WHERE id = $1`, [id]);
    // Someone else's session looks like no session: ids are not an oracle.
    if (!found || (found.host_id !== user.id && !user.roles.includes("admin"))) throw new DomainError(ErrorCode.NOT_FOUND, "no such live session");
    const [row] = await rows(
      this.ds,
      `UPDATE earnings.live_sessions SET status = 'ENDED', ended_at = now() WHERE id = $1 AND status = 'LIVE' RETURNING ${SESSION_COLUMNS}`,
      [id],
    );
    if (row) return toSession(row);
    return toSession((await this.ds.query(`SELECT ${SESSION_COLUMNS} FROM earnings.live_sessions WHERE id = $1`, [id]))[0]);
  }

  async byIds(ids: readonly string[]): Promise<(LiveSessionRow | null)[]> {
    const valid = [...new Set(ids.filter(isUuid))];
    const rows = valid.length ? await this.ds.query(`SELECT ${SESSION_COLUMNS} FROM earnings.live_sessions WHERE id = ANY($1::uuid[])`, [valid]) : [];
    const byId = new Map<string, LiveSessionRow>(rows.map((r: any) => [r.id, toSession(r)]));
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  }

  async current(hostId: string): Promise<LiveSessionRow | null> {
    const [row] = await this.ds.query(`SELECT ${SESSION_COLUMNS} FROM earnings.live_sessions WHERE host_id = $1 AND status = 'LIVE'`, [hostId]);
    return row ? toSession(row) : null;
  }

  /** Currently live sessions of many hosts in one query (DataLoader). */
  async currentByHosts(hostIds: readonly string[]): Promise<(LiveSessionRow | null)[]> {
    const rows = hostIds.length
      ? await this.ds.query(`SELECT ${SESSION_COLUMNS} FROM earnings.live_sessions WHERE host_id = ANY($1) AND status = 'LIVE'`, [[...new Set(hostIds)]])
      : [];
    const byHost = new Map<string, LiveSessionRow>(rows.map((r: any) => [r.host_id, toSession(r)]));
    return hostIds.map((h) => byHost.get(h) ?? null);
  }

  /** Newest first; `after` is the opaque cursor of the last item of the previous page. */
  async list(hostId: string, first: number, after?: string | null): Promise<{ nodes: LiveSessionRow[]; endCursor: string | null; hasNextPage: boolean }> {
    let cond = "";
    const params: unknown[] = [hostId, first + 1];
    if (after) {
      const c = decodeCursor(after);
      if (!c) throw badInput("after is not a cursor from this list", ["after"]);
      params.push(c);
      // Compare with the row's own timestamp (microseconds), not a rounded copy in the cursor.
      cond = `AND (started_at, id) < (SELECT started_at, id FROM earnings.live_sessions WHERE id = $3::uuid)`;
    }
    const found = await rows(
      this.ds,
      `SELECT ${SESSION_COLUMNS} FROM earnings.live_sessions WHERE host_id = $1 ${cond} ORDER BY started_at DESC, id DESC LIMIT $2`,
      params,
    );
    const nodes = found.slice(0, first).map(toSession);
    const last = nodes[nodes.length - 1];
    return { nodes, endCursor: last ? encodeCursor(last.id) : null, hasNextPage: found.length > first };
  }

  /**
   * Sessions live now, busiest first: coins received in the session so far, then distinct
   * gifters (the viewers who took part), then id so ties have a total, stable order. The
   * cursor carries the sort key as served (not re-read), so paging never loops on a tie; a
   * session whose totals change between two pages may move across the page boundary.
   */
  async listLive(first: number, after: string | null | undefined, region: string | null | undefined): Promise<{ nodes: LiveSessionRow[]; cursors: string[]; hasNextPage: boolean }> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_LIVE_PAGE) throw badInput(`first must be between 1 and ${MAX_LIVE_PAGE}`, ["first"]);
    if (region != null && !/^[A-Z]{2}$/.test(region)) throw badInput("region must be a two-letter code such as US", ["region"]);
    const params: unknown[] = [first + 1, region ?? null];
    let cond = "";
    if (after != null) {
      const c = decodeLiveCursor(after);
      if (!c) throw badInput("after is not a cursor from this list", ["after"]);
      params.push(c.coins, c.gifters, c.id);
      cond = `AND (coins_received < $3 OR (coins_received = $3 AND unique_gifters < $4) OR (coins_received = $3 AND unique_gifters = $4 AND id > $5::uuid))`;
    }
    const found = await rows(
      this.ds,
      `SELECT ${SESSION_COLUMNS} FROM earnings.live_sessions
        WHERE status = 'LIVE' AND ($2::text IS NULL OR region = $2) ${cond}
        ORDER BY coins_received DESC, unique_gifters DESC, id LIMIT $1`,
      params,
    );
    const nodes = found.slice(0, first).map(toSession);
    return { nodes, cursors: nodes.map(encodeLiveCursor), hasNextPage: found.length > first };
  }
}

export function encodeLiveCursor(s: Pick<LiveSessionRow, "coinsReceived" | "uniqueGifters" | "id">): string {
  return Buffer.from(`live:${s.coinsReceived}:${s.uniqueGifters}:${s.id}`).toString("base64url");
}

export function decodeLiveCursor(cursor: string): { coins: number; gifters: number; id: string } | null {
  if (cursor.length > 200) return null;
  const m = /^live:(\d{1,15}):(\d{1,9}):(.+)$/.exec(Buffer.from(cursor, "base64url").toString());
  return m && isUuid(m[3]) ? { coins: Number(m[1]), gifters: Number(m[2]), id: m[3] } : null;
}

/** Opaque page cursor: the last item's id (pages compare against that row's own sort key). */
export function encodeCursor(id: string): string {
  return Buffer.from(`c:${id}`).toString("base64url");
}

export function decodeCursor(cursor: string): string | null {
  const s = Buffer.from(cursor, "base64url").toString();
  const id = s.startsWith("c:") ? s.slice(2) : "";
  return isUuid(id) ? id : null;
}
