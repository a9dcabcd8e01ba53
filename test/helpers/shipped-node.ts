// How the image runs the forwarder: the built entry point (dist/, which `npm ci` builds) and the Node flags
// of the image's NODE_OPTIONS, read from the Dockerfile so that measurements follow what ships.
import { readFileSync } from 'node:fs';

export const BUILT_MAIN = new URL('../../dist/main.js', import.meta.url).pathname;

export function shippedNodeFlags(): string[] {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  const options = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(dockerfile)?.[1];
  if (options === undefined) throw new Error('the Dockerfile sets no NODE_OPTIONS');
  return options.split(' ').filter((flag) => flag !== '');
}
