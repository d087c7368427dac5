import type { types as ms } from 'mediasoup';
import { silentLogger, type LiveLogger } from './logger.ts';
import type { ClientRequest, ConsumeData, FaceInfo, ProducerInfo, RestoreStats, Role, ServerMessage, TransportData } from './protocol.ts';
import type { Sfu } from './sfu.ts';

/** A failure a request answers with (code + message); anything else is an internal error. */
export class RequestError extends Error {
  readonly code: 'E_STATE' | 'E_NOT_FOUND' | 'E_AUTH' | 'E_MEDIA';
  constructor(code: RequestError['code'], message: string) {
    super(message);
    this.name = 'RequestError';
    this.code = code;
  }
}

/** Per-peer resource limits (a token holder must not be able to exhaust the worker). */
export const PEER_LIMITS = { transports: 4, producers: 2, consumers: 16 } as const;

/** What the room needs from a connection. */
export interface RoomMember {
  readonly peerId: string;
  readonly role: Role;
  send(message: ServerMessage): void;
}

/** A member's media objects. */
interface MemberState {
  member: RoomMember;
  transports: Map<string, ms.WebRtcTransport>;
  producers: Map<string, ms.Producer>;
  consumers: Map<string, ms.Consumer>;
}

/** Hooks to the server's restorer management. */
export interface RoomHooks {
  /** A camera producer appeared and no idle restorer took it. */
  needRestorer?: (room: Room, producerId: string) => void;
}

/**
 * A room: one mediasoup router, its members and their transports, producers and consumers. Every
 * camera producer gets a restorer member (assigned here, spawned by the server when none is idle);
 * closing a producer closes the consumers of it (mediasoup) and ends its restore job.
 * Ownership: Room → member state → transports → producers/consumers; `removeMember` and `close` cascade.
 */
export class Room {
  readonly name: string;
  readonly router: ms.Router;
  readonly #sfu: Sfu;
  readonly #log: LiveLogger;
  readonly #hooks: RoomHooks;
  readonly #members = new Map<string, MemberState>();
  /** Camera producer id → restorer peer id (assigned) or undefined (waiting for one). */
  readonly #jobs = new Map<string, string | undefined>();
  #closed = false;

  constructor(name: string, router: ms.Router, sfu: Sfu, hooks: RoomHooks = {}, log: LiveLogger = silentLogger) {
    this.name = name;
    this.router = router;
    this.#sfu = sfu;
    this.#hooks = hooks;
    this.#log = log;
    router.observer.once('close', () => this.#closeMembersMedia());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get memberCount(): number {
    return this.#members.size;
  }

  /** Counts of live media objects (for tests and stats). */
  counts(): { members: number; transports: number; producers: number; consumers: number; jobs: number } {
    let transports = 0;
    let producers = 0;
    let consumers = 0;
    for (const s of this.#members.values()) {
      transports += s.transports.size;
      producers += s.producers.size;
      consumers += s.consumers.size;
    }
    return { members: this.#members.size, transports, producers, consumers, jobs: this.#jobs.size };
  }

  /** Adds a member; returns what `join` answers with. */
  addMember(member: RoomMember): { routerRtpCapabilities: ms.RtpCapabilities; producers: ProducerInfo[] } {
    if (this.#closed) throw new RequestError('E_STATE', 'room is closed');
    this.#members.set(member.peerId, { member, transports: new Map(), producers: new Map(), consumers: new Map() });
    // After the join response has gone out.
    if (member.role === 'restorer') setImmediate(() => this.#assignWaiting());
    return { routerRtpCapabilities: this.router.rtpCapabilities, producers: this.producerInfos() };
  }

  /** Every producer of the room. */
  producerInfos(): ProducerInfo[] {
    const out: ProducerInfo[] = [];
    for (const s of this.#members.values()) for (const p of s.producers.values()) out.push(infoOf(s.member, p));
    return out;
  }

  /** Removes a member: closes its transports (hence its producers and consumers) and ends its jobs. */
  removeMember(peerId: string): void {
    const s = this.#members.get(peerId);
    if (!s) return;
    // Closing a transport closes its producers without telling the room: snapshot them and announce here.
    const producers = [...s.producers.values()];
    for (const t of [...s.transports.values()]) t.close();
    for (const p of producers) this.#producerGone(s, p);
    this.#members.delete(peerId);
    if (s.member.role === 'restorer') {
      for (const [producerId, restorer] of this.#jobs) {
        if (restorer === peerId) {
          this.#jobs.set(producerId, undefined);
          this.#hooks.needRestorer?.(this, producerId);
        }
      }
    }
  }

  async createTransport(peerId: string, direction: 'send' | 'recv'): Promise<TransportData> {
    const s = this.#state(peerId);
    if (s.transports.size >= PEER_LIMITS.transports) throw new RequestError('E_STATE', `at most ${PEER_LIMITS.transports} transports per peer`);
    if (direction === 'send' && s.member.role === 'viewer') throw new RequestError('E_AUTH', 'viewers cannot send');
    const t = await this.#sfu.createWebRtcTransport(this.router, { peerId, direction });
    if (!this.#members.has(peerId)) {
      t.close();
      throw new RequestError('E_STATE', 'peer left');
    }
    s.transports.set(t.id, t);
    t.observer.once('close', () => s.transports.delete(t.id));
    return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
  }

  async connectTransport(peerId: string, req: ClientRequest<'connectTransport'>): Promise<void> {
    const t = this.#transport(peerId, req.transportId);
    await media(() => t.connect({ dtlsParameters: req.dtlsParameters as unknown as ms.DtlsParameters }));
  }

  async produce(peerId: string, req: ClientRequest<'produce'>): Promise<{ id: string }> {
    const s = this.#state(peerId);
    const t = this.#transport(peerId, req.transportId);
    if (t.appData.direction !== 'send') throw new RequestError('E_STATE', 'transport is not a send transport');
    if (s.producers.size >= PEER_LIMITS.producers) throw new RequestError('E_STATE', `at most ${PEER_LIMITS.producers} producers per peer`);
    const role = s.member.role;
    if (req.source === 'camera' && role !== 'publisher') throw new RequestError('E_AUTH', 'only publishers produce camera tracks');
    if (req.source === 'restored') {
      if (role !== 'restorer') throw new RequestError('E_AUTH', 'only restorers produce restored tracks');
      if (!req.sourceProducerId || this.#jobs.get(req.sourceProducerId) !== peerId) throw new RequestError('E_AUTH', 'restorer is not assigned to that producer');
    }
    if (req.kind !== 'video') throw new RequestError('E_MEDIA', 'only video is routed');
    const producer = await media(() =>
      t.produce({
        kind: req.kind,
        rtpParameters: req.rtpParameters as unknown as ms.RtpParameters,
        appData: { source: req.source, sourceProducerId: req.sourceProducerId, peerId },
      }),
    );
    if (!this.#members.has(peerId)) {
      producer.close();
      throw new RequestError('E_STATE', 'peer left');
    }
    s.producers.set(producer.id, producer);
    producer.observer.once('close', () => s.producers.delete(producer.id));
    const info = infoOf(s.member, producer);
    this.#broadcast({ type: 'newProducer', producer: info }, peerId);
    if (req.source === 'camera') {
      this.#jobs.set(producer.id, undefined);
      if (!this.#assign(producer.id)) this.#hooks.needRestorer?.(this, producer.id);
    }
    return { id: producer.id };
  }

  async consume(peerId: string, req: ClientRequest<'consume'>): Promise<ConsumeData> {
    const s = this.#state(peerId);
    const t = this.#transport(peerId, req.transportId);
    if (t.appData.direction !== 'recv') throw new RequestError('E_STATE', 'transport is not a receive transport');
    if (s.consumers.size >= PEER_LIMITS.consumers) throw new RequestError('E_STATE', `at most ${PEER_LIMITS.consumers} consumers per peer`);
    const owner = this.#producerOwner(req.producerId);
    if (!owner) throw new RequestError('E_NOT_FOUND', 'no such producer');
    const caps = req.rtpCapabilities as unknown as ms.RtpCapabilities;
    if (!this.router.canConsume({ producerId: req.producerId, rtpCapabilities: caps })) throw new RequestError('E_MEDIA', 'cannot consume that producer with these capabilities');
    const consumer = await media(() => t.consume({ producerId: req.producerId, rtpCapabilities: caps, paused: true }));
    if (!this.#members.has(peerId)) {
      consumer.close();
      throw new RequestError('E_STATE', 'peer left');
    }
    s.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => s.consumers.delete(consumer.id));
    consumer.on('producerclose', () => {
      consumer.close();
      s.member.send({ type: 'producerClosed', producerId: req.producerId });
    });
    return { id: consumer.id, producerId: req.producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
  }

  async resumeConsumer(peerId: string, consumerId: string): Promise<void> {
    const c = this.#state(peerId).consumers.get(consumerId);
    if (!c) throw new RequestError('E_NOT_FOUND', 'no such consumer');
    await media(() => c.resume());
    // Ask the sender for a key frame so the picture starts at once.
    await c.requestKeyFrame().catch(() => undefined);
  }

  closeProducer(peerId: string, producerId: string): void {
    const s = this.#state(peerId);
    const p = s.producers.get(producerId);
    if (!p) throw new RequestError('E_NOT_FOUND', 'no such producer');
    p.close();
    this.#producerGone(s, p);
  }

  /** A publisher changes a face's w (or its default); forwarded to the restorer of that producer. */
  setFidelity(peerId: string, req: ClientRequest<'setFidelity'>): void {
    const s = this.#state(peerId);
    if (!s.producers.has(req.producerId) || s.producers.get(req.producerId)!.appData.source !== 'camera') {
      throw new RequestError('E_AUTH', 'only the publisher of a camera producer sets its fidelity');
    }
    const restorer = this.#jobs.get(req.producerId);
    if (restorer === undefined) throw new RequestError('E_STATE', 'no restorer is attached to that producer yet');
    if (req.trackId === null && req.w === null) throw new RequestError('E_STATE', 'the default w cannot be removed');
    this.#members.get(restorer)?.member.send({ type: 'fidelity', producerId: req.producerId, trackId: req.trackId, w: req.w });
  }

  /** A restorer's report: forwarded to every browser member. */
  restoreStats(peerId: string, producerId: string, stats: RestoreStats, faces: FaceInfo[]): void {
    if (this.#jobs.get(producerId) !== peerId) throw new RequestError('E_AUTH', 'restorer is not assigned to that producer');
    this.#broadcast({ type: 'faces', producerId, stats, faces }, peerId, (m) => m.role !== 'restorer');
  }

  /** The restorer peer id of a camera producer's job. */
  restorerOf(producerId: string): string | undefined {
    return this.#jobs.get(producerId);
  }

  /** Whether a camera producer still waits for a restorer. */
  waitingForRestorer(producerId: string): boolean {
    return this.#jobs.has(producerId) && this.#jobs.get(producerId) === undefined;
  }

  /** Closes every member's media; the router is closed by the owner (Sfu.closeRouter). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeMembersMedia();
    this.#members.clear();
    this.#jobs.clear();
  }

  #closeMembersMedia(): void {
    for (const s of this.#members.values()) for (const t of s.transports.values()) t.close();
  }

  /** Gives a waiting job to an idle restorer; true when assigned. */
  #assign(producerId: string): boolean {
    const busy = new Set([...this.#jobs.values()].filter((v) => v !== undefined));
    for (const s of this.#members.values()) {
      if (s.member.role !== 'restorer' || busy.has(s.member.peerId)) continue;
      this.#jobs.set(producerId, s.member.peerId);
      s.member.send({ type: 'assign', producerId });
      this.#log.info({ room: this.name, producerId, restorer: s.member.peerId }, 'restore job assigned');
      return true;
    }
    return false;
  }

  #assignWaiting(): void {
    for (const [producerId, restorer] of this.#jobs) if (restorer === undefined && !this.#assign(producerId)) return;
  }

  /** Book-keeping when a producer closes: tell the room, end its job (and the restored producers of it). */
  #producerGone(owner: MemberState, p: ms.Producer): void {
    owner.producers.delete(p.id);
    this.#broadcast({ type: 'producerClosed', producerId: p.id }, owner.member.peerId);
    if (p.appData.source === 'camera') {
      const restorer = this.#jobs.get(p.id);
      this.#jobs.delete(p.id);
      const rs = restorer === undefined ? undefined : this.#members.get(restorer);
      if (rs) {
        for (const rp of [...rs.producers.values()]) {
          if (rp.appData.sourceProducerId === p.id) {
            rp.close();
            this.#producerGone(rs, rp);
          }
        }
        rs.member.send({ type: 'unassign', producerId: p.id });
        setImmediate(() => this.#assignWaiting());
      }
    }
  }

  #broadcast(message: ServerMessage, exceptPeerId: string | undefined, filter: (m: RoomMember) => boolean = () => true): void {
    for (const s of this.#members.values()) if (s.member.peerId !== exceptPeerId && filter(s.member)) s.member.send(message);
  }

  #state(peerId: string): MemberState {
    const s = this.#members.get(peerId);
    if (!s) throw new RequestError('E_STATE', 'not in this room');
    return s;
  }

  #transport(peerId: string, transportId: string): ms.WebRtcTransport {
    const t = this.#state(peerId).transports.get(transportId);
    if (!t) throw new RequestError('E_NOT_FOUND', 'no such transport');
    return t;
  }

  #producerOwner(producerId: string): MemberState | undefined {
    for (const s of this.#members.values()) if (s.producers.has(producerId)) return s;
    return undefined;
  }
}

function infoOf(member: RoomMember, p: ms.Producer): ProducerInfo {
  const source = p.appData.source as ProducerInfo['source'];
  const sourceProducerId = p.appData.sourceProducerId as string | undefined;
  return { producerId: p.id, peerId: member.peerId, kind: p.kind, source, ...(sourceProducerId ? { sourceProducerId } : {}) };
}

/** Runs a mediasoup call; its validation errors (TypeError, …) become E_MEDIA answers. */
async function media<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new RequestError('E_MEDIA', (e as Error).message.slice(0, 300));
  }
}
