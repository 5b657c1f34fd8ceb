// What the docs tests read in Markdown: fenced code blocks, headings (as GitHub anchors) and links.
// A CommonMark parser would build a whole syntax tree for these three things; the rules below are the
// subset the repository's docs use, each with a case in test/docs-snippets.test.ts.

/** A fenced code block. */
export interface CodeBlock {
  /** The first word of the info string (`sh`, `ts`, `json`), or '' when there is none. */
  lang: string;
  /** The other words of the info string (`fragment`, `check`). */
  flags: string[];
  /** The code, with the fence's indentation removed. */
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** 1-based line of the closing fence (the last line when unclosed). */
  endLine: number;
  /** The fence was never closed (the block ran to the end of the file). */
  unclosed: boolean;
}

const FENCE = /^( {0,3}|\s*)(`{3,}|~{3,})(.*)$/;

/**
 * The fenced code blocks of a Markdown text, in order. A fence is three or more backticks or tildes;
 * it closes on a line of the same character, at least as long, with nothing after it. Indented
 * fences (inside list items) lose their indentation. A backtick fence's info string has no backtick.
 */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = FENCE.exec(lines[i] as string);
    if (!open) continue;
    const [, indent = '', fence = '', info = ''] = open;
    if (fence[0] === '`' && info.includes('`')) continue;
    const body: string[] = [];
    let j = i + 1;
    let closed = false;
    for (; j < lines.length; j += 1) {
      const line = lines[j] as string;
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[1]?.[0] === fence[0] && (close[1]?.length ?? 0) >= fence.length) {
        closed = true;
        break;
      }
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    const [lang = '', ...flags] = info.trim().split(/\s+/).filter(Boolean);
    blocks.push({
      lang: lang.toLowerCase(),
      flags,
      code: body.join('\n'),
      line: i + 1,
      endLine: Math.min(j, lines.length - 1) + 1,
      unclosed: !closed,
    });
    i = j;
  }
  return blocks;
}

/** The text outside fenced blocks, with each block's lines blanked (so line numbers stay). */
export function prose(markdown: string): string {
  const lines = markdown.split('\n');
  for (const block of codeBlocks(markdown)) {
    for (let i = block.line - 1; i < block.endLine; i += 1) lines[i] = '';
  }
  return lines.join('\n');
}

/**
 * GitHub's anchor for a heading: inline markup and punctuation dropped (letters, digits, marks, `_`,
 * `-` and spaces kept), lower-cased, spaces to hyphens.
 */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a Markdown file offers: its headings' slugs (repeats get `-1`, `-2`, …) and HTML ids. */
export function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  const counts = new Map<string, number>();
  for (const line of prose(markdown).split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slug(heading[1] as string);
      const seen = counts.get(base) ?? 0;
      counts.set(base, seen + 1);
      found.add(seen === 0 ? base : `${base}-${seen}`);
    }
    for (const id of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) found.add(id[1] as string);
  }
  return found;
}

/** A link or image target in the prose, with its line. */
export interface Link {
  target: string;
  line: number;
}

/** Inline links and images (`[text](target)`, `![alt](src)`) and reference definitions, outside code. */
export function links(markdown: string): Link[] {
  const found: Link[] = [];
  prose(markdown)
    .split('\n')
    .forEach((raw, index) => {
      // Code spans are not links.
      const line = raw.replace(/(`+)[^`]*?\1/g, '');
      for (const match of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        found.push({ target: match[1] as string, line: index + 1 });
      }
      const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(line);
      if (definition) found.push({ target: definition[1] as string, line: index + 1 });
    });
  return found;
}
