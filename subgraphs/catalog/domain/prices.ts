import type { DataSource } from "typeorm";

export type PriceChangeReason = "INITIAL" | "UPDATE" | "SCHEDULED";

/** One price of one gift with its validity interval [validFrom, validUntil). */
export interface PricePeriod {
  id: string;
  giftId: string;
  coinCost: number;
  validFrom: Date;
  /** When the next period of this gift starts; null = open-ended. */
  validUntil: Date | null;
  reason: PriceChangeReason;
  note: string | null;
  changedBy: string | null;
  /** When the change was recorded (for a scheduled change: when it was scheduled). */
  recordedAt: Date;
}

function toPeriod(r: any): PricePeriod {
  return {
    id: String(r.id),
    giftId: r.gift_id,
    coinCost: r.coin_cost,
    validFrom: r.effective_from,
    validUntil: r.valid_until ?? null,
    reason: r.reason,
    note: r.note,
    changedBy: r.changed_by,
    recordedAt: r.created_at,
  };
}

/** A human explanation of why this price was in force, for support and audit. */
export function explainPeriod(p: PricePeriod): string {
  const when = p.validFrom.toISOString();
  const by = p.changedBy ? ` by ${p.changedBy}` : "";
  const note = p.note ? ` (${p.note})` : "";
  const until = p.validUntil ? ` until ${p.validUntil.toISOString()}` : "";
  switch (p.reason) {
    case "INITIAL":
      return `Initial price of ${p.coinCost} coins, in force from ${when}${until}${note}.`;
    case "UPDATE":
      return `Price changed to ${p.coinCost} coins${by} at ${when}${until}${note}.`;
    case "SCHEDULED":
      return `Scheduled price change to ${p.coinCost} coins, recorded${by} at ${p.recordedAt.toISOString()}, in force from ${when}${until}${note}.`;
  }
}

export class PriceService {
  constructor(readonly dataSource: DataSource) {}

  /** Every period (past, current and scheduled) of each gift, oldest first: one query for any number of gifts. */
  async historyFor(giftIds: readonly string[]): Promise<PricePeriod[][]> {
    const rows = giftIds.length
      ? await this.dataSource.query(
          `SELECT p.*, lead(p.effective_from) OVER (PARTITION BY p.gift_id ORDER BY p.effective_from) AS valid_until
             FROM catalog.gift_prices p WHERE p.gift_id = ANY($1::uuid[])
            ORDER BY p.gift_id, p.effective_from`,
          [[...new Set(giftIds)]],
        )
      : [];
    const byGift = new Map<string, PricePeriod[]>();
    for (const r of rows) {
      const p = toPeriod(r);
      const list = byGift.get(p.giftId);
      if (list) list.push(p);
      else byGift.set(p.giftId, [p]);
    }
    return giftIds.map((id) => byGift.get(id) ?? []);
  }

  /** The period in force for each (gift, instant): one query for any number of pairs; null before the gift had a price. */
  async at(pairs: readonly { giftId: string; at: Date }[]): Promise<(PricePeriod | null)[]> {
    if (pairs.length === 0) return [];
    const rows = await this.dataSource.query(
      `SELECT q.idx, p.*, nx.effective_from AS valid_until
         FROM unnest($1::uuid[], $2::timestamptz[]) WITH ORDINALITY AS q(gift_id, at, idx)
         JOIN LATERAL (SELECT * FROM catalog.gift_prices
                        WHERE gift_id = q.gift_id AND effective_from <= q.at ORDER BY effective_from DESC LIMIT 1) p ON true
         LEFT JOIN LATERAL (SELECT effective_from FROM catalog.gift_prices
                        WHERE gift_id = q.gift_id AND effective_from > p.effective_from ORDER BY effective_from LIMIT 1) nx ON true`,
      [pairs.map((p) => p.giftId), pairs.map((p) => p.at)],
    );
    const out: (PricePeriod | null)[] = pairs.map(() => null);
    for (const r of rows) out[Number(r.idx) - 1] = toPeriod(r);
    return out;
  }
}
