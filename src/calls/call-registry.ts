import { KeyedSets } from '../util/keyed-sets.ts';

/**
 * The call legs held by this node's devices: which calls each connected
 * device is a party to, and with whom. Only a party may signal a call, so
 * a frame naming a call its device holds no leg of is refused without
 * reaching anyone, and what it answers depends only on the sender's own
 * legs: call signalling cannot be used to probe whether someone is online.
 *
 * A leg is made where its device is connected, so every node knows the
 * calls of its own devices and nothing else is shared:
 * - the caller's leg when its device sends `call_offer`;
 * - a ringing leg on each callee device the offer reaches (here, or on the
 *   node that delivers it: router.ts calls `ring` there);
 * - the answering device's leg goes live; the others are dropped when the
 *   `call_end` (`answered_elsewhere`) reaches them.
 *
 * A leg that still rings after `ringMs` is forgotten, so a lost `call_end`
 * cannot leave a device ringing, or a user busy, for ever. Live legs end
 * with `call_end`, `call_reject` or a disconnect.
 */
export interface CallLeg {
  callId: string;
  user: string;
  device: string;
  role: 'caller' | 'callee';
  peerUser: string;
  /** The peer's device once known: the caller's device for a callee, the answering device for a caller. */
  peerDevice: string | undefined;
  live: boolean;
  /**
   * False for a caller's offer that rang nowhere (a stranger's call to a
   * user offline or busy): the leg exists so that the caller cannot tell
   * that case apart, but nothing it signals reaches the callee, and it does
   * not make the callee busy.
   */
  rang: boolean;
  since: number;
}

/** What travels with a call frame pushed to another party, so that the node delivering it can update that party's leg. */
export interface CallSignal {
  callId: string;
  /** offer: rings a callee leg; answer: the caller's leg goes live; end: the leg is dropped. */
  kind: 'offer' | 'answer' | 'end';
  fromUser: string;
  fromDevice: string;
}

export class CallRegistry {
  private readonly legs = new Map<string, CallLeg>();
  /** Call ids by user, for the busy rule and for a device's disconnect. */
  private readonly byUser = new KeyedSets<string, string>();

  constructor(
    private readonly now: () => number,
    private readonly ringMs = 60_000,
  ) {}

  /** The leg this device holds in the call, if any (a ringing one that timed out is dropped). */
  legOf(callId: string, user: string, device: string): CallLeg | undefined {
    const leg = this.legs.get(legKey(callId, user, device));
    if (leg && !leg.live && this.now() - leg.since > this.ringMs) {
      this.drop(leg);
      return undefined;
    }
    return leg;
  }

  /**
   * Whether the user is a party to a call other than `exceptCall` as far as
   * this node knows: a device of theirs holds a leg here, or a device here
   * calls them.
   */
  isBusy(user: string, exceptCall: string): boolean {
    for (const key of this.byUser.values(user)) {
      const leg = this.legs.get(key);
      if (!leg || leg.callId === exceptCall) continue;
      if (!leg.live && this.now() - leg.since > this.ringMs) this.drop(leg);
      else return true;
    }
    return false;
  }

  /** The caller's leg, when its device sends the offer. */
  call(callId: string, user: string, device: string, callee: string, rang: boolean): CallLeg {
    return this.put({ callId, user, device, role: 'caller', peerUser: callee, peerDevice: undefined, live: false, rang, since: this.now() });
  }

  /** A callee device the offer reached. */
  ring(callId: string, user: string, device: string, callerUser: string, callerDevice: string): void {
    if (this.legs.has(legKey(callId, user, device))) return;
    this.put({ callId, user, device, role: 'callee', peerUser: callerUser, peerDevice: callerDevice, live: false, rang: true, since: this.now() });
  }

  /** The callee's device answered: its leg, or the caller's once the answer reaches it, is live with that peer. */
  goLive(leg: CallLeg, peerDevice: string): void {
    leg.live = true;
    leg.peerDevice = peerDevice;
  }

  drop(leg: CallLeg): void {
    const key = legKey(leg.callId, leg.user, leg.device);
    if (this.legs.get(key) !== leg) return;
    this.legs.delete(key);
    this.byUser.delete(leg.user, key);
    this.byUser.delete(leg.peerUser, key);
  }

  /** The legs of a device that disconnected. */
  legsOfDevice(user: string, device: string): CallLeg[] {
    const out: CallLeg[] = [];
    for (const key of this.byUser.values(user)) {
      const leg = this.legs.get(key);
      if (leg && leg.user === user && leg.device === device) out.push(leg);
    }
    return out;
  }

  /**
   * A call frame pushed by another party reached this device (here or
   * through the bus): an offer rings it, an answer makes the caller's leg
   * live, an end drops the leg.
   */
  onSignal(user: string, device: string, signal: CallSignal): void {
    if (signal.kind === 'offer') return this.ring(signal.callId, user, device, signal.fromUser, signal.fromDevice);
    const leg = this.legs.get(legKey(signal.callId, user, device));
    if (!leg) return;
    if (signal.kind === 'answer') this.goLive(leg, signal.fromDevice);
    else this.drop(leg);
  }

  get size(): number {
    return this.legs.size;
  }

  private put(leg: CallLeg): CallLeg {
    const key = legKey(leg.callId, leg.user, leg.device);
    const old = this.legs.get(key);
    if (old) this.drop(old);
    this.legs.set(key, leg);
    this.byUser.add(leg.user, key);
    if (leg.rang) this.byUser.add(leg.peerUser, key);
    return leg;
  }
}

/** Ids never hold NUL (fields.ts). */
const legKey = (callId: string, user: string, device: string): string => `${callId}\u0000${user}\u0000${device}`;
