// Configuration is read and validated here, once; services never read process.env elsewhere.
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
  /** Browser origins allowed to call the HTTP endpoints (CORS_ORIGINS); `scheme://host:*` allows any port. */
  corsOrigins: string[];
  /** How long a browser may cache a preflight answer (CORS_MAX_AGE_SECONDS). */
  corsMaxAgeSeconds: number;
  /** The web app's static server port (WEB_PORT). */
  webPort: number;
  /** Where browsers load the web app (WEB_APP_URL): overlay links are built on it. */
  webAppUrl: string;
  /** The gateway URL the web app's browsers call (PUBLIC_GATEWAY_URL), served to the app as its config. */
  publicGatewayUrl: string;
}

/** Development default: the app's own origin plus any localhost port (Vite dev servers, tests). */
export const DEV_CORS_ORIGINS = ["http://localhost:*", "http://127.0.0.1:*"];
const ORIGIN_PATTERN = /^https?:\/\/[a-z0-9.-]+(:(\d{1,5}|\*))?$/i;

/**
 * CORS_ORIGINS: comma-separated origins (`https://app.example.com`, `http://localhost:*`).
 * Production allows no cross-origin caller unless listed, and never `*`: an allow-list, not a switch.
 */
function corsOrigins(env: NodeJS.ProcessEnv, mode: Config["env"], webAppUrl: string): string[] {
  const raw = env.CORS_ORIGINS;
  if (raw === undefined || raw.trim() === "") return mode === "production" ? [] : [new URL(webAppUrl).origin, ...DEV_CORS_ORIGINS];
  const list = raw.split(",").map((o) => o.trim().replace(/\/$/, "")).filter(Boolean);
  for (const o of list) {
    if (o === "*") throw new Error("CORS_ORIGINS must list origins; `*` is refused");
    if (!ORIGIN_PATTERN.test(o)) throw new Error(`CORS_ORIGINS: ${o} is not an origin (scheme://host[:port|:*])`);
  }
  return list;
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
  const webPort = int("WEB_PORT", 4080, env);
  const webAppUrl = (env.WEB_APP_URL || `http://localhost:${webPort}`).replace(/\/$/, "");
  const maxAge = Number(env.CORS_MAX_AGE_SECONDS ?? 600);
  if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > 86_400) throw new Error("CORS_MAX_AGE_SECONDS must be an integer 0..86400");
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
    cdnBaseUrl: (env.CDN_BASE_URL ?? "https://cdn.example.com/gifts").replace(/\/$/, ""),
    webhookSecret,
    logLevel: env.LOG_LEVEL ?? (mode === "test" ? "silent" : "info"),
    corsOrigins: corsOrigins(env, mode, webAppUrl),
    corsMaxAgeSeconds: maxAge,
    webPort,
    webAppUrl,
    publicGatewayUrl: env.PUBLIC_GATEWAY_URL || `http://localhost:${ports.gateway}/graphql`,
  };
}
