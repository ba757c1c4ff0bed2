// Configuration is read and validated here, once; services never read process.env elsewhere.
/** Where the gateway serves the repo's gift images (assets/gifts/). */
export const GIFT_ASSETS_PATH = "/assets/gifts";
export const DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef";

export interface Config {
  env: "development" | "production" | "test";
  databaseUrl: string | undefined;
  jwtSecret: string;
  jwtIssuer: string;
  jwtAudience: string;
  jwksUrl: string | undefined;
  ports: { gateway: number; wallet: number; catalog: number; earnings: number };
  /** Where each subgraph answers (WALLET_URL, CATALOG_URL, EARNINGS_URL): the gateway and owner reads call these. */
  subgraphUrls: { wallet: string; catalog: string; earnings: string };
  cdnBaseUrl: string;
  webhookSecret: string;
  logLevel: string;
}

function int(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got ${raw}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const mode = env.NODE_ENV === "production" ? "production" : env.NODE_ENV === "test" ? "test" : "development";
  const jwtSecret = env.JWT_SECRET ?? DEV_JWT_SECRET;
  const webhookSecret = env.PAYMENT_WEBHOOK_SECRET ?? "whsec_dev_only";
  if (mode === "production") {
    if (jwtSecret === DEV_JWT_SECRET && !env.JWKS_URL) throw new Error("JWT_SECRET must be set in production (the development secret is refused)");
    if (jwtSecret.length < 32) throw new Error("JWT_SECRET must be at least 32 characters");
    if (webhookSecret === "whsec_dev_only") throw new Error("PAYMENT_WEBHOOK_SECRET must be set in production");
  }
  const ports = {
    gateway: int("GATEWAY_PORT", 4000, env),
    wallet: int("WALLET_PORT", 4001, env),
    catalog: int("CATALOG_PORT", 4002, env),
    earnings: int("EARNINGS_PORT", 4003, env),
  };
  return {
    env: mode,
    databaseUrl: env.DATABASE_URL || undefined,
    jwtSecret,
    jwtIssuer: env.JWT_ISSUER ?? "gift-economy-idp",
    jwtAudience: env.JWT_AUDIENCE ?? "gift-economy",
    jwksUrl: env.JWKS_URL || undefined,
    ports,
    subgraphUrls: {
      wallet: env.WALLET_URL || `http://127.0.0.1:${ports.wallet}/graphql`,
      catalog: env.CATALOG_URL || `http://127.0.0.1:${ports.catalog}/graphql`,
      earnings: env.EARNINGS_URL || `http://127.0.0.1:${ports.earnings}/graphql`,
    },
    // Default: the gift images the repo ships, served by the gateway (gateway/assets.ts). A CDN overrides it.
    cdnBaseUrl: (env.CDN_BASE_URL || `http://127.0.0.1:${ports.gateway}${GIFT_ASSETS_PATH}`).replace(/\/$/, ""),
    webhookSecret,
    logLevel: env.LOG_LEVEL ?? (mode === "test" ? "silent" : "info"),
  };
}
