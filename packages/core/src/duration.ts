const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses a duration such as `10m`, `14d`, `2s` or plain seconds (`600`) into whole seconds.
 * Returns `undefined` for anything else (negative, fractional, unknown unit, empty).
 */
export function parseDurationSeconds(text: string): number | undefined {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = UNIT_SECONDS[match[2] || 's'] ?? 1;
  return amount * unit;
}

/** Formats whole seconds as the shortest exact duration (`600` → `10m`). */
export function formatDurationSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
