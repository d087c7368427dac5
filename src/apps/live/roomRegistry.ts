import { TypedEmitter } from '../../util/typedEmitter.ts';
import { silentLogger, type LiveLogger } from './logger.ts';
import { RequestError } from './requestError.ts';
import { Room } from './room.ts';
import type { Sfu } from './sfu.ts';

/** Why a room closed. */
export type RoomCloseReason =
  /** Its last member left. */
  | 'empty'
  /** The SFU's worker closed or died (the router went with it). */
  | 'workerclose'
  /** The server is closing. */
  | 'shutdown';

/** Events of the registry's `observer` (monitoring, and the server's wiring). */
export type RoomRegistryObserverEvents = {
  newroom: [room: Room];
  roomclose: [room: Room, reason: RoomCloseReason];
};

/** Options of the room registry. */
export interface RoomRegistryOptions {
  /** Most rooms at once. Default 32. */
  maxRooms?: number;
  logger?: LiveLogger;
}

/**
 * The server's rooms by name: a room (and its router) is created on first use, closed when its last
 * member leaves or when the SFU's worker goes away, and every room is closed by `closeAll()`. Each
 * creation and closing is announced on `observer`.
 */
export class RoomRegistry {
  readonly observer: TypedEmitter<RoomRegistryObserverEvents>;
  readonly #sfu: Sfu;
  readonly #maxRooms: number;
  readonly #log: LiveLogger;
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();
  #closed = false;

  constructor(sfu: Sfu, o: RoomRegistryOptions = {}) {
    this.#sfu = sfu;
    this.#maxRooms = o.maxRooms ?? 32;
    this.#log = o.logger ?? silentLogger;
    this.observer = new TypedEmitter((event, e) => this.#log.error({ event, err: (e as Error)?.message }, 'room registry listener failed'));
  }

  get size(): number {
    return this.#rooms.size;
  }

  rooms(): IterableIterator<Room> {
    return this.#rooms.values();
  }

  /** The open room called `name`, created (with its router) when there is none. E_STATE past `maxRooms`. */
  async open(name: string): Promise<Room> {
    if (this.#closed) throw new RequestError('E_STATE', 'server is closing');
    const existing = this.#rooms.get(name);
    if (existing && !existing.closed) return existing;
    let creating = this.#creating.get(name);
    if (!creating) {
      if (this.#rooms.size >= this.#maxRooms) throw new RequestError('E_STATE', 'too many rooms');
      creating = this.#create(name).finally(() => this.#creating.delete(name));
      this.#creating.set(name, creating);
    }
    return creating;
  }

  /** A member left `room`: an empty room is closed. */
  left(room: Room): void {
    if (room.memberCount === 0) this.#close(room, 'empty');
  }

  /** Closes every room (and router). Idempotent. */
  closeAll(): void {
    this.#closed = true;
    for (const room of [...this.#rooms.values()]) this.#close(room, 'shutdown');
  }

  async #create(name: string): Promise<Room> {
    const room = await Room.create(name, this.#sfu, this.#log);
    if (this.#closed) {
      room.close();
      throw new RequestError('E_STATE', 'server is closing');
    }
    room.on('workerclose', () => this.#close(room, 'workerclose'));
    this.#rooms.set(name, room);
    this.#log.info({ room: name }, 'room created');
    this.observer.safeEmit('newroom', room);
    return room;
  }

  #close(room: Room, reason: RoomCloseReason): void {
    if (this.#rooms.get(room.name) !== room) return;
    this.#rooms.delete(room.name);
    room.close();
    this.#log.info({ room: room.name, reason }, 'room closed');
    this.observer.safeEmit('roomclose', room, reason);
  }
}
