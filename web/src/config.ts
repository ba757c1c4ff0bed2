/** Served by the web server at /config.json: where the gateway is (never hard-coded in the bundle). */
export interface AppConfig {
  gatewayUrl: string;
  gatewayWsUrl: string;
  /** Development only: the dev sign-in (POST /dev/token) exists. */
  devSignIn: boolean;
}

export async function loadAppConfig(): Promise<AppConfig> {
  const res = await fetch("/config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  return (await res.json()) as AppConfig;
}
