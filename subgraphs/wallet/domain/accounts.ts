import { In, type DataSource, type Repository } from "typeorm";
import { AccountRow } from "../db/index.js";

export interface Balance {
  userId: string;
  coins: number;
  debt: number;
}

export class AccountService {
  readonly accounts: Repository<AccountRow>;
  constructor(readonly dataSource: DataSource) {
    this.accounts = dataSource.getRepository(AccountRow);
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
}
