import type { types as ms } from 'mediasoup';
import type { ProducerInfo, Role, ServerMessage } from './protocol.ts';
import { RequestError } from './requestError.ts';

/** Per-peer resource limits (a token holder must not be able to exhaust the worker). */
export const PEER_LIMITS = { transports: 4, producers: 2, consumers: 16 } as const;

/** What a room needs from a connection. */
export interface RoomMember {
  readonly peerId: string;
  readonly role: Role;
  send(message: ServerMessage): void;
}

/**
 * A member's media objects in its room: transports, and the producers and consumers on them. Each
 * forgets an object when mediasoup closes it (closing a transport closes its producers and consumers),
 * and refuses to grow past PEER_LIMITS.
 */
export class MemberMedia {
  readonly member: RoomMember;
  readonly transports = new Map<string, ms.WebRtcTransport>();
  readonly producers = new Map<string, ms.Producer>();
  readonly consumers = new Map<string, ms.Consumer>();

  constructor(member: RoomMember) {
    this.member = member;
  }

  /** Throws E_STATE when the member already has as many objects of `kind` as it may. */
  checkLimit(kind: keyof typeof PEER_LIMITS): void {
    if (this[kind].size >= PEER_LIMITS[kind]) throw new RequestError('E_STATE', `at most ${PEER_LIMITS[kind]} ${kind} per peer`);
  }

  /** One of the member's transports, of the given direction (E_NOT_FOUND, E_STATE). */
  transport(transportId: string, direction?: 'send' | 'recv'): ms.WebRtcTransport {
    const t = this.transports.get(transportId);
    if (!t) throw new RequestError('E_NOT_FOUND', 'no such transport');
    if (direction && t.appData.direction !== direction) throw new RequestError('E_STATE', `transport is not a ${direction === 'send' ? 'send' : 'receive'} transport`);
    return t;
  }

  addTransport(t: ms.WebRtcTransport): void {
    this.transports.set(t.id, t);
    t.observer.once('close', () => this.transports.delete(t.id));
  }

  addProducer(p: ms.Producer): void {
    this.producers.set(p.id, p);
    p.observer.once('close', () => this.producers.delete(p.id));
  }

  addConsumer(c: ms.Consumer): void {
    this.consumers.set(c.id, c);
    c.observer.once('close', () => this.consumers.delete(c.id));
  }

  /** What the room tells everyone about one of this member's producers. */
  info(p: ms.Producer): ProducerInfo {
    const source = p.appData.source as ProducerInfo['source'];
    const sourceProducerId = p.appData.sourceProducerId as string | undefined;
    return { producerId: p.id, peerId: this.member.peerId, kind: p.kind, source, ...(sourceProducerId ? { sourceProducerId } : {}) };
  }
}
