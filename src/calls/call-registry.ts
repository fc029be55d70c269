import { KeyedSets } from '../util/keyed-sets.ts';

/**
 * Calls this node knows about, for the two rules the relay enforces on call
 * signalling: a user already in a call is busy for any other call, and once
 * one of the callee's devices answers, the others stop ringing. The relay
 * never sees media or keys; SDP and ICE travel opaque.
 *
 * A call that rings unanswered for `ringMs` is forgotten, so a lost
 * `call_end` cannot leave a user busy forever.
 */
export interface Call {
  id: string;
  callerUser: string;
  callerDevice: string;
  calleeUser: string;
  answeredBy: string | undefined;
  ringingSince: number;
}

export class CallRegistry {
  private readonly calls = new Map<string, Call>();
  private readonly byUser = new KeyedSets<string, string>();

  constructor(
    private readonly now: () => number,
    private readonly ringMs = 60_000,
  ) {}

  get(id: string): Call | undefined {
    const c = this.calls.get(id);
    if (c && c.answeredBy === undefined && this.now() - c.ringingSince > this.ringMs) {
      this.remove(c);
      return undefined;
    }
    return c;
  }

  /** True when the user is in (or ringing in) a call other than `exceptCall`. */
  isBusy(user: string, exceptCall: string): boolean {
    for (const id of this.byUser.values(user)) if (id !== exceptCall && this.get(id)) return true;
    return false;
  }

  start(id: string, callerUser: string, callerDevice: string, calleeUser: string): Call {
    const call: Call = { id, callerUser, callerDevice, calleeUser, answeredBy: undefined, ringingSince: this.now() };
    this.calls.set(id, call);
    this.byUser.add(callerUser, id);
    this.byUser.add(calleeUser, id);
    return call;
  }

  answer(call: Call, device: string): void {
    call.answeredBy = device;
  }

  remove(call: Call): void {
    this.calls.delete(call.id);
    this.byUser.delete(call.callerUser, call.id);
    this.byUser.delete(call.calleeUser, call.id);
  }

  /** Calls in which this device is a party: the caller's device, or the callee's answering device. */
  callsOfDevice(user: string, device: string): Call[] {
    const out: Call[] = [];
    for (const id of this.byUser.values(user)) {
      const c = this.calls.get(id);
      if (c && ((c.callerUser === user && c.callerDevice === device) || (c.calleeUser === user && c.answeredBy === device))) out.push(c);
    }
    return out;
  }
}
