// Imports each module specifier given on the command line under plain Node (no custom conditions)
// and prints one JSON line: the Node version, each specifier's export names, and what failed to load.
const result = { node: process.version, modules: {}, failures: {} };
for (const specifier of process.argv.slice(2)) {
  try {
    result.modules[specifier] = Object.keys(await import(specifier)).sort();
  } catch (error) {
    result.failures[specifier] = `${error.code ?? error.name}: ${String(error.message).split('\n')[0]}`;
  }
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exitCode = Object.keys(result.failures).length === 0 ? 0 : 1;
