export type { WebhookDeliver, WebhookEventType, WebhookMessage } from '../engine/webhook-events.ts';
export type { StandardWebhooksOptions } from './standard-webhooks.ts';
export {
  createStandardWebhooksSender,
  parseWebhookSecret,
  WebhookDeliveryError,
  webhookPayload,
} from './standard-webhooks.ts';
