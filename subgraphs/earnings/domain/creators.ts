import { In, type DataSource, type Repository } from "typeorm";
import type { AuthUser } from "../../common/auth.js";
import { CreatorRow } from "../db/index.js";

export class CreatorService {
  readonly creators: Repository<CreatorRow>;
  constructor(readonly dataSource: DataSource) {
    this.creators = dataSource.getRepository(CreatorRow);
  }

  async byIds(ids: readonly string[]): Promise<(CreatorRow | null)[]> {
    const rows = ids.length ? await this.creators.find({ where: { id: In([...new Set(ids)]) } }) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** A user with the host role becomes a creator the first time they act as one. */
  async ensure(user: AuthUser): Promise<CreatorRow> {
    await this.dataSource.query(
      `INSERT INTO earnings.creators (id, display_name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
      [user.id, user.name],
    );
    return (await this.creators.findOneByOrFail({ id: user.id }));
  }
}
