// How the image runs the forwarder: the built entry point (dist/, which `npm ci` builds), the Node flags of
// the image's NODE_OPTIONS and its malloc tuning (MALLOC_*), read from the Dockerfile so that measurements
// follow what ships.
import { readFileSync } from 'node:fs';

export const BUILT_MAIN = new URL('../../dist/main.js', import.meta.url).pathname;

function dockerfile(): string {
  return readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
}

/** The image's CMD: node's arguments (the entrypoint is node), its own flags first. */
export function shippedCommand(): string[] {
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile())?.[1];
  if (cmd === undefined) throw new Error('the Dockerfile has no CMD in exec form');
  return JSON.parse(cmd) as string[];
}

/** Node flags as the image runs node: CMD's own (those NODE_OPTIONS does not allow), then NODE_OPTIONS. */
export function shippedNodeFlags(): string[] {
  const options = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(dockerfile())?.[1];
  if (options === undefined) throw new Error('the Dockerfile sets no NODE_OPTIONS');
  const command = shippedCommand();
  const main = command.findIndex((arg) => !arg.startsWith('--'));
  return [...command.slice(0, main), ...options.split(' ').filter((flag) => flag !== '')];
}

/** The image's MALLOC_* variables (glibc malloc tuning), for the forwarder's environment. */
export function shippedMallocEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of dockerfile().split('\n')) {
    if (!line.startsWith('ENV ')) continue;
    for (const [, name, value] of line.matchAll(/\b(MALLOC_[A-Z_]+)=(\d+)/g)) {
      if (name !== undefined && value !== undefined) env[name] = value;
    }
  }
  if (Object.keys(env).length === 0) throw new Error('the Dockerfile sets no MALLOC_* variables');
  return env;
}
