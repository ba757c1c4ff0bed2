import type { MigrationInterface, QueryRunner } from "typeorm";

/** The gateway's own schema: partner API keys (hashed) and their rate-limit state. */
export class CreatePartners1732301000000 implements MigrationInterface {
  name = "CreatePartners1732301000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE partners.api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        -- Public half of the key (gep_<key_id>_<secret>): finds the row without scanning hashes.
        key_id text NOT NULL UNIQUE CHECK (key_id ~ '^[0-9a-f]{16}$'),
        partner text NOT NULL CHECK (partner ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
        -- SHA-256 of the whole key; the key itself is shown once and never stored.
        secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
        rate_limit_per_minute integer NOT NULL CHECK (rate_limit_per_minute BETWEEN 1 AND 1000000),
        burst integer NOT NULL CHECK (burst BETWEEN 1 AND 1000000),
        created_at timestamptz NOT NULL DEFAULT now(),
        -- Rotation grace: the old key keeps working until then. Revocation sets it to the revoke time.
        expires_at timestamptz,
        revoked_at timestamptz,
        replaced_by uuid REFERENCES partners.api_keys(id),
        last_used_at timestamptz
      )`);
    await q.query(`CREATE INDEX api_keys_partner_idx ON partners.api_keys (partner, created_at)`);
    // GCRA state per key: the theoretical arrival time of the next request.
    await q.query(`
      CREATE TABLE partners.rate_limits (
        key_uuid uuid PRIMARY KEY REFERENCES partners.api_keys(id) ON DELETE CASCADE,
        tat timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE partners.rate_limits`);
    await q.query(`DROP TABLE partners.api_keys`);
  }
}
