import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { DataSource } from "typeorm";
import { GiftRow } from "../../subgraphs/catalog/db/index.js";
import { buildCatalogSchema } from "../../subgraphs/catalog/schema/index.js";

// type-graphql and TypeORM infer types from `design:type` metadata. If the build
// (Vite's transform or tsc) stops emitting it, these break first, and loudly.
describe("decorator metadata", () => {
  it("is emitted for properties without an explicit type", () => {
    expect(Reflect.getMetadata("design:type", GiftRow.prototype, "slug")).toBe(String);
    expect(Reflect.getMetadata("design:type", GiftRow.prototype, "streakable")).toBe(Boolean);
  });

  it("lets TypeORM infer column types (no ColumnTypeUndefinedError)", async () => {
    const ds = new DataSource({ type: "postgres", entities: [GiftRow] });
    await ds.buildMetadatas();
    const slug = ds.getMetadata(GiftRow).findColumnWithPropertyName("slug");
    expect(slug?.type).toBe(String);
  });

  it("lets type-graphql infer field types", async () => {
    const { sdl } = await buildCatalogSchema();
    expect(sdl).toMatch(/slug: String!/);
    expect(sdl).toMatch(/streakable: Boolean!/);
  });
});
