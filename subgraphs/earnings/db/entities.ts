import { Column, CreateDateColumn, Entity, PrimaryColumn } from "typeorm";

/** A user who has acted as a host at least once. */
@Entity({ name: "creators" })
export class CreatorRow {
  @PrimaryColumn()
  id: string;

  @Column({ name: "display_name" })
  displayName: string;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt: Date;
}

export const entities = [CreatorRow];
