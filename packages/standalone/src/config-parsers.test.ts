import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import {
  durationSeconds,
  flag,
  httpUrl,
  json,
  list,
  oneOf,
  parseSetting,
  type SettingParser,
  wholeNumber,
} from './config-parsers.ts';

/** The parsed value, or the refusal's message. */
function read<T>(parse: SettingParser<T>, input: string): T | string {
  try {
    return parseSetting(parse, input, (message) => {
      throw new Error(message);
    });
  } catch (error) {
    return `refused: ${(error as Error).message}`;
  }
}

describe('setting parsers', () => {
  it('reads durations in plain seconds or s, m, h, d, refusing anything else or out of range', () => {
    assert.equal(read(durationSeconds(), '90'), 90);
    assert.equal(read(durationSeconds(), '10m'), 600);
    assert.equal(read(durationSeconds(), '14d'), 14 * 86_400);
    for (const bad of ['-5s', '1.5h', '10 minutes', '5w', '']) {
      assert.match(String(read(durationSeconds(), bad)), /refused: ".*" is not a duration/, bad);
    }
    assert.equal(read(durationSeconds({ min: 1, max: 600 }), '10m'), 600);
    assert.equal(
      read(durationSeconds({ min: 1, max: 600 }), '0'),
      'refused: 0s is out of range (1s to 600s).',
    );
  });

  it('reads whole numbers, refusing signs, fractions and words', () => {
    assert.equal(read(wholeNumber(), '0'), 0);
    assert.equal(read(wholeNumber({ min: 1, max: 10 }), '10'), 10);
    for (const bad of ['-1', '1.5', '1e3', 'ten', '11']) {
      assert.match(String(read(wholeNumber({ min: 1, max: 10 }), bad)), /whole number from 1 to 10/, bad);
    }
  });

  it('reads booleans from their words in any case, listing them when refused', () => {
    const onOff = flag(['on', 'yes'], ['off', 'no']);
    assert.equal(read(onOff, 'ON'), true);
    assert.equal(read(onOff, 'No'), false);
    assert.equal(read(onOff, 'maybe'), 'refused: "maybe" must be one of on, yes, off, no.');
  });

  it('reads one of a few words, mapped when asked', () => {
    const thread = oneOf(['auto', 'on', 'off'], (value) => (value === 'auto' ? undefined : value === 'on'));
    assert.equal(read(thread, 'auto'), undefined);
    assert.equal(read(thread, 'off'), false);
    assert.equal(read(thread, 'yes'), 'refused: "yes" must be auto, on or off.');
  });

  it('reads http(s) URLs without query, fragment or credentials', () => {
    assert.equal(read(httpUrl(), 'https://auth.example.com/'), 'https://auth.example.com/');
    assert.match(String(read(httpUrl(), 'ftp://x')), /http or https/);
    assert.match(String(read(httpUrl(), 'https://u:p@x')), /credentials/);
    assert.match(String(read(httpUrl(), 'x')), /not a URL/);
  });

  it('reads comma-separated lists item by item, naming the item refused', () => {
    assert.deepEqual(read(list(durationSeconds()), '1m, 2m,,3m '), [60, 120, 180]);
    assert.deepEqual(read(list(durationSeconds()), ''), []);
    assert.equal(
      read(list(durationSeconds()), '1m, soon'),
      'refused: "soon" is not a duration; use a number of seconds or a suffix s, m, h, d (e.g. 10m). (at 1)',
    );
  });

  it('reads JSON into a schema, naming the path refused', () => {
    const fields = json(z.array(z.string().regex(/^[a-z]+$/)));
    assert.deepEqual(read(fields, '["name", "team"]'), ['name', 'team']);
    assert.match(String(read(fields, '["name", 7]')), /refused: .* \(at 1\)$/);
    assert.match(String(read(fields, '[name]')), /refused: is not JSON/);
  });
});
