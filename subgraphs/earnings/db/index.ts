import { CreateEarnings1732300000000 } from "./migrations/1732300000000-CreateEarnings.js";
export { entities, CreatorRow } from "./entities.js";

/** Applied in order; append, never edit a migration that has shipped. */
export const migrations = [CreateEarnings1732300000000];
