import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from "typeorm";

@Entity({ name: "gifts" })
export class GiftRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ unique: true })
  slug: string;

  @Column()
  name: string;

  @Column({ default: "" })
  description: string;

  @Column()
  category: string;

  @Column({ name: "image_path" })
  imagePath: string;

  @Column({ name: "animation_path", type: "text", nullable: true })
  animationPath: string | null;

  @Column({ default: false })
  streakable: boolean;

  @Column({ name: "available_from", type: "timestamptz", nullable: true })
  availableFrom: Date | null;

  @Column({ name: "available_until", type: "timestamptz", nullable: true })
  availableUntil: Date | null;

  /** null = everywhere. */
  @Column({ type: "text", array: true, nullable: true })
  regions: string[] | null;

  @Column({ default: "ACTIVE" })
  status: string;

  @Column({ name: "sort_order", type: "integer", default: 0 })
  sortOrder: number;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  updatedAt: Date;
}

@Entity({ name: "categories" })
export class CategoryRow {
  @Column({ primary: true })
  key: string;

  @Column()
  name: string;

  @Column({ name: "sort_order", type: "integer", default: 0 })
  sortOrder: number;
}

/** A price in force from `effectiveFrom` until the next period of the same gift starts. */
@Entity({ name: "gift_prices" })
export class GiftPriceRow {
  @PrimaryGeneratedColumn({ type: "bigint" })
  id: string;

  @Column({ name: "gift_id", type: "uuid" })
  giftId: string;

  @Column({ name: "coin_cost", type: "integer" })
  coinCost: number;

  @Column({ name: "effective_from", type: "timestamptz" })
  effectiveFrom: Date;

  @Column({ type: "text" })
  reason: "INITIAL" | "UPDATE" | "SCHEDULED";

  @Column({ type: "text", nullable: true })
  note: string | null;

  @Column({ name: "changed_by", type: "text", nullable: true })
  changedBy: string | null;

  @Column({ name: "created_at", type: "timestamptz" })
  createdAt: Date;
}

@Entity({ name: "regions" })
export class RegionRow {
  @Column({ primary: true })
  code: string;

  @Column()
  name: string;
}

export const entities = [GiftRow, CategoryRow, GiftPriceRow, RegionRow];
