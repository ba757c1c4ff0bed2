import { CreateWallet1732300000000 } from "./migrations/1732300000000-CreateWallet.js";
export { entities, AccountRow } from "./entities.js";

/** Applied in order; append, never edit a migration that has shipped. */
export const migrations = [CreateWallet1732300000000];
