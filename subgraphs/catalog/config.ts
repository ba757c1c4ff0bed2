import { GIFT_ASSETS_PATH, loadConfig, type Config } from "../../platform/config.js";

/** The catalog's own settings, read and validated once (process.env is read only in config modules). */
export interface CatalogConfig {
  /**
   * CDN_BASE_URL, without a trailing slash: gift images and animations are stored as paths under
   * it and turned into URLs at read time, so moving the CDN is a configuration change. Default:
   * the SVGs the repo ships, served by the gateway (gateway/ide.ts) at GIFT_ASSETS_PATH.
   */
  cdnBaseUrl: string;
}

export function loadCatalogConfig(env: NodeJS.ProcessEnv = process.env, base: Config = loadConfig(env)): CatalogConfig {
  return {
    cdnBaseUrl: (env.CDN_BASE_URL || `http://127.0.0.1:${base.ports.gateway}${GIFT_ASSETS_PATH}`).replace(/\/$/, ""),
  };
}
