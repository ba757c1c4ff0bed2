import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Every gateway instance LISTENs on `partner_key_changed` (payload: the key id) and re-checks its
 * open partner sockets of that key at once. A trigger, not application code, so an operator's
 * SQL revocation ends streams too (the same choice as the catalog's NOTIFY, DECISIONS 6).
 */
export class PartnerKeyChangeNotify1733100000000 implements MigrationInterface {
  name = "PartnerKeyChangeNotify1733100000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION partners.notify_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('partner_key_changed', CASE WHEN TG_OP = 'DELETE' THEN OLD.key_id ELSE NEW.key_id END);
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER api_keys_changed AFTER UPDATE OF revoked_at, expires_at ON partners.api_keys
        FOR EACH ROW WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR NEW.expires_at IS DISTINCT FROM OLD.expires_at)
        EXECUTE FUNCTION partners.notify_key_changed()`);
    await q.query(`
      CREATE TRIGGER api_keys_deleted AFTER DELETE ON partners.api_keys
        FOR EACH ROW EXECUTE FUNCTION partners.notify_key_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER api_keys_deleted ON partners.api_keys`);
    await q.query(`DROP TRIGGER api_keys_changed ON partners.api_keys`);
    await q.query(`DROP FUNCTION partners.notify_key_changed()`);
  }
}
