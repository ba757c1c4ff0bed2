import { CreateCatalog1732300000000 } from "./migrations/1732300000000-CreateCatalog.js";
export { entities, GiftRow, CategoryRow } from "./entities.js";

/** Applied in order; append, never edit a migration that has shipped. */
export const migrations = [CreateCatalog1732300000000];
