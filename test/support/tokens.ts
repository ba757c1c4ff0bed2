import { mintToken, type TokenClaims } from "../../platform/auth.js";

/**
 * A user's token as the tests' identity provider issues it: named after `sub`, a viewer in the US,
 * adult; `claims` over that (`{ roles: ["viewer", "host"] }`, `{ adult: false }`, `{ region: "DE" }`).
 */
export function tokenFor(sub: string, claims: Partial<TokenClaims> = {}, opts?: Parameters<typeof mintToken>[1]): Promise<string> {
  return mintToken({ sub, name: sub, roles: ["viewer"], region: "US", adult: true, ...claims }, opts);
}
