// Tells the tailer when to look again. File-system events are only hints: they can be missed or
// coalesced (network and overlay file systems, inotify overflow), so a periodic poll is the safety net
// and the tailer's stat scan is the truth.
//
// node:fs's watch (one inotify watch on the directory), not chokidar: the API server appends to the
// active file hundreds of times a second, and chokidar 6 reconciles every event (a stat and a chain of
// promises per event); while a sink was down those promises outlived young collections and were ~55 % of
// what the main thread tenured, which grew its old generation by ~3 MB a minute (the 10-minute
// outage test). A hint needs only the event's kind and file name, which fs.watch gives as they come.
import { type FSWatcher, type Stats, statSync, watch } from 'node:fs';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';

/** `change`: a file's content changed (appends); `rename`: a name appeared or went; `poll`: the timer. */
export type WatchHint = 'change' | 'rename' | 'poll';

export interface DirectoryWatcherOptions {
  readonly dir: string;
  readonly pollIntervalMs: number;
  /** Called on every event and poll tick, with the file's path when the event names one; must not throw. */
  readonly onHint: (hint: WatchHint, path: string | undefined) => void;
  readonly log: Logger;
}

interface ActiveWatch {
  readonly watcher: FSWatcher;
  /** The directory watched: an inotify watch follows the inode, so a directory made anew needs a new one. */
  readonly dev: number;
  readonly ino: number;
}

export class DirectoryWatcher {
  readonly #options: DirectoryWatcherOptions;
  #watch: ActiveWatch | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** A watch that could not be set up is reported once, until one works again. */
  #failureReported = false;

  constructor(options: DirectoryWatcherOptions) {
    this.#options = options;
  }

  /** Starts polling and watching (the directory may not exist yet: it is watched once it does). */
  start(): void {
    this.#pollTimer = setInterval(() => {
      this.#options.onHint('poll', undefined);
      this.#keepWatching();
    }, this.#options.pollIntervalMs);
    this.#keepWatching();
  }

  close(): void {
    this.#closed = true;
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    this.#stopWatching();
  }

  /** True while a watch is set up (the tests ask). */
  get isWatching(): boolean {
    return this.#watch !== undefined;
  }

  /** Watches the directory that is at the path now: it may have appeared, gone, or been made anew. */
  #keepWatching(): void {
    if (this.#closed) return;
    let stats: Stats | undefined;
    try {
      stats = statSync(this.#options.dir, { throwIfNoEntry: false });
    } catch {
      stats = undefined;
    }
    const current = this.#watch;
    if (current !== undefined && stats?.dev === current.dev && stats.ino === current.ino) return;
    this.#stopWatching();
    if (stats?.isDirectory() !== true) return;
    this.#startWatching(stats);
  }

  #startWatching(stats: Stats): void {
    const { dir, log, onHint } = this.#options;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false, encoding: 'utf8' });
    } catch (error) {
      // ENOSPC (fs.inotify.max_user_watches) or EACCES: the poll still finds everything, later.
      if (!this.#failureReported)
        log.warn({ err: error, dir }, 'Cannot watch the audit log directory; polling only.');
      this.#failureReported = true;
      return;
    }
    this.#failureReported = false;
    const active: ActiveWatch = { watcher, dev: stats.dev, ino: stats.ino };
    this.#watch = active;
    const ownName = basename(dir);
    watcher.on('change', (eventType, filename) => {
      if (eventType === 'rename' && filename === ownName) {
        // The directory itself was removed or moved (inotify's DELETE_SELF / MOVE_SELF): the watch is dead
        // or follows it elsewhere. Watch what is at the path now; a new directory can have the old inode.
        if (this.#watch === active) this.#stopWatching();
        this.#keepWatching();
      }
      const path = typeof filename === 'string' && filename !== '' ? join(dir, filename) : undefined;
      onHint(eventType === 'change' ? 'change' : 'rename', path);
    });
    watcher.on('error', (error) => {
      log.warn(
        { err: error, dir },
        'Watching the audit log directory failed; polling until it can be watched again.',
      );
      if (this.#watch === active) this.#stopWatching();
    });
    // Whatever happened between the last poll and the watch starting.
    onHint('rename', undefined);
  }

  #stopWatching(): void {
    this.#watch?.watcher.close();
    this.#watch = undefined;
  }
}
