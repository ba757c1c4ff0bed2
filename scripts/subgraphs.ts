import { catalog } from "../subgraphs/catalog/index.js";
import { earnings } from "../subgraphs/earnings/index.js";
import { wallet } from "../subgraphs/wallet/index.js";

/** Every subgraph definition, in composition order. */
export const SUBGRAPHS = { wallet, catalog, earnings } as const;
export type SubgraphKey = keyof typeof SUBGRAPHS;
