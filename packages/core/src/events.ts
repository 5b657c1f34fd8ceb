import type { RevokeReason } from './store/store.ts';

/** Something that happened to a session or a user, for audit logs and alerts. No secrets inside. */
export type TesseraEvent =
  | { type: 'user.registered'; userId: string; atMs: number }
  /** A user made without a password: by the app (`createUser`) or at a first external sign-in. */
  | { type: 'user.created'; userId: string; source: 'app' | 'external'; atMs: number }
  | { type: 'identity.linked'; userId: string; issuer: string; atMs: number }
  | { type: 'identity.unlinked'; userId: string; issuer: string; atMs: number }
  | { type: 'session.created'; sessionId: string; userId: string; atMs: number }
  | { type: 'session.refreshed'; sessionId: string; userId: string; generation: number; atMs: number }
  | { type: 'session.revoked'; sessionId: string; userId: string; reason: RevokeReason; atMs: number }
  | { type: 'session.reuse_detected'; sessionId: string; userId: string; generation: number; atMs: number }
  /**
   * RFC 9449: a DPoP-bound session's refresh (or renewal) came without a proof by its key (`proof`:
   * `missing_proof` or `other_key`): someone holds the token but not the key. The session stays alive.
   */
  | {
      type: 'session.dpop_mismatch';
      sessionId: string;
      userId: string;
      proof: 'missing_proof' | 'other_key';
      atMs: number;
    }
  | { type: 'login.failed'; userId: string | null; atMs: number }
  | { type: 'user.password_changed'; userId: string; atMs: number }
  | { type: 'user.updated'; userId: string; tokenVersion: number; atMs: number }
  | { type: 'revocation.emergency'; notBeforeMs: number; atMs: number }
  | { type: 'mfa.enabled'; userId: string; atMs: number }
  | { type: 'mfa.disabled'; userId: string; atMs: number }
  | { type: 'mfa.recovery_codes_regenerated'; userId: string; atMs: number }
  | { type: 'mfa.recovery_code_used'; userId: string; atMs: number }
  | { type: 'session.reauthenticated'; sessionId: string; userId: string; amr: string[]; atMs: number }
  /**
   * A webhook delivery attempt failed (`error`: a status, a timeout or a network error, never a token);
   * `dead` when it was the last one and the event now waits for a replay.
   */
  | {
      type: 'webhook.failed';
      eventId: string;
      eventType: string;
      attempt: number;
      error: string;
      dead: boolean;
      atMs: number;
    };

/** Receives engine events. Must not throw; must not block (queue slow work). */
export type EventListener = (event: TesseraEvent) => void;
