// The Dockerfile, without a Docker engine (none runs here): linted by dockerfile-utils (the Docker language
// service's validator), checked against helm.md §5, and its build stage replayed on the host: the same RUN lines
// in a scratch directory standing in for /app and /out, with this Node 24. The production tree it leaves must
// run dist/main.js (a runtime dependency left in devDependencies fails here) with the chart's config.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configText, forwarder, podSpec, renderedConfig, simulatedEnv, volume } from './support/manifests.ts';
import { waitFor } from '../../helpers/wait.ts';
import { removeScratch, render } from './support/render.ts';
import { ensureTools, type HelmTools, requireTools, skipNote, REPO_ROOT } from './support/tools.ts';

const lookup = ensureTools();
const SKIP = skipNote(lookup);
const DOCKERFILE = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8');
const PACKAGE = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Our own Dockerfile's structure: continuation lines joined, comments dropped, ARGs before FROM expanded. */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const keyword = line.split(/\s/, 1)[0]?.toUpperCase() ?? '';
    const args = line.slice(keyword.length).trim();
    const current = stages.at(-1);
    if (keyword === 'FROM') {
      const [image = '', , name] = args
        .replace(/\$\{(\w+)\}/g, (_match, arg: string) => globalArgs.get(arg) ?? '')
        .split(/\s+/);
      stages.push({ from: image, name, instructions: [] });
    } else if (current === undefined && keyword === 'ARG') {
      const [key = '', value = ''] = args.split('=');
      globalArgs.set(key, value);
    } else {
      current?.instructions.push({ keyword, args });
    }
  }
  return stages;
}

const STAGES = parseDockerfile(DOCKERFILE);
const BUILD = STAGES[0];
const RUNTIME = STAGES.at(-1);

function only(stage: Stage | undefined, keyword: string): Instruction[] {
  return stage?.instructions.filter((instruction) => instruction.keyword === keyword) ?? [];
}

const tools = (): HelmTools => requireTools(lookup);

describe.skipIf(SKIP !== '')(`the Dockerfile passes the Docker language service's validator${SKIP}`, () => {
  it('with every optional check at error level', () => {
    const utils = createRequire(join(tools().modules, 'dockerfile-utils', 'package.json'))(
      'dockerfile-utils',
    ) as {
      validate(
        content: string,
        settings: Record<string, number>,
      ): { message: string; range: { start: { line: number } } }[];
    };
    const ERROR = 2;
    const diagnostics = utils.validate(DOCKERFILE, {
      deprecatedMaintainer: ERROR,
      directiveCasing: ERROR,
      emptyContinuationLine: ERROR,
      instructionCasing: ERROR,
      instructionCmdMultiple: ERROR,
      instructionEntrypointMultiple: ERROR,
      instructionHealthcheckMultiple: ERROR,
      instructionJSONInSingleQuotes: ERROR,
      instructionWorkdirRelative: ERROR,
    });
    expect(
      diagnostics.map((diagnostic) => `line ${diagnostic.range.start.line + 1}: ${diagnostic.message}`),
    ).toEqual([]);
  });
});

describe('the Dockerfile follows the image checklist (helm.md §5)', () => {
  it('builds in a Node 24 stage and runs on Node 24 distroless', () => {
    expect(STAGES).toHaveLength(2);
    expect(BUILD?.name).toBe('build');
    expect(BUILD?.from).toMatch(/^node:24[-.]/);
    expect(RUNTIME?.from).toMatch(/^gcr\.io\/distroless\/nodejs24-debian\d+:nonroot(@sha256:[a-f0-9]{64})?$/);
  });

  it('installs from the lockfile, builds with npm run build, and keeps production dependencies only', () => {
    const runs = only(BUILD, 'RUN').map((instruction) => instruction.args);
    expect(runs[0]).toMatch(/^npm ci\b/);
    expect(runs).toContain('npm run build');
    expect(runs.some((run) => /npm ci --omit=dev --ignore-scripts/.test(run))).toBe(true);
    expect(DOCKERFILE).not.toMatch(/npm install/);
  });

  it('copies only package.json, the production node_modules and dist into the runtime image', () => {
    const copies = only(RUNTIME, 'COPY').map((instruction) => instruction.args.replace(/--chown=\S+ /, ''));
    expect(copies).toEqual([
      '--from=build /out/package.json ./package.json',
      '--from=build /out/node_modules ./node_modules',
      '--from=build /out/dist ./dist',
      '--from=build /out/state /var/lib/k8s-audit-forwarder',
    ]);
  });

  it('defaults to a non-root user, runs main.js in exec form (never npm start) and exposes the status port', () => {
    expect(only(RUNTIME, 'USER').map((instruction) => instruction.args)).toEqual(['65532:65532']);
    expect(only(RUNTIME, 'WORKDIR').map((instruction) => instruction.args)).toEqual(['/app']);
    const cmd = JSON.parse(only(RUNTIME, 'CMD')[0]?.args ?? 'null') as string[];
    // Node flags first (those NODE_OPTIONS does not allow), then the CLI.
    const main = cmd.findIndex((arg) => !arg.startsWith('--'));
    expect(cmd.slice(0, main)).toEqual(['--no-maglev', '--heap-growing-percent=100']);
    expect(cmd[main]).toBe(`/app/${PACKAGE.bin['k8s-audit-forwarder'] ?? ''}`);
    expect(cmd.slice(main + 1, main + 3)).toEqual(['run', '--config']);
    expect(cmd.join(' ')).not.toMatch(/\bnpm\b/);
    expect(only(RUNTIME, 'ENTRYPOINT')).toEqual([]);
    expect(only(RUNTIME, 'EXPOSE').map((instruction) => instruction.args)).toEqual(['9880']);
    expect(only(RUNTIME, 'ENV').map((instruction) => instruction.args)).toContain('NODE_ENV=production');
  });

  it('labels the image with the package version', () => {
    expect(DOCKERFILE).toContain(`ARG VERSION=${PACKAGE.version}`);
  });

  it('sends only what the build copies as context', () => {
    const rules = DOCKERIGNORE.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(rules[0]).toBe('*');
    expect(rules.slice(1).sort()).toEqual(
      [
        '!package-lock.json',
        '!package.json',
        '!src/',
        '!tsconfig.build.json',
        '!tsconfig.json',
        '!wasm/',
      ].sort(),
    );
    const contextCopies = only(BUILD, 'COPY').flatMap((instruction) =>
      instruction.args.split(/\s+/).slice(0, -1),
    );
    for (const source of contextCopies) expect(rules).toContain(`!${source.replace(/^(src|wasm)$/, '$1/')}`);
  });
});

const root = mkdtempSync(join(tmpdir(), 'kaf-image-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  removeScratch();
});
/** Container path → scratch path; RUN lines get the same rewrite for the directories this stage uses. */
const host = (path: string): string => join(root, path);
const rewrite = (command: string): string => command.replace(/(^|[\s=])\/(app|out)\b/g, `$1${root}/$2`);
let productionTree: string | undefined;

describe.skipIf(SKIP !== '')(`the Dockerfile's build stage, replayed on the host${SKIP}`, () => {
  it('leaves a production tree whose main.js runs and accepts the chart config', { timeout: 300_000 }, () => {
    let workdir = host('/');
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
    for (const { keyword, args } of BUILD?.instructions ?? []) {
      if (keyword === 'WORKDIR') {
        workdir = host(args);
        mkdirSync(workdir, { recursive: true });
      } else if (keyword === 'COPY') {
        const parts = args.split(/\s+/);
        const destination = parts.at(-1) ?? '.';
        const sources = parts.slice(0, -1);
        // Docker's rule: several sources, or a destination ending in "/", means "into this directory".
        const intoDirectory = sources.length > 1 || destination.endsWith('/');
        for (const source of sources) {
          const target = intoDirectory
            ? join(workdir, destination, basename(source))
            : join(workdir, destination);
          cpSync(join(REPO_ROOT, source), target, { recursive: true });
        }
      } else if (keyword === 'RUN') {
        const run = spawnSync('bash', ['-euo', 'pipefail', '-c', rewrite(args)], {
          cwd: workdir,
          env,
          encoding: 'utf8',
        });
        expect(
          run.status,
          `RUN ${args} failed:\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`,
        ).toBe(0);
      }
    }
    const out = host('/out');
    expect(existsSync(join(out, 'node_modules', 'typescript'))).toBe(false);
    const main = join(out, 'dist', 'main.js');
    const version = spawnSync(process.execPath, [main, '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(PACKAGE.version);
    // The Elasticsearch encoder's scan is WebAssembly that the build compiles: dist must hold it, and it must load.
    const scanModule = join(out, 'dist', 'pipeline', 'json-scan.js');
    const scanned = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { ObjectScan } = await import(${JSON.stringify(scanModule)});
process.stdout.write(String(new ObjectScan().scan(Buffer.from('{"a":[1,"x"]}'))));`,
      ],
      { encoding: 'utf8' },
    );
    expect(scanned.stdout, scanned.stderr).toBe('true');

    const objects = render(tools().helm3, { valuesFiles: ['file-sink-values.yaml'] });
    const config = join(root, 'forwarder.yaml');
    writeFileSync(config, configText(objects));
    const check = spawnSync(process.execPath, [main, 'check-config', '--config', config], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, NODE_ENV: 'production', ...simulatedEnv(objects) },
    });
    expect(check.stderr).toMatch(/configuration is valid/);
    productionTree = out;
  });
});

const BWRAP = ['/usr/bin/bwrap', '/bin/bwrap'].find((path) => existsSync(path));
const BWRAP_SKIP =
  BWRAP === undefined
    ? ' [skipped: bwrap not installed (.ci/helm-check.sh install: apt-get install bubblewrap)]'
    : '';

/**
 * The pod as the chart describes it, without a cluster: bwrap gives the production tree the rendered
 * DaemonSet's mounts (hostPath directories, ConfigMap files, emptyDir tmpfs), a read-only root, uid 0 with every
 * capability dropped and the container's environment; node sits at distroless's /nodejs/bin/node.
 */
describe.skipIf(SKIP !== '' || BWRAP_SKIP !== '')(
  `the production tree run in the chart's pod layout (bwrap)${SKIP || BWRAP_SKIP}`,
  () => {
    let child: ChildProcess | undefined;
    afterAll(() => {
      child?.kill('SIGKILL');
    });

    it('reads the 0600 audit log, ships it, checkpoints, answers the probes and stops cleanly on SIGTERM', {
      timeout: 120_000,
    }, async () => {
      expect(productionTree, 'the build-stage replay must pass first').toBeDefined();
      const port = await freePort();
      const objects = render(tools().helm3, {
        valuesFiles: ['file-sink-values.yaml'],
        values: { statusPort: port },
      });
      const pod = podSpec(objects);
      const container = forwarder(objects);
      expect(container.securityContext).toMatchObject({ runAsUser: 0, readOnlyRootFilesystem: true });
      expect(container.securityContext?.capabilities?.drop).toEqual(['ALL']);

      const hostRoot = host('/node');
      const args = [
        '--ro-bind',
        '/usr',
        '/usr',
        '--symlink',
        'usr/bin',
        '/bin',
        '--symlink',
        'usr/lib',
        '/lib',
      ];
      args.push('--symlink', 'usr/lib64', '/lib64', '--proc', '/proc', '--dev', '/dev');
      args.push(
        '--ro-bind',
        dirname(process.execPath),
        '/nodejs/bin',
        '--ro-bind',
        productionTree ?? '',
        '/app',
      );
      for (const volumeMount of container.volumeMounts ?? []) {
        const source = volume(objects, volumeMount.name);
        if (source.emptyDir) {
          args.push('--tmpfs', volumeMount.mountPath);
          continue;
        }
        let path: string;
        if (source.hostPath) {
          path = join(hostRoot, source.hostPath.path);
          mkdirSync(path, { recursive: true, mode: 0o700 });
        } else if (source.configMap) {
          path = join(root, 'configmaps', source.configMap.name);
          mkdirSync(path, { recursive: true });
          const data = objects.find(
            (object) => object.kind === 'ConfigMap' && object.metadata.name === source.configMap?.name,
          )?.data as Record<string, string>;
          for (const [file, content] of Object.entries(data)) writeFileSync(join(path, file), content);
        } else {
          throw new Error(`volume ${volumeMount.name}: no stand-in for this volume type`);
        }
        args.push(volumeMount.readOnly ? '--ro-bind' : '--bind', path, volumeMount.mountPath);
      }
      // Written the way the API server writes it: root-owned, 0600, in a 0700 directory.
      const auditHostDir = join(hostRoot, volume(objects, 'audit-log').hostPath?.path ?? '');
      const auditLines = [1, 2, 3].map((n) =>
        JSON.stringify({
          kind: 'Event',
          apiVersion: 'audit.k8s.io/v1',
          level: 'Metadata',
          auditID: `pod-test-${n}`,
          stage: 'ResponseComplete',
          requestURI: '/api/v1/namespaces/default/pods',
          verb: 'list',
          user: { username: 'kubernetes-admin' },
          requestReceivedTimestamp: `2026-01-01T00:00:0${n}.000000Z`,
          stageTimestamp: `2026-01-01T00:00:0${n}.100000Z`,
        }),
      );
      writeFileSync(join(auditHostDir, 'audit.log'), `${auditLines.join('\n')}\n`, { mode: 0o600 });
      chmodSync(auditHostDir, 0o700);

      args.push(
        '--remount-ro',
        '/',
        '--cap-drop',
        'ALL',
        '--die-with-parent',
        '--clearenv',
        '--chdir',
        '/app',
      );
      const env = { ...simulatedEnv(objects), PATH: '/nodejs/bin:/usr/bin' };
      for (const [name, value] of Object.entries(env)) args.push('--setenv', name, value);
      args.push('/nodejs/bin/node', ...(container.args ?? []));
      const bwrap = spawn(BWRAP ?? 'bwrap', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = bwrap;
      let output = '';
      bwrap.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
      bwrap.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
      const exited = new Promise<number | null>((resolve) =>
        bwrap.once('exit', (code) => {
          resolve(code);
        }),
      );

      const probe = async (path: string | undefined): Promise<number> =>
        fetch(`http://127.0.0.1:${port}${path ?? ''}`).then(
          (response) => response.status,
          () => 0,
        );
      await waitFor(async () => (await probe(container.readinessProbe?.httpGet?.path)) === 200, {
        timeoutMs: 30_000,
        what: `readiness (${container.readinessProbe?.httpGet?.path ?? ''}); output: ${output}`,
      });
      expect(await probe(container.livenessProbe?.httpGet?.path)).toBe(200);

      const stateHostDir = join(hostRoot, volume(objects, 'state').hostPath?.path ?? '');
      const sinkPath = renderedConfig(objects).sinks[0]?.path ?? '';
      const shipped = join(stateHostDir, relative(renderedConfig(objects).state.dir, sinkPath));
      let events: { auditID: string; node: string; cluster: string }[] = [];
      await waitFor(
        () => {
          const text = existsSync(shipped) ? readFileSync(shipped, 'utf8') : '';
          events = text
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as (typeof events)[number]);
          return events.length >= 3 && existsSync(join(stateHostDir, 'checkpoint.json'));
        },
        { timeoutMs: 30_000, what: `3 events in ${shipped} and a checkpoint; output: ${output}` },
      );
      expect(events.map((event) => event.auditID)).toEqual(['pod-test-1', 'pod-test-2', 'pod-test-3']);
      expect(events.every((event) => event.node === 'cp-1' && event.cluster === 'ci-cluster')).toBe(true);

      // bwrap does not forward signals: SIGTERM goes to node itself, as the kubelet's does to PID 1.
      const nodePid = Number(
        readFileSync(`/proc/${bwrap.pid ?? 0}/task/${bwrap.pid ?? 0}/children`, 'utf8').trim(),
      );
      process.kill(nodePid, 'SIGTERM');
      const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
      const code = await Promise.race([
        exited,
        new Promise<string>((resolve) =>
          setTimeout(() => {
            resolve('timeout');
          }, graceMs),
        ),
      ]);
      expect(code, output).toBe(0);
      child = undefined;
    });
  },
);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}
