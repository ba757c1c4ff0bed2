import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { SERVICE_HEADER, type ServiceSigner, type SignedIdentity } from "../platform/service-auth.js";

/** What every gateway context carries for its subgraph calls (the HTTP gateway's, the partner endpoint's, the subscription executor's). */
export interface ForwardedCaller {
  /** The caller's Authorization header, forwarded as is: subgraphs verify it again and authorize by it. */
  authorization?: string;
  /** The request id, so a subgraph's logs and masked errors name the same request. */
  requestId?: string;
}

/** A caller the gateway's credential vouches for instead of a user token (a partner key), and headers that tag its calls. */
export interface VouchedCaller {
  identity: SignedIdentity;
  headers?: Record<string, string>;
}

export type DataSourceConfig<C extends ForwardedCaller> = NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource<C>>[0]>;

/**
 * The one data source from the gateway to a subgraph: signs every request with the gateway's
 * service credential (subgraphs answer only signed callers), forwards the caller's Authorization
 * and request id, and never retries (mutations move money). With `vouchFor`, a context it
 * answers for is signed with that identity in the credential instead (no user token is forwarded:
 * the partner endpoint).
 */
export class ForwardingDataSource<C extends ForwardedCaller = ForwardedCaller> extends RemoteGraphQLDataSource<C> {
  constructor(
    private readonly subgraph: string,
    private readonly signer: ServiceSigner,
    config: DataSourceConfig<C>,
    private readonly vouchFor?: (context: Partial<C>) => VouchedCaller | undefined,
  ) {
    super(config);
  }

  async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<C>): Promise<void> {
    const ctx = context as Partial<C>;
    const headers = request.http?.headers;
    const vouched = this.vouchFor?.(ctx);
    if (vouched) {
      for (const [k, v] of Object.entries(vouched.headers ?? {})) headers?.set(k, v);
      headers?.set(SERVICE_HEADER, `Bearer ${await this.signer.tokenFor(this.subgraph, vouched.identity)}`);
    } else {
      headers?.set(SERVICE_HEADER, await this.signer.header(this.subgraph));
      if (ctx.authorization) headers?.set("authorization", ctx.authorization);
    }
    if (ctx.requestId) headers?.set("x-request-id", ctx.requestId);
  }
}
