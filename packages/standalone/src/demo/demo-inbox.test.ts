import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebhookMessage } from '@tessera/core';
import { createDemoInbox } from './demo-inbox.ts';

function message(id: string, atMs: number, data: Record<string, unknown> = {}): WebhookMessage {
  return {
    id,
    type: 'user.created',
    timestamp: new Date(atMs),
    data,
    attempt: 1,
    attemptedAt: new Date(atMs + 5),
    signal: new AbortController().signal,
  };
}

describe('demo inbox', () => {
  it('keeps the newest events first, up to its size', async () => {
    const inbox = createDemoInbox(3);
    for (let i = 1; i <= 5; i += 1) await inbox.deliver(message(`msg_${i}`, i * 1000));
    assert.deepEqual(
      inbox.events().map((e) => e.id),
      ['msg_5', 'msg_4', 'msg_3'],
    );
    const [newest] = inbox.events();
    assert.equal(newest?.timestamp, new Date(5000).toISOString());
    assert.equal(newest?.received_at, new Date(5005).toISOString());
  });

  it('keeps one copy of a redelivered event (at least once: the same id again), as the newest', async () => {
    const inbox = createDemoInbox(10);
    await inbox.deliver(message('msg_a', 1000, { n: 1 }));
    await inbox.deliver(message('msg_b', 2000));
    await inbox.deliver(message('msg_a', 1000, { n: 2 }));
    assert.deepEqual(
      inbox.events().map((e) => [e.id, e.data.n]),
      [
        ['msg_a', 2],
        ['msg_b', undefined],
      ],
    );
  });
});
