// Draws docs/benchmarks.svg from bench/results/latest.json: a horizontal bar chart of requests per
// second, Tessera's refresh beside its peers, then Tessera's other refresh scenarios. Run: npm run chart -w @tessera/bench
import { readFileSync, writeFileSync } from 'node:fs';

interface Scenario {
  name: string;
  system: string;
  rps?: number;
  p99_ms?: number;
}

const report = JSON.parse(readFileSync(new URL('../results/latest.json', import.meta.url), 'utf8')) as {
  node: string;
  machine: { cpus: number; model: string };
  scenarios: Scenario[];
};
// The side-by-side refresh comparison first (Tessera and its peers), then Tessera's other refresh rows.
const bars = [
  ...report.scenarios.filter((s) => s.name === 'refresh-sqlite'),
  ...report.scenarios.filter(
    (s) =>
      s.rps !== undefined &&
      s.system === 'tessera' &&
      s.name.startsWith('refresh') &&
      s.name !== 'refresh-sqlite',
  ),
];
const max = Math.max(...bars.map((b) => b.rps ?? 0), 1);
const rowHeight = 28;
const labelWidth = 520;
const barWidth = 420;
const height = 60 + bars.length * rowHeight;
const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const rows = bars
  .map((bar, i) => {
    const y = 40 + i * rowHeight;
    const width = Math.round(Math.max(1, ((bar.rps ?? 0) / max) * barWidth));
    const fill = bar.system === 'tessera' ? '#3856d8' : '#9aa3b2';
    return [
      `<text x="${labelWidth - 8}" y="${y + 17}" text-anchor="end">${escapeXml(`${bar.name} · ${bar.system}`)}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${width.toFixed(1)}" height="18" rx="3" fill="${fill}"/>`,
      `<text x="${labelWidth + width + 6}" y="${y + 17}">${Math.round(bar.rps ?? 0).toLocaleString('en')} req/s · p99 ${bar.p99_ms?.toFixed(1)} ms</text>`,
    ].join('');
  })
  .join('\n');
const svg = `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${labelWidth + barWidth + 200}" height="${height}" font-family="system-ui, sans-serif" font-size="12" fill="#1d2330">
<title>Refresh throughput, Tessera beside its peers, requests per second</title>
<text x="8" y="20" font-size="14" font-weight="600">Refresh throughput (npm run bench, ${escapeXml(report.machine.model)}, ${report.machine.cpus} cores, Node ${escapeXml(report.node)})</text>
${rows}
</svg>
`;
writeFileSync(new URL('../../docs/benchmarks.svg', import.meta.url), svg);
process.stdout.write(`wrote docs/benchmarks.svg (${bars.length} bars)\n`);
