import type { RequestIdVariables } from 'hono/request-id';
import type { Caller } from '../auth/identity.js';

export type HttpEnv = { Variables: RequestIdVariables & { caller?: Caller | undefined } };
