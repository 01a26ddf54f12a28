// The few parts of oidc-provider (no bundled types) that test/helpers/oidc-provider.ts uses.
declare module 'oidc-provider' {
  import type { Server } from 'node:http';

  export interface Grant {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    save(): Promise<string>;
  }

  export interface InteractionContext {
    oidc: {
      client: { clientId: string };
      session: { accountId: string; grantIdFor(clientId: string): string | undefined };
      result?: { consent?: { grantId?: string } };
      provider: Provider;
    };
  }

  export interface Configuration {
    clients: Array<Record<string, unknown>>;
    claims?: Record<string, string[]>;
    cookies?: { keys: string[] };
    features?: Record<string, unknown>;
    findAccount?: (ctx: unknown, id: string) => Promise<{ accountId: string; claims: (use: string, scope: string) => Promise<Record<string, unknown>> } | undefined>;
    loadExistingGrant?: (ctx: InteractionContext) => Promise<Grant | undefined>;
    pkce?: { required?: () => boolean };
    ttl?: Record<string, number>;
  }

  export class Provider {
    constructor(issuer: string, configuration: Configuration);
    Grant: { new (input: { clientId: string; accountId: string }): Grant; find(id: string): Promise<Grant | undefined> };
    proxy: boolean;
    listen(port: number, host: string, callback?: () => void): Server;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
