export type { ClientState, TesseraClient, TesseraClientOptions, TokenStorage } from './client-api.ts';
export { TesseraClientError } from './client-api.ts';
export { createTesseraClient } from './create-client.ts';
export type { TabLink, TabMessage } from './cross-tab.ts';
export type { ClientEvents, SessionEndReason, StepUpRequired } from './events.ts';
export type { RenewalRule, SessionPolicy } from './policies.ts';
export { RENEWAL_RULES } from './policies.ts';
export { renewalDelayMs } from './scheduler.ts';
export { singleFlight } from './single-flight.ts';
