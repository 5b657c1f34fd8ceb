// Loaded before anything else, on whatever Node runs `tessera`: this file must use nothing newer than
// what old Node versions (18, 20) can run, and import nothing.

/** A version as `[major, minor, patch]`. */
type Version = [number, number, number];

function parse(text: string): Version | null {
  const match = /^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?/.exec(text.trim());
  if (!match) return null;
  const part = (value: string | undefined): number =>
    value === undefined || !/^\d+$/.test(value) ? 0 : Number(value);
  return [part(match[1]), part(match[2]), part(match[3])];
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i += 1) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

function satisfiesComparator(version: Version, comparator: string): boolean {
  const match = /^(>=|<=|>|<|=|\^|~)?\s*(.+)$/.exec(comparator);
  const bound = match ? parse(match[2] as string) : null;
  if (!match || !bound) return true;
  const d = compare(version, bound);
  switch (match[1]) {
    case '>=':
      return d >= 0;
    case '>':
      return d > 0;
    case '<=':
      return d <= 0;
    case '<':
      return d < 0;
    case '^':
      return d >= 0 && version[0] === bound[0];
    case '~':
      return d >= 0 && version[0] === bound[0] && version[1] === bound[1];
    default:
      return version[0] === bound[0] && (bound[1] === 0 || version[1] === bound[1]);
  }
}

/**
 * Whether Node `version` (e.g. `20.11.0`) satisfies an `engines.node` range: `||` alternatives of
 * space-separated comparators (`>=`, `>`, `<=`, `<`, `^`, `~`, exact). A part it cannot read is taken
 * as satisfied, so an unusual range never locks anyone out. (A small subset of semver ranges, so the
 * check runs before any dependency can be loaded.)
 * @example
 * nodeSatisfies('20.11.0', '>=22.13'); // false
 */
export function nodeSatisfies(version: string, range: string): boolean {
  const current = parse(version);
  if (!current) return true;
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => satisfiesComparator(current, comparator)),
  );
}

/**
 * The message to print when this Node cannot run Tessera (`null` when it can): which Node it needs,
 * which one is running, and how to get a newer one.
 */
export function nodeVersionProblem(version: string, range: string | undefined): string | null {
  if (range === undefined || nodeSatisfies(version, range)) return null;
  return (
    `tessera needs Node.js ${range} (it uses Node's built-in SQLite, node:sqlite); this is Node.js ${version}.\n` +
    'Install a current LTS release from https://nodejs.org/ (or: nvm install --lts), then run tessera again.\n'
  );
}
