import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { isHoistError } from '../errors.js';

export interface WorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  /** How long a job may go without its lock being renewed before BullMQ treats its worker as dead. */
  lockDurationMs?: number;
}

/**
 * Runs `processor` for every job of `queueName`. Errors that are not worth retrying become
 * UnrecoverableError so BullMQ fails the job at once instead of burning its attempts.
 */
export function startWorker<Data, Result>(
  queueName: string,
  processor: (job: Job<Data, Result>) => Promise<Result>,
  options: WorkerOptions,
): Worker<Data, Result> {
  return new Worker<Data, Result>(
    queueName,
    async (job) => {
      try {
        return await processor(job);
      } catch (error) {
        if (isHoistError(error) && !error.retryable) throw new UnrecoverableError(error.message);
        throw error;
      }
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs ?? 30_000,
      // Check for jobs whose worker died as often as a lock can expire, so they resume promptly.
      stalledInterval: options.lockDurationMs ?? 30_000,
      // A job whose worker died mid-write is resumed (it finds its own trailer); only a job that keeps
      // killing workers is given up.
      maxStalledCount: 5,
      // Job ids carry the idempotency key, so keep finished ones long enough to absorb GitLab's resends.
      removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
      removeOnFail: { age: 30 * 24 * 3600, count: 100_000 },
    },
  );
}
