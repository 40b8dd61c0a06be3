/**
 * An append-only ASCII byte buffer. The generator writes rows straight into
 * bytes: building JavaScript strings per row spent most of its time in the
 * garbage collector.
 *
 * @module
 */

/** Growable buffer of ASCII bytes. */
export class ByteWriter {
  /** Backing storage; valid up to {@link ByteWriter.length}. */
  buf: Uint8Array;
  /** Bytes written so far. */
  length = 0;

  /** Creates a buffer with `capacity` bytes reserved. */
  constructor(capacity = 1 << 20) {
    this.buf = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** Appends one byte (a character code below 128). */
  byte(code: number): void {
    this.reserve(1);
    this.buf[this.length++] = code;
  }

  /** Appends pre-encoded bytes. */
  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    if (data.length > 64) {
      this.buf.set(data, this.length);
      this.length += data.length;
      return;
    }
    // A plain loop beats TypedArray#set for the short fields of a row.
    const b = this.buf;
    let at = this.length;
    for (let i = 0; i < data.length; i++) b[at++] = data[i]!;
    this.length = at;
  }

  /** Appends an ASCII string. */
  ascii(text: string): void {
    this.reserve(text.length);
    for (let i = 0; i < text.length; i++) this.buf[this.length++] = text.charCodeAt(i);
  }

  /** Appends a non-negative integer in decimal. */
  uint(n: number): void {
    if (n < 10) return this.byte(48 + n);
    this.ascii(String(n));
  }

  /** The bytes written so far (a view, not a copy). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** Forgets the content, keeps the storage. */
  clear(): void {
    this.length = 0;
  }
}

/** Encodes an ASCII string once, for repeated {@link ByteWriter.bytes} calls. */
export function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
