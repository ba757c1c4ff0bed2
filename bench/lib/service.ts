import { SERVICE_HEADER, ServiceSigner, type ServiceCaller } from "../../platform/service-auth.js";

/**
 * Headers that sign a bench request straight to a subgraph (subgraphs answer only signed
 * callers). `get()` is synchronous (autocannon builds requests synchronously) and always
 * returns a credential with at least half its lifetime left: it is refreshed in the background.
 */
export async function signedHeaders(serviceSecret: string, subgraph: string, caller: ServiceCaller = "gateway"): Promise<{ get(): Record<string, string>; stop(): void }> {
  const signer = new ServiceSigner({ serviceSecret }, caller);
  let current = await signer.header(subgraph);
  const timer = setInterval(() => void signer.header(subgraph).then((h) => (current = h)), 5_000);
  timer.unref();
  return { get: () => ({ [SERVICE_HEADER]: current }), stop: () => clearInterval(timer) };
}
