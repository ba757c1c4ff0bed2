import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Seeded gifts pointed at `<slug>.png` / `<slug>.webm`, files nobody served. The repo now ships an
 * SVG image and an animated SVG for every seeded gift (assets/gifts/, served by the gateway), so
 * databases seeded before point at those. Only rows still holding the seed's own paths change;
 * an admin's image is left alone.
 */
export class LocalGiftAssets1732500000000 implements MigrationInterface {
  name = "LocalGiftAssets1732500000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE catalog.gifts SET image_path = slug || '.svg' WHERE image_path = slug || '.png'`);
    await q.query(`UPDATE catalog.gifts SET animation_path = slug || '-animation.svg' WHERE animation_path = slug || '.webm'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE catalog.gifts SET image_path = slug || '.png' WHERE image_path = slug || '.svg'`);
    await q.query(`UPDATE catalog.gifts SET animation_path = slug || '.webm' WHERE animation_path = slug || '-animation.svg'`);
  }
}
