// docs/security.md names, beside each claim, the test that proves it: `path/to/file.test.ts` › *test
// name*. This test keeps those names true: every cited file exists where `npm test` runs it and holds a
// test (or suite) of that name, every section cites at least one, and the table of default rate limits
// is the engine's DEFAULT_RATE_LIMITS. A renamed, moved or deleted test therefore fails here.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RATE_LIMITS } from '@tessera/core';
import { prose } from './helpers/markdown.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOC = 'docs/security.md';

/** One citation: the file, the test's name, and the line of the doc that cites it. */
interface Citation {
  file: string;
  name: string;
  line: number;
}

// `file.test.ts` › *name*: the name in italics, so it cannot hold an asterisk.
const CITATION = /`([^`\s]+\.test\.ts)`\s+›\s+\*([^*]+)\*/g;
// The files `npm run test:unit` runs: "packages/*/src/**/*.test.ts" and "test/**/*.test.ts".
const RUN_BY_NPM_TEST = /^(packages\/[^/]+\/src\/|test\/)(?:[^/]+\/)*[^/]+\.test\.ts$/;

/** Every citation in a Markdown text, outside code blocks. */
function citations(markdown: string): Citation[] {
  const found: Citation[] = [];
  prose(markdown)
    .split('\n')
    .forEach((text, index) => {
      for (const match of text.matchAll(CITATION)) {
        found.push({ file: match[1] as string, name: (match[2] as string).trim(), line: index + 1 });
      }
    });
  return found;
}

/** The text of a JavaScript string literal body (`'…'`, `"…"` or a template without `${}`). */
function unescapeLiteral(body: string): string {
  return body.replace(
    /\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\s\S])/g,
    (_, sequence: string) => {
      if (sequence.startsWith('u{')) return String.fromCodePoint(Number.parseInt(sequence.slice(2, -1), 16));
      if (/^[ux]/.test(sequence) && sequence.length > 1)
        return String.fromCharCode(Number.parseInt(sequence.slice(1), 16));
      return ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[sequence] ?? sequence;
    },
  );
}

/**
 * The names of the tests and suites a test file declares (`it`, `test`, `describe`, with `.skip` or
 * `.only`), each as a matcher: a literal name matches itself, a template with `${…}` matches any text
 * in their place (`${policy}: …` matches `soft-expiry: …`).
 */
function testNames(source: string): Array<(name: string) => boolean> {
  const matchers: Array<(name: string) => boolean> = [];
  const declaration =
    /\b(?:it|test|describe)(?:\.skip|\.only|\.todo)?\(\s*(['"`])((?:\\[\s\S]|(?!\1)[^\\])*)\1/g;
  for (const match of source.matchAll(declaration)) {
    const [, quote, body = ''] = match;
    if (quote === '`' && body.includes('${')) {
      const pattern = body
        .split(/\$\{[^}]*\}/)
        .map((part) => unescapeLiteral(part).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.+');
      const regex = new RegExp(`^${pattern}$`, 's');
      matchers.push((name) => regex.test(name));
    } else {
      const literal = unescapeLiteral(body);
      matchers.push((name) => name === literal);
    }
  }
  return matchers;
}

/** What is wrong with each citation of `markdown` (empty when every one names a test that exists). */
function citationProblems(markdown: string, root: string): string[] {
  const problems: string[] = [];
  const sources = new Map<string, Array<(name: string) => boolean> | null>();
  for (const { file, name, line } of citations(markdown)) {
    if (!RUN_BY_NPM_TEST.test(file)) {
      problems.push(`line ${line}: ${file} is not where npm test looks for tests`);
      continue;
    }
    if (!sources.has(file)) {
      const path = join(root, file);
      sources.set(file, existsSync(path) ? testNames(readFileSync(path, 'utf8')) : null);
    }
    const names = sources.get(file);
    if (names === null || names === undefined) problems.push(`line ${line}: ${file} does not exist`);
    else if (!names.some((matches) => matches(name)))
      problems.push(`line ${line}: ${file} has no test named "${name}"`);
  }
  return problems;
}

/**
 * The headings (## and ###) of `markdown` whose own text (up to the next heading) cites no test. A
 * heading with no text of its own (one that only groups the subsections after it) needs none.
 */
function sectionsWithoutCitations(markdown: string): string[] {
  const bare: string[] = [];
  let heading: string | null = null;
  let hasText = false;
  let cited = false;
  const close = () => {
    if (heading !== null && hasText && !cited) bare.push(heading);
  };
  for (const line of prose(markdown).split('\n')) {
    const match = /^#{2,3}\s+(.*)$/.exec(line);
    if (match) {
      close();
      heading = match[1] as string;
      hasText = false;
      cited = false;
    } else {
      if (line.trim() !== '') hasText = true;
      if (citations(line).length > 0) cited = true;
    }
  }
  close();
  return bare;
}

const UNITS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86_400 };

/** "30 per minute, 300 per hour" (also "10 per 15 minutes", "1,200 per minute") as rules. */
function parseRules(text: string): Array<{ limit: number; windowSeconds: number }> {
  return [...text.matchAll(/([\d,]+) per (\d+ )?(second|minute|hour|day)s?/g)].map((match) => ({
    limit: Number((match[1] as string).replaceAll(',', '')),
    windowSeconds: Number(match[2] ?? 1) * (UNITS[match[3] as string] as number),
  }));
}

describe('docs/security.md: every claim names the test that proves it', () => {
  const markdown = readFileSync(join(ROOT, DOC), 'utf8');

  it('cites tests, each in a file npm test runs, under a name the file declares', () => {
    assert.ok(citations(markdown).length >= 40, `only ${citations(markdown).length} citations`);
    assert.deepEqual(citationProblems(markdown, ROOT), []);
  });

  it('cites at least one test in every section', () => {
    assert.deepEqual(sectionsWithoutCitations(markdown), []);
  });

  it('names every test file it mentions with a test', () => {
    // A bare `file.test.ts` would be a claim of proof that nothing checks.
    const bare = prose(markdown)
      .split('\n')
      .flatMap((text, index) =>
        [...text.replace(CITATION, '').matchAll(/`[^`]*\.test\.ts`/g)].map(
          (m) => `line ${index + 1}: ${m[0]}`,
        ),
      );
    assert.deepEqual(bare, []);
  });

  it('states the engine’s default rate limits, every one of them', () => {
    const table = new Map<string, Array<{ limit: number; windowSeconds: number }>>();
    for (const line of prose(markdown).split('\n')) {
      const row = /^\|[^|]*\|\s*`(\w+)`\s*\|([^|]*)\|/.exec(line);
      if (row) table.set(row[1] as string, parseRules(row[2] as string));
    }
    assert.deepEqual(
      Object.fromEntries(table),
      JSON.parse(JSON.stringify(DEFAULT_RATE_LIMITS)) as Record<string, unknown>,
    );
  });

  it('reports a renamed test, a missing file, a file npm test does not run, and a section without a test', () => {
    const sample = [
      '## One',
      'Proven by `test/security-doc.test.ts` › *cites at least one test in every section*.',
      'And `test/security-doc.test.ts` › *cites at least one test in each section*.',
      'And `test/no-such-file.test.ts` › *anything*.',
      'And `scripts/elsewhere.test.ts` › *anything*.',
      '## Two',
      'No proof here.',
      '## Three (only groups what follows)',
      '### Four',
      'Proven by `test/security-doc.test.ts` › *cites at least one test in every section*.',
      '```text',
      '`test/security-doc.test.ts` › *inside a code block, not a citation*',
      '```',
    ].join('\n');
    assert.equal(citations(sample).length, 5);
    assert.deepEqual(citationProblems(sample, ROOT), [
      'line 3: test/security-doc.test.ts has no test named "cites at least one test in each section"',
      'line 4: test/no-such-file.test.ts does not exist',
      'line 5: scripts/elsewhere.test.ts is not where npm test looks for tests',
    ]);
    assert.deepEqual(sectionsWithoutCitations(sample), ['Two']);
  });

  it('matches template names by their fixed parts, and unescapes literal ones', () => {
    const names = testNames(
      [
        "it('parses a line split between \\\\r and \\\\n', () => {});",
        `it(\`\${policy}: never throws\`, () => {});`,
        `describe("a \\"quoted\\" suite", () => {});`,
      ].join('\n'),
    );
    const matches = (name: string) => names.some((match) => match(name));
    assert.ok(matches('parses a line split between \\r and \\n'));
    assert.ok(matches('soft-expiry: never throws'));
    assert.ok(!matches(': never throws'));
    assert.ok(matches('a "quoted" suite'));
    assert.ok(!matches('parses a line'));
  });
});
