import type { MigrationInterface, QueryRunner } from "typeorm";

export class CreateCatalog1732300000000 implements MigrationInterface {
  name = "CreateCatalog1732300000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE catalog.categories (
        key text PRIMARY KEY CHECK (key ~ '^[A-Z][A-Z0-9_]{1,31}$'),
        name text NOT NULL,
        sort_order integer NOT NULL DEFAULT 0
      )`);
    await q.query(`
      CREATE TABLE catalog.gifts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        description text NOT NULL DEFAULT '',
        coin_cost integer NOT NULL CHECK (coin_cost BETWEEN 1 AND 1000000),
        category text NOT NULL REFERENCES catalog.categories(key),
        image_path text NOT NULL,
        animation_path text,
        streakable boolean NOT NULL DEFAULT false,
        available_from timestamptz,
        available_until timestamptz,
        regions text[],
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'RETIRED')),
        sort_order integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (available_until IS NULL OR available_from IS NULL OR available_until > available_from)
      )`);
    await q.query(`CREATE INDEX gifts_listing ON catalog.gifts (status, sort_order, coin_cost)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE catalog.gifts`);
    await q.query(`DROP TABLE catalog.categories`);
  }
}
