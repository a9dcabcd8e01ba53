// Tells the tailer when to look again. File-system events (chokidar) are only hints: they can be
// missed or coalesced (network and overlay file systems, inotify overflow), so a periodic poll is
// the safety net and the tailer's stat scan is the truth.
import { watch, type FSWatcher } from 'chokidar';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';

const READY_TIMEOUT_MS = 2000;

export type WatchHint = 'change' | 'add' | 'unlink' | 'poll';

export interface DirectoryWatcherOptions {
  readonly dir: string;
  readonly pollIntervalMs: number;
  /** Called on every event and poll tick; must not throw. */
  readonly onHint: (hint: WatchHint, path: string | undefined) => void;
  readonly log: Logger;
}

export class DirectoryWatcher {
  readonly #options: DirectoryWatcherOptions;
  #fsWatcher: FSWatcher | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: DirectoryWatcherOptions) {
    this.#options = options;
  }

  /** Starts polling and watching; resolves once the watcher is ready (events before that are missed). */
  async start(): Promise<void> {
    this.#pollTimer = setInterval(() => {
      this.#options.onHint('poll', undefined);
      // The directory may not exist yet (API server not started): watch it once it does.
      if (this.#fsWatcher === undefined) void this.#tryWatch();
    }, this.#options.pollIntervalMs);
    await this.#tryWatch();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    const watcher = this.#fsWatcher;
    this.#fsWatcher = undefined;
    await watcher?.close();
  }

  #isWatchingOrClosed(): boolean {
    return this.#fsWatcher !== undefined || this.#closed;
  }

  async #tryWatch(): Promise<void> {
    if (this.#fsWatcher !== undefined || this.#closed) return;
    try {
      if (!(await stat(this.#options.dir)).isDirectory()) return;
    } catch {
      return;
    }
    // Re-checked: close() or another attempt may have run during the await.
    if (this.#isWatchingOrClosed()) return;
    const watcher = watch(this.#options.dir, {
      depth: 0,
      ignoreInitial: true,
      persistent: true,
      atomic: false,
    });
    this.#fsWatcher = watcher;
    watcher.on('all', (event, path) => {
      if (event === 'change' || event === 'add' || event === 'unlink') this.#options.onHint(event, path);
      else this.#options.onHint('add', undefined);
    });
    watcher.on('error', (error) => {
      this.#options.log.warn(
        { err: error, dir: this.#options.dir },
        'File watcher failed; relying on polling.',
      );
    });
    // Bounded: the poll covers whatever the watcher misses while it starts.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, READY_TIMEOUT_MS);
      watcher.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // A write to the active file may have landed while the watcher started.
    this.#options.onHint('add', undefined);
  }
}
