import { SERVICE_HEADER, ServiceSigner, type ServiceCaller } from "../../platform/service-auth.js";
import { loadConfig } from "../../platform/config.js";

/** GraphQL over HTTP on a real socket (no subgraph imports, so any test can use it cheaply). */
export interface GraphQLResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
  headers: Headers;
}

export async function post<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  opts: {
    token?: string;
    headers?: Record<string, string>;
    /** Straight to a subgraph: sign as the gateway does for that subgraph (subgraphs answer only signed callers). */
    service?: "wallet" | "catalog" | "earnings";
  } = {},
): Promise<GraphQLResponse<T>> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.service ? await serviceHeaders(opts.service) : {}),
      ...opts.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: text }] };
  }
  return { status: res.status, data: body.data, errors: body.errors, headers: res.headers };
}

/** The WebSocket URL of an HTTP endpoint (graphql-ws shares the path). */
export function wsUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, "ws");
}

const signers = new Map<string, ServiceSigner>();

/** A signer with the test run's SERVICE_SECRET (the development default unless set), as `caller` (default the gateway). */
export function testSigner(caller: ServiceCaller = "gateway"): ServiceSigner {
  let s = signers.get(caller);
  if (!s) signers.set(caller, (s = new ServiceSigner(loadConfig(), caller)));
  return s;
}

/** The header that signs a request straight to `subgraph`, as the gateway would. */
export async function serviceHeaders(subgraph: "wallet" | "catalog" | "earnings", caller: ServiceCaller = "gateway"): Promise<Record<string, string>> {
  return { [SERVICE_HEADER]: await testSigner(caller).header(subgraph) };
}
