/**
 * Captures as Node and the web stream them: readCapture() reads any capture from a file path, a
 * Node Readable, a web ReadableStream, a Blob or bytes as an async iterable of packets; annotate() is
 * `pcap annotate` as a web TransformStream (`fetch(url).body.pipeThrough(annotate())`; Node's
 * pipeline() takes it too), annotateTransform() as a Node Transform. Memory stays bounded whatever
 * the input: one reader buffer (a maximal record and a chunk), one chunk of input at a time.
 * Everything but file paths and annotateTransform() runs in browsers.
 */
import { type FileHandle, open } from "node:fs/promises";
import { Transform } from "node:stream";
import { TraitsError } from "../core/errors.js";
import type { Profile } from "../core/options.js";
import { TraitStore } from "../store/store.js";
import { AnnotateFeed, annotateOptions, type AnnotateSettings } from "./annotate.js";
import {
  BLOCK,
  CaptureReader,
  END,
  MORE,
  OPT_COMMENT,
  OPT_END,
  PACKET,
  READ_CHUNK,
  READER_BYTES,
  SHB,
  SPB,
  TRAITS_OPTION,
} from "./capture.js";
import { FileError } from "./io.js";
import { SectionNames } from "./show.js";

// The web and Node stream types the declarations below name, declared so that they need neither
// the DOM lib nor @types/node: empty interfaces that merge with the real ones where those are loaded
// (with the same type parameters), and stand alone where they are not.
declare global {
  // biome-ignore lint/suspicious/noExplicitAny: the DOM lib's own defaults, which a merged declaration must repeat
  interface ReadableStream<R = any> {}
  // biome-ignore lint/suspicious/noExplicitAny: as above
  interface TransformStream<I = any, O = any> {}
  interface Blob {}
  namespace NodeJS {
    interface ReadWriteStream {}
  }
}

/** What readCapture() reads: a file path (Node), bytes, a web ReadableStream, a Blob (a browser's File), or any (async) iterable of byte chunks (a Node Readable). */
export type CaptureSource =
  | string
  | Uint8Array
  | ReadableStream<Uint8Array>
  | Blob
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>;

/** A file read with FileHandle.read (opened once, at the first read); errors name the path (FileError). */
class FileInput {
  private opening: Promise<FileHandle> | undefined;
  private closed = false;
  /** The read in flight, if any (close() waits for it on a regular file). */
  private reading: Promise<number> | undefined;
  /** Whether the file is a regular file (known after the first read): only those are read ahead. */
  regular = false;

  constructor(private readonly path: string) {}

  /** Opens the file once (two reads that start together share the one descriptor). */
  private handle(): Promise<FileHandle> {
    this.opening ??= open(this.path, "r").then(async (handle) => {
      this.regular = (await handle.stat()).isFile();
      return handle;
    });
    return this.opening;
  }

  /** Reads up to `length` bytes into into[at...]; resolves to how many (0 at the end, or once closed). */
  read(into: Uint8Array, at: number, length: number): Promise<number> {
    const reading = (async () => {
      if (this.closed) return 0;
      try {
        return (await (await this.handle()).read(into, at, length, null)).bytesRead;
      } catch (error) {
        throw FileError.from(error, `cannot read ${this.path}`);
      }
    })();
    reading.catch(() => {}); // handled: its caller or close() awaits it
    return (this.reading = reading);
  }

  /**
   * Closes the file (idempotent). A regular file once the read in flight has ended; a FIFO or device
   * at once, its descriptor closed in the background when the read in flight ends (that read waits
   * for a writer that may be idle for as long as it likes: a `break` must not).
   */
  async close(): Promise<void> {
    this.closed = true;
    const { opening, reading } = this;
    this.opening = undefined;
    if (!opening) return;
    const handle = await opening.catch(() => undefined);
    if (!handle) return;
    if (reading && !this.regular) {
      void reading.catch(() => {}).then(() => handle.close().catch(() => {}));
      return;
    }
    await reading?.catch(() => {});
    await handle.close();
  }
}

/**
 * How far into the reader's buffer a file is read ahead: the next chunk is read (in Node's thread
 * pool) into the buffer after the bytes being parsed while they are parsed, up to this index; once
 * the next chunk would pass it, the unread bytes (the chunk just read) first move to the front of
 * the buffer, so that no read waits while the parse keeps up. Four chunks: the pages touched stay few.
 */
const READ_AHEAD_END = 4 * READ_CHUNK;

/** The chunks of a source other than a path, as an async iterator. */
async function* chunksOf(source: Exclude<CaptureSource, string>): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
  } else if (typeof (source as ReadableStream).getReader === "function") {
    const reader = (source as ReadableStream<Uint8Array>).getReader();
    let done = false;
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) yield r.value;
      done = true;
    } finally {
      // Left early (a break, a malformed capture): the stream is cancelled, as its own async iterator does.
      if (!done) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  } else if (typeof (source as Blob).stream === "function") {
    yield* chunksOf((source as Blob).stream());
  } else {
    yield* source as AsyncIterable<Uint8Array>;
  }
}

/**
 * A packet of a capture, as readCapture() yields it. One object is reused for every packet, and its
 * views (data, traits) look into the reader's buffer: they are valid until the iteration moves on
 * (the next packet, or the next batch for batches()). Copy what you keep (`packet.data.slice()`,
 * `packet.traits?.toBytes()`). The fields are read on access: what you do not read costs nothing.
 */
export class CapturePacket {
  private view: TraitStore | undefined;
  private viewProfile: Profile | undefined;
  private readonly scratch = new Uint8Array(65536);

  /** @internal */
  constructor(
    private readonly reader: CaptureReader,
    private readonly section: SectionNames,
  ) {}

  /** The packet's index in the capture, from 0 (Wireshark's frame number - 1). */
  get index(): number {
    return this.reader.packet;
  }

  /** The byte offset of its record in the capture. */
  get offset(): number {
    return this.reader.offset;
  }

  /** Its interface's index in the section, and the interface's link type (1: Ethernet). */
  get interfaceId(): number {
    return this.reader.interfaceId;
  }
  get linkType(): number {
    return this.reader.interfaces[this.reader.interfaceId]!.linkType;
  }

  /** Its capture time in ns since 1970 (if_tsresol and if_tsoffset applied), exact; undefined for a simple packet block, which has none. */
  get timestamp(): bigint | undefined {
    return this.reader.type === SPB ? undefined : this.reader.timestampBig();
  }

  /** The bytes captured, and the packet's length on the wire. */
  get capturedLength(): number {
    return this.reader.captured;
  }
  get originalLength(): number {
    return this.reader.original;
  }

  /** The captured bytes: a view into the reader's buffer (see the class). */
  get data(): Uint8Array {
    const { reader } = this;
    return reader.bytes.subarray(reader.dataAt, reader.dataAt + reader.captured);
  }

  /**
   * Its trait store (our custom option), as a view of a copy that the next packet overwrites (see the
   * class), in the profile of the section's names option (else v1); undefined for a packet without
   * one. Throws EBADMSG (naming the packet and byte offset) for an option too short for a store.
   */
  get traits(): TraitStore | undefined {
    const found = this.reader.ourOption(TRAITS_OPTION);
    if (!found) return undefined;
    if (found.length < 16)
      throw new TraitsError(
        "EBADMSG",
        `byte offset ${this.offset}: packet ${this.index}: its traits option holds ${found.length} bytes, less than a store's header`,
      );
    const profile = this.section.profile;
    this.scratch.set(found);
    if (this.viewProfile !== profile) {
      this.view = TraitStore.over(this.scratch.subarray(0, found.length), { profile, impl: "js" });
      this.viewProfile = profile;
    }
    return this.view!.retarget(0, found.length);
  }

  /** The names of the keys the section's stores hold (its names option, else the hardware keys'). */
  get names(): ReadonlyMap<number, string> {
    return this.section.names;
  }

  /** The standard EPB options: epb_packetid, epb_queue, the eBPF XDP verdict of epb_verdict, the Toeplitz hash of epb_hash; undefined where absent. */
  get packetId(): bigint | undefined {
    const at = this.reader.packetIdAt;
    return at < 0 ? undefined : this.reader.view.getBigUint64(at, this.reader.littleEndian);
  }
  get queue(): number | undefined {
    const at = this.reader.queueAt;
    return at < 0 ? undefined : this.reader.u32(at);
  }
  get xdpVerdict(): number | undefined {
    const at = this.reader.verdictAt;
    return at < 0 ? undefined : Number(this.reader.view.getBigUint64(at + 1, this.reader.littleEndian));
  }
  get rssHash(): number | undefined {
    const at = this.reader.hashAt;
    return at < 0 ? undefined : this.reader.view.getUint32(at + 1, this.reader.littleEndian);
  }

  /** The packet's comments (UTF-8), ours among them. */
  get comments(): string[] {
    const found: string[] = [],
      { reader } = this,
      decoder = new TextDecoder();
    for (let at = reader.optionsAt; at + 4 <= reader.optionsEnd; ) {
      const code = reader.u16(at),
        length = reader.u16(at + 2);
      if (code === OPT_END) break;
      if (code === OPT_COMMENT) found.push(decoder.decode(reader.bytes.subarray(at + 4, at + 4 + length)));
      at += 4 + length + ((4 - (length % 4)) % 4);
    }
    return found;
  }
}

/**
 * A capture read as an async iterable of packets (readCapture()). One pass: iterate it once, with
 * `for await (const packet of ...)` (one await a packet) or, in hot loops, batches() (one await a
 * chunk of input: as fast as the synchronous CaptureReader).
 */
export class CaptureStream implements AsyncIterableIterator<CapturePacket> {
  private readonly reader = new CaptureReader(undefined, new Uint8Array(READER_BYTES));
  private readonly section = new SectionNames();
  private readonly packet = new CapturePacket(this.reader, this.section);
  /** Where the bytes come from: a file read into the reader's buffer, or the chunks of any other source. */
  private readonly file: FileInput | undefined;
  private readonly chunks: AsyncIterator<Uint8Array> | undefined;
  /** The file's read ahead in flight, into the reader's buffer at its unreadEnd (room() is not called meanwhile). */
  private ahead: Promise<number> | undefined;
  /** The fill in flight, if any: a next() (or batch) that comes meanwhile waits for it, never starts another. */
  private filling: Promise<void> | undefined;
  private chunk: Uint8Array | undefined;
  private used = 0;
  private ended = false;
  /** What step() found last: PACKET, MORE or END. */
  private last = PACKET;
  /** The result every packet resolves to (reused), and its resolved promise. */
  private readonly result: IteratorResult<CapturePacket> = { value: this.packet, done: false };
  private readonly ready = Promise.resolve(this.result);
  private readonly finished: Promise<IteratorResult<CapturePacket>> = Promise.resolve({
    value: undefined,
    done: true,
  });

  /** @internal */
  constructor(source: CaptureSource) {
    const any = source as unknown as Record<string | symbol, unknown> | null | undefined;
    if (
      typeof source !== "string" &&
      !(source instanceof Uint8Array) &&
      !["getReader", "stream", Symbol.asyncIterator, Symbol.iterator].some((m) => typeof any?.[m] === "function")
    )
      throw new TraitsError(
        "EINVAL",
        `readCapture: the source must be a path, bytes (a Uint8Array), a ReadableStream, a Blob or an iterable of byte chunks, not ${Object.prototype.toString.call(source)}`,
      );
    if (typeof source === "string") this.file = new FileInput(source);
    else this.chunks = chunksOf(source);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next packet (the same object every time: see CapturePacket). Rejects with EBADMSG naming the byte offset (and the packet before it) of what is malformed, and with the source's errors. */
  next(): Promise<IteratorResult<CapturePacket>> {
    if (this.filling)
      return this.filling.then(
        () => this.next(),
        () => this.next(),
      );
    if (!this.ended)
      try {
        const kind = this.step();
        if (kind === PACKET) return this.ready;
        if (kind === MORE)
          return this.fill().then(
            () => this.next(),
            (error) => this.fail(error),
          );
      } catch (error) {
        return this.fail(error);
      }
    return this.finished;
  }

  /** Ends the iteration on `error`: the source is released (a file closed, a stream destroyed or cancelled), then `error` rejects. */
  private async fail(error: unknown): Promise<never> {
    this.ended = true;
    await this.release().catch(() => {});
    throw error;
  }

  /** Ends the iteration early (a `break` out of `for await`): the source is released. */
  async return(): Promise<IteratorResult<CapturePacket>> {
    this.ended = true;
    await this.release();
    return { value: undefined, done: true };
  }

  /** Releases the source: the file closed, the chunks' iterator returned (a stream destroyed or cancelled). */
  private async release(): Promise<void> {
    await this.file?.close();
    await this.chunks?.return?.();
  }

  /**
   * The packets in batches, each a synchronous iterable of the packets the reader holds (up to the
   * end of a chunk of input): `for await (const batch of capture.batches()) for (const packet of batch)`.
   * A packet's views are valid until the next packet. Errors as next().
   */
  async *batches(): AsyncGenerator<Iterable<CapturePacket>> {
    const batch: IterableIterator<CapturePacket> = {
      [Symbol.iterator]: () => batch,
      next: () => {
        if (this.ended) return { value: undefined, done: true };
        return this.step() === PACKET ? this.result : { value: undefined, done: true };
      },
    };
    try {
      while (!this.ended) {
        yield batch;
        if (this.filling) await this.filling.catch(() => {});
        if (!this.ended && this.last === MORE) await this.fill();
      }
    } finally {
      // Left early or on an error: the source is released (nothing to do after its end).
      await this.return();
    }
  }

  /** Reads on to the next packet in the buffer: PACKET, MORE (the reader needs input) or END. Section headers update the names. */
  private step(): number {
    const { reader } = this;
    try {
      for (;;) {
        const kind = (this.last = reader.next(true));
        if (kind === PACKET) {
          if (reader.format === "pcap" && reader.packet === 0) this.section.read(reader);
          return PACKET;
        }
        if (kind === BLOCK) {
          if (reader.type === SHB) this.section.read(reader);
          continue;
        }
        if (kind === END) this.ended = true;
        return kind;
      }
    } catch (error) {
      this.ended = true;
      if (error instanceof TraitsError && reader.packet >= 0 && !/ packet \d/.test(error.message))
        throw new TraitsError(error.code, `${error.message.replace(/^[A-Z]+: /, "")} (after packet ${reader.packet})`);
      throw error;
    }
  }

  /** Gives the reader the next bytes of the source (0 at its end); one at a time (`filling`). */
  private fill(): Promise<void> {
    const filling = this.fillOnce().finally(() => {
      this.filling = undefined;
    });
    this.filling = filling;
    return filling;
  }

  /** fill()'s work. */
  private async fillOnce(): Promise<void> {
    const { reader, file } = this;
    if (file) {
      let n: number;
      if (this.ahead) {
        n = await this.ahead;
        this.ahead = undefined;
      } else {
        const length = reader.room(); // first: it may move the unread bytes, and so unreadEnd
        n = await file.read(reader.bytes, reader.unreadEnd, length);
      }
      reader.received(n);
      // At the end the file is closed at once, as a stream closes at its end.
      if (n === 0) await file.close();
      else if (file.regular) {
        // The records before the one that needs input are used: the unread bytes may move (room()).
        if (reader.unreadEnd + READ_CHUNK > READ_AHEAD_END) reader.room();
        if (reader.unreadEnd + READ_CHUNK <= READ_AHEAD_END)
          this.ahead = file.read(reader.bytes, reader.unreadEnd, READ_CHUNK);
      }
      return;
    }
    if (!this.chunk || this.used === this.chunk.length) {
      const r = await this.chunks!.next();
      if (r.done) {
        reader.received(0);
        return;
      }
      if (!(r.value instanceof Uint8Array))
        throw new TraitsError(
          "EINVAL",
          `readCapture: the source gave a chunk that is ${Object.prototype.toString.call(r.value)}, not bytes (a Readable with an encoding set?)`,
        );
      this.chunk = r.value;
      this.used = 0;
    }
    const n = Math.min(reader.room(), this.chunk.length - this.used);
    reader.bytes.set(this.chunk.subarray(this.used, this.used + n), reader.unreadEnd);
    reader.received(n);
    this.used += n;
  }
}

/**
 * Reads a capture (pcap or pcapng, either byte order) from `source` as an async iterable of packets:
 * `for await (const packet of readCapture("in.pcapng")) ...`. See CapturePacket for what a packet
 * holds and how long its views are valid, CaptureStream.batches() for hot loops. Throws EINVAL for a
 * source of another kind. Errors (rejected by the iteration): EBADMSG naming the byte offset of what
 * is malformed (and the packet), EINVAL for a chunk that is not bytes, the source's own (a file's ENOENT).
 */
export function readCapture(source: CaptureSource): CaptureStream {
  return new CaptureStream(source);
}

/**
 * `pcap annotate` as a web TransformStream: a capture in (pcap or pcapng, chunks of any size),
 * pcapng out, each packet with its traits, the standard options and (unless comment is false) our
 * comment: the same bytes as the command with the same options. `fetch(url).body.pipeThrough(annotate())`
 * in a browser; Node's `pipeline(createReadStream(a), annotate(), createWriteStream(b))` too. Throws
 * as annotateOptions() for bad settings; the stream errors with EBADMSG (the byte offset) for a malformed capture.
 */
export function annotate(settings: AnnotateSettings = {}): TransformStream<Uint8Array, Uint8Array> {
  const options = annotateOptions(settings);
  let feed: AnnotateFeed;
  return new TransformStream({
    start(controller) {
      feed = new AnnotateFeed(options, (chunk) => controller.enqueue(chunk));
    },
    transform(chunk) {
      feed.write(chunk);
    },
    flush() {
      feed.end();
    },
  });
}

/** annotate() as a Node Transform (Node only), for `.pipe()` and Node's stream APIs. */
export function annotateTransform(settings: AnnotateSettings = {}): NodeJS.ReadWriteStream {
  const options = annotateOptions(settings);
  let feed: AnnotateFeed | undefined;
  return new Transform({
    transform(chunk: Uint8Array, _encoding, done) {
      try {
        feed ??= new AnnotateFeed(options, (out) => this.push(out));
        feed.write(chunk);
        done();
      } catch (error) {
        done(error as Error);
      }
    },
    flush(done) {
      try {
        feed ??= new AnnotateFeed(options, (out) => this.push(out));
        feed.end();
        done();
      } catch (error) {
        done(error as Error);
      }
    },
  });
}
