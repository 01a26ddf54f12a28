/**
 * Runs tasks one after another per key, so what is told about one promotion is handled in the order it was told,
 * while different promotions go on side by side. A task never rejects the chain: its failure goes to `onError`.
 */
export function createKeyedChains(onError: (key: string, error: unknown) => void) {
  const chains = new Map<string, Promise<void>>();
  return {
    run(key: string, task: () => Promise<void>): void {
      const next = (chains.get(key) ?? Promise.resolve()).then(task).catch((error: unknown) => onError(key, error));
      chains.set(key, next);
      void next.then(() => {
        if (chains.get(key) === next) chains.delete(key);
      });
    },
    /** Waits for the tasks in flight (shutdown, tests). */
    async flush(): Promise<void> {
      await Promise.all([...chains.values()]);
    },
  };
}

export type KeyedChains = ReturnType<typeof createKeyedChains>;
