import { Column, CreateDateColumn, Entity, PrimaryColumn } from "typeorm";

/** bigint columns hold amounts far below 2^53: read them as numbers. */
const bigintNumber = { to: (v: number) => v, from: (v: string | null) => (v === null ? 0 : Number(v)) };

/** A user who has acted as a host at least once. */
@Entity({ name: "creators" })
export class CreatorRow {
  @PrimaryColumn()
  id: string;

  @Column({ name: "display_name" })
  displayName: string;

  /** From the adult claim of the creator's token at creation/refresh; sendGift refuses hosts who may not receive. */
  @Column({ name: "can_receive_gifts" })
  canReceiveGifts: boolean;

  /** Region claim of the creator's token when they last acted as a host (creatorRankings(region)). */
  @Column({ type: "text", nullable: true })
  region: string | null;

  /** Spendable diamonds (the balance; CHECK >= 0). Moved only with a diamond_ledger entry. */
  @Column({ type: "bigint", transformer: bigintNumber })
  diamonds: number;

  @Column({ name: "lifetime_diamonds", type: "bigint", transformer: bigintNumber })
  lifetimeDiamonds: number;

  @Column({ name: "gifts_received", type: "bigint", transformer: bigintNumber })
  giftsReceived: number;

  @Column({ name: "coins_received", type: "bigint", transformer: bigintNumber })
  coinsReceived: number;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt: Date;

  @Column({ name: "updated_at", type: "timestamptz" })
  updatedAt: Date;
}

export const entities = [CreatorRow];
