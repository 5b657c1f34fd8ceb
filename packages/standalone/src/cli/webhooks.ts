import type { WebhookEventView } from '@tessera/core';
import { type Command, CommandFailure, EXIT, UsageError } from './command.ts';
import { withEngine } from './with-engine.ts';

const STATES = ['pending', 'delivered', 'dead'] as const;

/** One outbox event as a line: id, type, state, attempts, created, last error, data (tokens redacted). */
function webhookLine(event: WebhookEventView): string {
  return [
    event.id,
    event.type,
    event.state,
    `attempts ${event.attempts}`,
    `created ${event.createdAt.toISOString()}`,
    event.lastError === null ? '-' : `last error: ${event.lastError}`,
    JSON.stringify(event.data),
  ].join('\t');
}

/** `tessera webhooks list`. */
export const webhooksListCommand: Command = {
  path: ['webhooks', 'list'],
  summary: 'list webhook events (default: dead ones), tokens redacted',
  synopsis: '[--dead | --state pending|delivered|dead] [--limit N]',
  description:
    'Lists webhook events of one delivery state, newest first: id, type, state, attempts, created, the ' +
    'last error and the data, with one-time tokens shown as [redacted]. A dead event failed its last retry ' +
    'and waits for `tessera webhooks replay`.',
  options: {
    dead: { type: 'boolean', help: 'the dead ones (the default)' },
    state: { type: 'string', placeholder: 'S', help: 'pending, delivered or dead' },
    limit: { type: 'string', placeholder: 'N', help: 'events to list, 1 to 1000 (default 50)' },
  },
  args: { min: 0, max: 0 },
  examples: ['tessera webhooks list', 'tessera webhooks list --state pending --limit 10'],
  async run({ values, config, io }) {
    const state = values.dead ? 'dead' : ((values.state as string | undefined) ?? 'dead');
    if (!(STATES as readonly string[]).includes(state)) {
      throw new UsageError('--state must be pending, delivered or dead.', ['webhooks', 'list']);
    }
    const limitText = (values.limit as string | undefined) ?? '50';
    const limit = Number(limitText);
    if (!/^\d{1,4}$/.test(limitText) || limit < 1 || limit > 1000) {
      throw new UsageError('--limit must be a whole number from 1 to 1000.', ['webhooks', 'list']);
    }
    const events = await withEngine(config(), io, (engine) =>
      engine.listWebhookEvents(state as (typeof STATES)[number], limit),
    );
    for (const event of events) io.out(`${webhookLine(event)}\n`);
    if (events.length === 0) io.out(`No ${state} webhook events.\n`);
    return EXIT.ok;
  },
};

/** `tessera webhooks replay`. */
export const webhooksReplayCommand: Command = {
  path: ['webhooks', 'replay'],
  summary: 'deliver a dead (or delivered) event again',
  synopsis: '<id>',
  description:
    'Makes the event pending again, due at once, under the same webhook-id (receivers deduplicate by it); ' +
    'a running server delivers it within seconds. A token inside may have expired meanwhile.',
  args: { min: 1, max: 1 },
  examples: ['tessera webhooks replay msg_2KWPBgLlAfxdpx2AI54pPJ85f4W'],
  async run({ args, config, io }) {
    const id = args[0] as string;
    const replayed = await withEngine(config(), io, (engine) => engine.replayWebhookEvent(id));
    if (!replayed) throw new CommandFailure(`no dead or delivered webhook event ${id}.`);
    io.out(`Event ${id} is pending again; a running server delivers it within seconds.\n`);
    return EXIT.ok;
  },
};
