import type { RequestIdVariables } from 'hono/request-id';

export type HttpEnv = { Variables: RequestIdVariables };
