// Every fenced block in README.md and docs/*.md either runs as pasted or says it is a fragment:
//
// - ```sh (or bash, shell) blocks run in order, one bash -euo pipefail script per file, against a fresh
//   standalone server this test starts on a free port (127.0.0.1:4000 and localhost:4000 are rewritten
//   to it), from the repository root, with TESSERA_DATA_DIR set to the server's. curl fails on an HTTP
//   error unless the command prints the status itself (-w). Variables carry from block to block. They
//   need bash, curl and jq (under CI=true a missing one fails the test, elsewhere it skips).
// - ```ts / ```js blocks are complete modules: written to files, type-checked together (strict, like
//   the repository), then each run with Node (exit 0 within a minute; a fresh server when they name
//   :4000). `check` after the language: type-checked only (a server that runs forever, a browser page).
//   `context`: type-checked only, after the declarations of the doc's `<!-- docs-snippets context … -->`
//   comment (the engine, a token set, … that a reference page's short examples take as given).
// - `fragment` after the language (```ts fragment): neither run nor checked.
// - Blocks of another language (json, mermaid, text) are shown, never run; a block must name one.
//
// Relative links and #anchors in README.md, docs/, examples/README.md and the packages' READMEs must
// resolve (GitHub's heading anchors).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, startChildServer, stopChildServer } from './helpers/child-server.ts';
import { runCommand } from './helpers/cli.ts';
import { anchors, type CodeBlock, codeBlocks, links, slug } from './helpers/markdown.ts';
import { skipReason } from './helpers/services.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const LINKED_DOCS = [
  ...DOCS,
  'examples/README.md',
  ...readdirSync(join(ROOT, 'packages'))
    .map((p) => `packages/${p}/README.md`)
    .filter((p) => existsSync(join(ROOT, p))),
];
const SHELL = new Set(['sh', 'bash', 'shell']);
const PROGRAM = new Set(['ts', 'typescript', 'js', 'javascript']);
const SHOWN = new Set([
  'json',
  'jsonc',
  'mermaid',
  'text',
  'txt',
  'http',
  'diff',
  'yaml',
  'ini',
  'html',
  'svg',
]);
const FLAGS = new Set(['fragment', 'check', 'context']);

/** Links to files another branch adds: checked as a todo until the file exists. */
const PENDING_LINKS: ReadonlyArray<{ doc: string; target: string; why: string }> = [];

interface Snippet extends CodeBlock {
  doc: string;
}

/** A doc's context for its `context` blocks: the code inside `<!-- docs-snippets context … -->`. */
function contextOf(doc: string): string | null {
  return (
    /<!--\s*docs-snippets context\n([\s\S]*?)-->/.exec(readFileSync(join(ROOT, doc), 'utf8'))?.[1] ?? null
  );
}

const snippets: Snippet[] = DOCS.flatMap((doc) =>
  codeBlocks(readFileSync(join(ROOT, doc), 'utf8')).map((block) => ({ ...block, doc })),
);
const runnable = (s: Snippet) => !s.flags.includes('fragment');
const where = (s: Snippet) => `${s.doc}:${s.line}`;
const PORT_4000 = /\b(127\.0\.0\.1|localhost):4000\b/g;

describe('docs: reading the Markdown', () => {
  it('finds fences the way the docs write them', () => {
    const text = [
      'intro',
      '```sh',
      'echo one',
      '```',
      '  ```ts fragment check',
      '  const a = 1;',
      '    indented();',
      '  ```',
      '~~~~json',
      '```',
      'still json',
      '~~~~',
      '```` md',
      '```sh',
      'inner',
      '```',
      '````',
      '``` not`a fence',
      '```',
      'unclosed',
    ].join('\n');
    const blocks = codeBlocks(text);
    assert.deepEqual(
      blocks.map((b) => [b.lang, b.flags, b.code, b.line, b.unclosed]),
      [
        ['sh', [], 'echo one', 2, false],
        ['ts', ['fragment', 'check'], 'const a = 1;\n  indented();', 5, false],
        ['json', [], '```\nstill json', 9, false],
        ['md', [], '```sh\ninner\n```', 13, false],
        ['', [], 'unclosed', 19, true],
      ],
    );
  });

  it('makes GitHub’s anchors and finds links outside code', () => {
    assert.equal(slug('`POST /auth/register`'), 'post-authregister');
    assert.equal(slug('Resource services (`@tessera/verify`)'), 'resource-services-tesseraverify');
    assert.equal(slug('One handler, many hosts'), 'one-handler-many-hosts');
    assert.equal(slug('Where should my tokens live?'), 'where-should-my-tokens-live');
    assert.equal(slug('[Linked](x.md) and_snake'), 'linked-and_snake');
    const doc =
      '# Title\n## Same\n## Same\n<a id="custom"></a>\nSee [a](b.md#c) and `[not](x.md)`.\n```md\n[no](y.md)\n```\n[ref]: ./z.md\n![img](pic.svg "t")';
    assert.deepEqual([...anchors(doc)], ['title', 'same', 'same-1', 'custom']);
    assert.deepEqual(
      links(doc).map((l) => l.target),
      ['b.md#c', './z.md', 'pic.svg'],
    );
  });
});

describe('docs: every fenced block names its language and is closed', () => {
  it('README.md and docs/*.md', () => {
    const problems: string[] = [];
    for (const s of snippets) {
      if (s.unclosed) problems.push(`${where(s)}: the fence is never closed`);
      if (s.lang === '') problems.push(`${where(s)}: name the language (\`\`\`sh, \`\`\`ts, \`\`\`text …)`);
      else if (!SHELL.has(s.lang) && !PROGRAM.has(s.lang) && !SHOWN.has(s.lang)) {
        problems.push(`${where(s)}: unknown language "${s.lang}"`);
      }
      for (const flag of s.flags) if (!FLAGS.has(flag)) problems.push(`${where(s)}: unknown flag "${flag}"`);
      if (s.flags.includes('context') && contextOf(s.doc) === null) {
        problems.push(
          `${where(s)}: a context block, but ${s.doc} has no <!-- docs-snippets context … --> comment`,
        );
      }
    }
    assert.deepEqual(problems, []);
  });
});

/** Runs a command; resolves to its output (both streams) and exit status, never rejects. */
async function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; output: string }> {
  const result = await runCommand(command, args, options);
  return { code: result.code, output: `${result.stdout}${result.stderr}` };
}

/** Why the shell blocks cannot run here (bash, curl or jq missing), or `null`. */
function shellToolsProblem(): string | null {
  for (const tool of ['bash', 'curl', 'jq']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (the docs' shell blocks use it: apt-get install ${tool})`;
    }
  }
  return null;
}

describe('docs: shell blocks run as pasted against a fresh server', {
  skip: skipReason(shellToolsProblem()),
}, () => {
  for (const doc of DOCS) {
    const blocks = snippets.filter((s) => s.doc === doc && SHELL.has(s.lang) && runnable(s));
    if (blocks.length === 0) continue;
    it(`${doc} (${blocks.length} block${blocks.length === 1 ? '' : 's'})`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'tessera-docs-sh-'));
      const port = await freePort();
      const server = await startChildServer({ TESSERA_PORT: String(port), TESSERA_DATA_DIR: dataDir });
      try {
        const script = [
          'set -E',
          // An HTTP error fails the block, unless the command prints the status itself.
          'curl() { case " $* " in *" -w "*|*" --write-out "*) command curl "$@" ;; *) command curl --fail-with-body "$@" ;; esac; }',
          `trap 'echo "docs-snippets: a command failed in the block at $__block" >&2' ERR`,
          ...blocks.flatMap((s) => [`__block='${where(s)}'`, s.code.replace(PORT_4000, `$1:${port}`)]),
        ].join('\n');
        const result = await run('bash', ['-euo', 'pipefail', '-c', script], {
          cwd: ROOT,
          env: {
            ...process.env,
            TESSERA_DATA_DIR: dataDir,
            TESSERA_PORT: String(port),
            TESSERA_LOG_LEVEL: 'warn',
          },
          timeoutMs: 120_000,
        });
        assert.equal(result.code, 0, `${doc} failed:\n${result.output}`);
      } finally {
        await stopChildServer(server, 'SIGTERM');
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});

describe('docs: TypeScript and JavaScript blocks type-check, and complete programs run', () => {
  const programs = snippets.filter((s) => PROGRAM.has(s.lang) && runnable(s));
  const dir = mkdtempSync(join(tmpdir(), 'tessera-docs-ts-'));
  /** How many lines of context precede each block in its file (to report the doc's line). */
  const contextLines = new Map<Snippet, number>();
  const fileOf = (s: Snippet) =>
    join(dir, `${s.doc.replace(/[^A-Za-z0-9]+/g, '-')}-${s.line}.${s.lang.startsWith('j') ? 'js' : 'ts'}`);
  before(() => {
    // Beside the repository's node_modules, so the snippets import the workspaces as an app would.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.base.json'),
        compilerOptions: {
          noEmit: true,
          composite: false,
          declaration: false,
          isolatedDeclarations: false,
          // A snippet may show a value it does not use again.
          noUnusedLocals: false,
          noUnusedParameters: false,
          allowJs: true,
          checkJs: true,
          lib: ['es2024', 'dom'],
        },
        files: programs.map(fileOf),
      }),
    );
    for (const s of programs) {
      if (!s.flags.includes('context')) {
        writeFileSync(fileOf(s), `${s.code}\n`);
        continue;
      }
      // In a block of its own, so an example may declare a name the context declares too.
      const context = `${contextOf(s.doc) ?? ''}{\n`;
      contextLines.set(s, context.split('\n').length - 1);
      writeFileSync(fileOf(s), `${context}${s.code}\n}\n`);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`${programs.length} blocks type-check together`, async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], {
      cwd: dir,
      env: process.env,
      timeoutMs: 300_000,
    });
    // Point at the doc and its line instead of the temporary file.
    let report = result.output;
    for (const s of programs) {
      const file = relative(dir, fileOf(s)).replace(/[.]/g, '\\.');
      report = report.replace(
        new RegExp(`${file}\\((\\d+),(\\d+)\\)`, 'g'),
        (_m, line: string, column: string) =>
          `${s.doc}:${s.line + Number(line) - (contextLines.get(s) ?? 0)}:${column}`,
      );
    }
    assert.equal(result.code, 0, `type errors in docs snippets:\n${report}`);
  });

  for (const s of programs.filter((p) => !p.flags.includes('check') && !p.flags.includes('context'))) {
    it(`${where(s)} runs`, async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'tessera-docs-run-'));
      const dataDir = join(cwd, 'server');
      mkdirSync(dataDir);
      const port = await freePort();
      const server = PORT_4000.test(s.code)
        ? await startChildServer({ TESSERA_PORT: String(port), TESSERA_DATA_DIR: dataDir })
        : null;
      PORT_4000.lastIndex = 0;
      try {
        const file = fileOf(s).replace(/(\.[jt]s)$/, '-run$1');
        writeFileSync(file, `${s.code.replace(PORT_4000, `$1:${port}`)}\n`);
        const result = await run(process.execPath, ['--conditions=@tessera/source', file], {
          cwd,
          env: { ...process.env, TESSERA_SECRET: Buffer.alloc(32, 3).toString('base64url') },
          timeoutMs: 60_000,
        });
        assert.equal(result.code, 0, `${where(s)} failed:\n${result.output}`);
      } finally {
        if (server) await stopChildServer(server, 'SIGTERM');
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  }
});

describe('docs: the README names every package', () => {
  it('the project layout table lists each workspace', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const layout = readme.slice(readme.indexOf('## Project layout'));
    const { workspaces } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      workspaces: string[];
    };
    const missing = workspaces.filter((w) => !layout.includes(`| \`${w}`));
    assert.deepEqual(missing, []);
  });
});

describe('docs: every relative link and anchor resolves', () => {
  const isPending = (doc: string, target: string) =>
    PENDING_LINKS.some((p) => p.doc === doc && p.target === target);
  const broken = (doc: string, target: string): string | null => {
    const [path = '', hash] = target.split('#');
    const file = path ? resolve(dirname(join(ROOT, doc)), decodeURIComponent(path)) : join(ROOT, doc);
    if (!existsSync(file)) return `${target}: no such file`;
    if (hash && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(hash)) {
      return `${target}: no heading or anchor "${hash}" in ${relative(ROOT, file)}`;
    }
    return null;
  };

  it(`${LINKED_DOCS.length} files`, () => {
    const problems: string[] = [];
    let checked = 0;
    for (const doc of LINKED_DOCS) {
      for (const link of links(readFileSync(join(ROOT, doc), 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link.target) || isPending(doc, link.target)) continue;
        checked += 1;
        const problem = broken(doc, link.target);
        if (problem) problems.push(`${doc}:${link.line}: ${problem}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked > 20, `only ${checked} links found`);
  });

  for (const pending of PENDING_LINKS) {
    it(`${pending.doc} → ${pending.target}`, { todo: pending.why }, () => {
      assert.equal(broken(pending.doc, pending.target), null);
    });
  }
});
