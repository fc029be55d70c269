/**
 * Client SDK for the relay: one import for web apps and Node services.
 * Browser-safe: nothing here uses a Node-only API (checked by
 * `npm run typecheck`, which compiles the SDK against the DOM library only).
 */
export {
  RelayClient,
  dedupKey,
  fetchVapidPublicKey,
  type PushRegistration,
  type ClientEvents,
  type ConnectionState,
  type RelayClientOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './relay-client.ts';
export { RelayError, ClientStoppedError, RequestTimeoutError } from './errors.ts';
export { adviseOnClose, backoffDelay, defaultBackoff, type BackoffOptions, type CloseAdvice } from './reconnect-policy.ts';
export {
  generateIdentity,
  exportIdentity,
  importIdentity,
  signApproval,
  verifyApproval,
  verifyDeviceList,
  sodiumReady,
  type DeviceIdentity,
  type DeviceListCheck,
  type VerifiedDevice,
} from './device-identity.ts';
export { checkTransition, currentStatement, listCovers, signDeviceList, signedListValid, type TransitionProblem } from './device-list.ts';
export type { DeviceListStatement, SignedDeviceList } from '../src/protocol/device-list-message.ts';
export { seal, open, type SealedContent, type OpenResult } from './sealed-envelope.ts';
export { SecureMessenger, UntrustedDevicesError, type TextMessage } from './secure-messenger.ts';
export type { ServerFrame, ServerFrameOf, ServerFrameType, DeviceEntry, MessageFrame, StatusUpdateFrame, ErrorFrame, SentAckFrame } from '../src/protocol/server-frame-shapes.ts';
export type { ClientFrame, ClientFrameType } from '../src/protocol/client-frames.ts';
export { CloseCode } from '../src/protocol/close-codes.ts';
