import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { nodeSatisfies, nodeVersionProblem } from './node-version.ts';

describe('nodeSatisfies (the engines check the bin makes before loading anything)', () => {
  it('reads the ranges package.json files use', () => {
    const cases: Array<[string, string, boolean]> = [
      ['20.11.0', '>=22.13', false],
      ['22.12.9', '>=22.13', false],
      ['22.13.0', '>=22.13', true],
      ['24.21.0', '>=22.13', true],
      ['22.13.0', '>=22.13.0 <23 || >=24', true],
      ['23.1.0', '>=22.13.0 <23 || >=24', false],
      ['24.0.0', '>=22.13.0 <23 || >=24', true],
      ['22.20.0', '^22.13', true],
      ['23.0.0', '^22.13', false],
      ['22.13.5', '~22.13', true],
      ['22.14.0', '~22.13', false],
      ['22.5.0', '22', true],
      ['21.9.0', '22', false],
      ['24.1.0', '>= 22.13', true],
      ['18.0.0', '>22', false],
    ];
    for (const [version, range, expected] of cases) {
      assert.equal(nodeSatisfies(version, range), expected, `${version} in ${range}`);
    }
  });

  it('lets an unreadable range or version through rather than lock anyone out', () => {
    assert.equal(nodeSatisfies('24.0.0', 'lts/*'), true);
    assert.equal(nodeSatisfies('nightly', '>=22.13'), true);
  });

  it("says which Node the package's engines need, and which one runs", () => {
    const { engines } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal(nodeVersionProblem(process.versions.node, engines.node), null, 'the Node running the tests');
    const message = nodeVersionProblem('20.11.0', engines.node) ?? '';
    assert.ok(message.includes(`needs Node.js ${engines.node}`), message);
    assert.match(message, /this is Node\.js 20\.11\.0/);
    assert.match(message, /node:sqlite/);
    assert.equal(nodeVersionProblem('20.11.0', undefined), null);
  });
});
