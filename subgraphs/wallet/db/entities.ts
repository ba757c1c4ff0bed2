import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from "typeorm";

/** One coin account per user. Balances only move together with a ledger entry. */
@Entity({ name: "accounts" })
export class AccountRow {
  @PrimaryColumn({ name: "user_id" })
  userId: string;

  /** bigint arrives as a string from pg; parsed at the edge. */
  @Column({ type: "bigint", transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  coins: number;

  @Column({ type: "bigint", transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  debt: number;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  updatedAt: Date;
}

export const entities = [AccountRow];
