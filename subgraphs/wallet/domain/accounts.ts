import { In, type DataSource, type Repository } from "typeorm";
import { isTransientDatabaseError } from "../../../platform/db.js";
import { GroupCommit } from "../../../platform/group-commit.js";
import { AccountRow } from "../db/index.js";

export interface Balance {
  userId: string;
  coins: number;
  debt: number;
}

/** Reads issued at the same moment by different requests share one SELECT (at most two running). */
const COALESCED_READS = { maxSize: 256, maxWaitMs: 0, maxInFlight: 2 };

export class AccountService {
  readonly accounts: Repository<AccountRow>;
  private readonly current: GroupCommit<string, Balance>;
  private readSeq = 0;

  constructor(readonly dataSource: DataSource) {
    this.accounts = dataSource.getRepository(AccountRow);
    // Reads have no order to keep: every item gets its own order key.
    this.current = new GroupCommit(COALESCED_READS, (ids) => this.read(ids), () => String(++this.readSeq), isTransientDatabaseError);
  }

  /** Balances for many users in one SELECT; users without an account have an empty one. */
  async balances(userIds: readonly string[]): Promise<Balance[]> {
    const rows = userIds.length ? await this.accounts.find({ where: { userId: In([...new Set(userIds)]) } }) : [];
    const byId = new Map(rows.map((r) => [r.userId, r]));
    return userIds.map((userId) => {
      const r = byId.get(userId);
      return { userId, coins: r?.coins ?? 0, debt: r?.debt ?? 0 };
    });
  }

  /**
   * One user's balance as it is now, read after the call (sendGift's payload reads it after the send
   * committed). Concurrent calls from different requests are answered by one SELECT.
   */
  balanceNow(userId: string): Promise<Balance> {
    return this.current.submit(userId);
  }

  private async read(userIds: string[]): Promise<Balance[]> {
    const rows: { user_id: string; coins: string; debt: string }[] = await this.dataSource.query(
      `SELECT user_id, coins, debt FROM wallet.accounts WHERE user_id = ANY($1::text[])`,
      [[...new Set(userIds)]],
    );
    const byId = new Map(rows.map((r) => [r.user_id, r]));
    return userIds.map((userId) => {
      const r = byId.get(userId);
      return { userId, coins: Number(r?.coins ?? 0), debt: Number(r?.debt ?? 0) };
    });
  }
}
