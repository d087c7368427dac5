import { tokenMatches } from './auth.ts';
import { silentLogger, type LiveLogger } from './logger.ts';
import type { ClientMessage, JoinedData, Role } from './protocol.ts';
import { AuthError, RequestError } from './requestError.ts';
import type { Room } from './room.ts';
import type { RoomMember } from './roomMember.ts';
import type { RoomRegistry } from './roomRegistry.ts';

/** A connection as the router sees it: a room member that may have joined a room. */
export interface RoutedMember extends RoomMember {
  readonly room: Room | undefined;
  readonly role: Role;
}

/** Options of the request router. */
export interface RequestRouterOptions {
  /** Token browsers (publishers, viewers) present. */
  token: string;
  /** Token restore peers present. */
  peerToken: string;
  /** Most members per room. Default 16. */
  maxRoomMembers?: number;
  logger?: LiveLogger;
}

/**
 * Turns signaling requests into room operations: `join` checks the token for the role and opens the
 * room (created on first use); every other request goes to the member's room, after the checks that do
 * not depend on the room (joined, role). Answers are the response data; failures are RequestError
 * (answered with their code) or AuthError (answered, then the connection closes).
 */
export class RequestRouter {
  readonly #rooms: RoomRegistry;
  readonly #o: RequestRouterOptions;
  readonly #log: LiveLogger;

  constructor(rooms: RoomRegistry, o: RequestRouterOptions) {
    this.#rooms = rooms;
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
  }

  /** Handles `join`: the room member is added to the room (E_AUTH for a wrong token, E_STATE when full). */
  async join(member: RoomMember, msg: Extract<ClientMessage, { type: 'join' }>): Promise<{ room: Room; data: JoinedData }> {
    const expected = msg.role === 'restorer' ? this.#o.peerToken : this.#o.token;
    if (!tokenMatches(msg.token, expected)) throw new AuthError('wrong token');
    const room = await this.#rooms.open(msg.room);
    if (room.memberCount >= (this.#o.maxRoomMembers ?? 16)) throw new RequestError('E_STATE', 'room is full');
    const joined = room.addMember(member);
    this.#log.info({ room: msg.room, peer: member.peerId, role: msg.role, name: msg.name }, 'joined');
    return { room, data: { peerId: member.peerId, role: msg.role, routerRtpCapabilities: joined.routerRtpCapabilities, producers: joined.producers } };
  }

  /** A member left its room (or never got in after all): an empty room is closed. */
  left(member: RoomMember, room: Room): void {
    room.removeMember(member.peerId);
    this.#rooms.left(room);
  }

  /** Every request but `join`. */
  handle(member: RoutedMember, msg: Exclude<ClientMessage, { type: 'join' }>): Promise<unknown> | unknown {
    // Even ping needs a join: an unauthenticated socket gets nothing but its join window.
    const room = member.room;
    if (!room) throw new RequestError('E_STATE', 'join first');
    if (msg.type === 'ping') return { t: msg.t, serverTime: Date.now() };
    const id = member.peerId;
    switch (msg.type) {
      case 'createTransport':
        return room.createTransport(id, msg.direction);
      case 'connectTransport':
        return room.connectTransport(id, msg).then(() => ({}));
      case 'produce':
        return room.produce(id, msg);
      case 'consume':
        return room.consume(id, msg);
      case 'resumeConsumer':
        return room.resumeConsumer(id, msg.consumerId).then(() => ({}));
      case 'closeProducer':
        room.closeProducer(id, msg.producerId);
        return {};
      case 'setFidelity':
        room.setFidelity(id, msg);
        return {};
      case 'restoreStats':
        if (member.role !== 'restorer') throw new RequestError('E_AUTH', 'only restorers report stats');
        room.restoreStats(id, msg.producerId, msg.stats, msg.faces);
        return {};
    }
  }
}
