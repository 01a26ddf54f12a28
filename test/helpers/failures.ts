import { createServer } from 'node:net';
import { HoistError } from '../../src/errors.js';

/** The HoistError a call fails with; anything else (or success) fails the test. */
export async function hoistFailure(promise: Promise<unknown>): Promise<HoistError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HoistError) return error;
    throw error;
  }
  throw new Error('expected the call to fail with a HoistError');
}

/** A loopback port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
