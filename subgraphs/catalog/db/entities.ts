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

  @Column({ name: "coin_cost", type: "integer" })
  coinCost: number;

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

export const entities = [GiftRow, CategoryRow];
