import { In, type DataSource, type Repository } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
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

  /**
   * A user with the host role becomes a creator the first time they act as one; later acts
   * refresh the display name and the adult claim. The UPDATE only happens when something
   * changed, so reading one's own profile does not rewrite the row every time.
   */
  async ensure(user: AuthUser): Promise<CreatorRow> {
    // Read first: the upsert locks the row even when nothing changes, and the consumer updates this row every batch.
    const existing = await this.creators.findOneBy({ id: user.id });
    if (existing && existing.displayName === user.name && existing.canReceiveGifts === user.adult && existing.region === user.region) return existing;
    await this.dataSource.query(
      `INSERT INTO earnings.creators AS c (id, display_name, can_receive_gifts, region) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, can_receive_gifts = EXCLUDED.can_receive_gifts, region = EXCLUDED.region, updated_at = now()
        WHERE (c.display_name, c.can_receive_gifts, c.region) IS DISTINCT FROM (EXCLUDED.display_name, EXCLUDED.can_receive_gifts, EXCLUDED.region)`,
      [user.id, user.name, user.adult, user.region],
    );
    return this.creators.findOneByOrFail({ id: user.id });
  }
}
