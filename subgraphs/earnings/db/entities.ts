import { Column, CreateDateColumn, Entity, PrimaryColumn } from "typeorm";

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

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt: Date;

  @Column({ name: "updated_at", type: "timestamptz" })
  updatedAt: Date;
}

export const entities = [CreatorRow];
