import type { types as ms } from 'mediasoup';
import { TypedEmitter } from '../../util/typedEmitter.ts';
import { silentLogger, type LiveLogger } from './logger.ts';
import type { ClientRequest, ConsumeData, FaceInfo, ProducerInfo, RestoreStats, ServerMessage, TransportData } from './protocol.ts';
import { mediaCall as media, RequestError } from './requestError.ts';
import { RestoreJobs } from './restoreJobs.ts';
import { MemberMedia, type RoomMember } from './roomMember.ts';
import type { Sfu } from './sfu.ts';

/** Events of a room, for its owner (the room registry). */
export type RoomEvents = {
  /** A camera producer appeared, or lost its restorer, and no idle restorer took it. */
  needrestorer: [producerId: string];
  /** The router closed under the room because the SFU's worker closed or died; the room is closed. */
  workerclose: [];
};

/** Events of a room's `observer` (monitoring). */
export type RoomObserverEvents = {
  /** The room closed, for whatever reason. */
  close: [];
  /** A restorer's accepted report on one camera stream (totals since that stream started). */
  restorestats: [producerId: string, stats: RestoreStats];
};

/**
 * A room: one mediasoup router, which it creates, owns and closes, plus its members and their
 * transports, producers and consumers. Every camera producer gets a restorer member (assigned here;
 * `needrestorer` asks the owner for one when none is idle); closing a producer closes the consumers of
 * it (mediasoup) and ends its restore job.
 * Ownership, as in mediasoup: Room → router → transports → producers/consumers; `removeMember` and
 * `close()` cascade, and a worker death reaches the room through its router's `workerclose`.
 */
export class Room extends TypedEmitter<RoomEvents> {
  readonly name: string;
  readonly router: ms.Router;
  readonly observer: TypedEmitter<RoomObserverEvents>;
  readonly #sfu: Sfu;
  readonly #log: LiveLogger;
  readonly #members = new Map<string, MemberMedia>();
  readonly #jobs = new RestoreJobs();
  #closed = false;

  private constructor(name: string, router: ms.Router, sfu: Sfu, log: LiveLogger) {
    const onListenerError = (event: string, e: unknown) => log.error({ room: name, event, err: (e as Error)?.message }, 'room listener failed');
    super(onListenerError);
    this.observer = new TypedEmitter(onListenerError);
    this.name = name;
    this.router = router;
    this.#sfu = sfu;
    this.#log = log;
    router.on('workerclose', () => {
      if (this.#closed) return;
      this.#log.warn({ room: name }, 'router closed with the mediasoup worker; room closed');
      this.#close();
      this.safeEmit('workerclose');
    });
  }

  /** Creates the room's router on the SFU and the room around it. */
  static async create(name: string, sfu: Sfu, log: LiveLogger = silentLogger): Promise<Room> {
    const router = await sfu.createRouter({ room: name });
    return new Room(name, router, sfu, log);
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
    this.#members.set(member.peerId, new MemberMedia(member));
    // After the join response has gone out.
    if (member.role === 'restorer') setImmediate(() => this.#assignWaiting());
    return { routerRtpCapabilities: this.router.rtpCapabilities, producers: this.producerInfos() };
  }

  /** Every producer of the room. */
  producerInfos(): ProducerInfo[] {
    const out: ProducerInfo[] = [];
    for (const s of this.#members.values()) for (const p of s.producers.values()) out.push(s.info(p));
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
    if (s.member.role === 'restorer') for (const producerId of this.#jobs.release(peerId)) this.safeEmit('needrestorer', producerId);
  }

  async createTransport(peerId: string, direction: 'send' | 'recv'): Promise<TransportData> {
    const s = this.#state(peerId);
    s.checkLimit('transports');
    if (direction === 'send' && s.member.role === 'viewer') throw new RequestError('E_AUTH', 'viewers cannot send');
    const t = await this.#sfu.createWebRtcTransport(this.router, { peerId, direction });
    if (!this.#members.has(peerId)) {
      t.close();
      throw new RequestError('E_STATE', 'peer left');
    }
    s.addTransport(t);
    return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
  }

  async connectTransport(peerId: string, req: ClientRequest<'connectTransport'>): Promise<void> {
    const t = this.#state(peerId).transport(req.transportId);
    await media(() => t.connect({ dtlsParameters: req.dtlsParameters as unknown as ms.DtlsParameters }));
  }

  async produce(peerId: string, req: ClientRequest<'produce'>): Promise<{ id: string }> {
    const s = this.#state(peerId);
    const t = s.transport(req.transportId, 'send');
    s.checkLimit('producers');
    const role = s.member.role;
    if (req.source === 'camera' && role !== 'publisher') throw new RequestError('E_AUTH', 'only publishers produce camera tracks');
    if (req.source === 'restored') {
      if (role !== 'restorer') throw new RequestError('E_AUTH', 'only restorers produce restored tracks');
      if (!req.sourceProducerId || this.#jobs.restorerOf(req.sourceProducerId) !== peerId) throw new RequestError('E_AUTH', 'restorer is not assigned to that producer');
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
    s.addProducer(producer);
    this.#broadcast({ type: 'newProducer', producer: s.info(producer) }, peerId);
    if (req.source === 'camera') {
      this.#jobs.open(producer.id);
      this.#assignWaiting();
      if (this.#jobs.waiting(producer.id)) this.safeEmit('needrestorer', producer.id);
    }
    return { id: producer.id };
  }

  async consume(peerId: string, req: ClientRequest<'consume'>): Promise<ConsumeData> {
    const s = this.#state(peerId);
    const t = s.transport(req.transportId, 'recv');
    s.checkLimit('consumers');
    const owner = this.#producerOwner(req.producerId);
    if (!owner) throw new RequestError('E_NOT_FOUND', 'no such producer');
    const caps = req.rtpCapabilities as unknown as ms.RtpCapabilities;
    if (!this.router.canConsume({ producerId: req.producerId, rtpCapabilities: caps })) throw new RequestError('E_MEDIA', 'cannot consume that producer with these capabilities');
    const consumer = await media(() => t.consume({ producerId: req.producerId, rtpCapabilities: caps, paused: true }));
    if (!this.#members.has(peerId)) {
      consumer.close();
      throw new RequestError('E_STATE', 'peer left');
    }
    s.addConsumer(consumer);
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
    const restorer = this.#jobs.restorerOf(req.producerId);
    if (restorer === undefined) throw new RequestError('E_STATE', 'no restorer is attached to that producer yet');
    if (req.trackId === null && req.w === null) throw new RequestError('E_STATE', 'the default w cannot be removed');
    this.#members.get(restorer)?.member.send({ type: 'fidelity', producerId: req.producerId, trackId: req.trackId, w: req.w });
  }

  /** A restorer's report: forwarded to every browser member. */
  restoreStats(peerId: string, producerId: string, stats: RestoreStats, faces: FaceInfo[]): void {
    if (this.#jobs.restorerOf(producerId) !== peerId) throw new RequestError('E_AUTH', 'restorer is not assigned to that producer');
    this.#broadcast({ type: 'faces', producerId, stats, faces }, peerId, (m) => m.role !== 'restorer');
    this.observer.safeEmit('restorestats', producerId, stats);
  }

  /** The restorer peer id of a camera producer's job. */
  restorerOf(producerId: string): string | undefined {
    return this.#jobs.restorerOf(producerId);
  }

  /** Whether a camera producer still waits for a restorer. */
  waitingForRestorer(producerId: string): boolean {
    return this.#jobs.waiting(producerId);
  }

  /** Closes the room's router (and with it every transport, producer and consumer) and forgets its members. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#close();
  }

  #close(): void {
    this.#closed = true;
    this.#members.clear();
    this.#jobs.clear();
    // mediasoup cascades: router → transports → producers and consumers.
    this.router.close();
    this.observer.safeEmit('close');
  }

  /** Gives waiting jobs to idle restorers and tells them. */
  #assignWaiting(): void {
    if (this.#closed) return;
    const restorers = [...this.#members.values()].filter((s) => s.member.role === 'restorer').map((s) => s.member.peerId);
    for (const { producerId, restorer } of this.#jobs.assignWaiting(restorers)) {
      this.#members.get(restorer)?.member.send({ type: 'assign', producerId });
      this.#log.info({ room: this.name, producerId, restorer }, 'restore job assigned');
    }
  }

  /** Book-keeping when a producer closes: tell the room, end its job (and the restored producers of it). */
  #producerGone(owner: MemberMedia, p: ms.Producer): void {
    owner.producers.delete(p.id);
    this.#broadcast({ type: 'producerClosed', producerId: p.id }, owner.member.peerId);
    if (p.appData.source === 'camera') {
      const restorer = this.#jobs.end(p.id);
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

  #state(peerId: string): MemberMedia {
    const s = this.#members.get(peerId);
    if (!s) throw new RequestError('E_STATE', 'not in this room');
    return s;
  }

  #producerOwner(producerId: string): MemberMedia | undefined {
    for (const s of this.#members.values()) if (s.producers.has(producerId)) return s;
    return undefined;
  }
}
