import { PeftCoreError } from '../errors';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import { DECODER_INPUT_NAMES } from './decoder-inputs';

/**
 * Host-side KV cache for incremental decoding, one buffer per layer for keys and one for values,
 * slot-major [capacity, batch, kvHeads, headDim]. Appending a step writes only the new slots,
 * and the filled prefix [length, batch, kvHeads, headDim] is fed to the next step as a view of
 * the buffer: no per-step copy of the cache in JS.
 */
export class KvCache {
  private keys: Float32Array[];
  private values: Float32Array[];
  private filled = 0;
  private rows: number;
  private slotCapacity: number;

  constructor(
    readonly layers: number,
    batch: number,
    readonly kvHeads: number,
    readonly headDim: number,
    capacity: number,
  ) {
    if (!(batch > 0 && capacity > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `KvCache: batch and capacity must be positive, got ${batch}, ${capacity}`);
    this.rows = batch;
    this.slotCapacity = capacity;
    this.keys = Array.from({ length: layers }, () => new Float32Array(capacity * this.slotSize));
    this.values = Array.from({ length: layers }, () => new Float32Array(capacity * this.slotSize));
  }

  /** Slots filled so far (the `past` of the next step). */
  get length(): number {
    return this.filled;
  }
  get batch(): number {
    return this.rows;
  }
  get capacity(): number {
    return this.slotCapacity;
  }
  /** Floats per slot: every row's keys of one position. */
  private get slotSize(): number {
    return this.rows * this.kvHeads * this.headDim;
  }

  /** past.<l>.key / past.<l>.value feeds: views of the filled prefix. */
  feeds(): Record<string, TensorData> {
    const shape = [this.filled, this.rows, this.kvHeads, this.headDim];
    const used = this.filled * this.slotSize;
    const feeds: Record<string, TensorData> = {};
    for (let l = 0; l < this.layers; l++) {
      feeds[DECODER_INPUT_NAMES.pastKey(l)] = tensorData('float32', shape, this.keys[l]!.subarray(0, used));
      feeds[DECODER_INPUT_NAMES.pastValue(l)] = tensorData('float32', shape, this.values[l]!.subarray(0, used));
    }
    return feeds;
  }

  /** Appends a step's new entries, per layer [seq, batch, kvHeads, headDim], growing if needed. */
  append(newKeys: readonly Float32Array[], newValues: readonly Float32Array[], seq: number): void {
    if (newKeys.length !== this.layers || newValues.length !== this.layers) {
      throw new PeftCoreError('SHAPE_MISMATCH', `KvCache.append: expected ${this.layers} layers, got ${newKeys.length} keys and ${newValues.length} values`);
    }
    const size = seq * this.slotSize;
    if (this.filled + seq > this.slotCapacity) this.grow(Math.max(this.filled + seq, this.slotCapacity * 2));
    const offset = this.filled * this.slotSize;
    for (let l = 0; l < this.layers; l++) {
      if (newKeys[l]!.length !== size || newValues[l]!.length !== size) {
        throw new PeftCoreError('SHAPE_MISMATCH', `KvCache.append: layer ${l} step has ${newKeys[l]!.length} values, expected ${size}`);
      }
      this.keys[l]!.set(newKeys[l]!, offset);
      this.values[l]!.set(newValues[l]!, offset);
    }
    this.filled += seq;
  }

  /**
   * Keeps only the given rows (ascending), in place: rows that finished generating stop costing
   * compute in later steps. O(cache) once per call.
   */
  keepRows(rows: readonly number[]): void {
    if (rows.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'KvCache.keepRows: at least one row must remain');
    if (rows.some((r, i) => !Number.isInteger(r) || r < 0 || r >= this.rows || (i > 0 && r <= rows[i - 1]!))) {
      throw new PeftCoreError('INVALID_ARGUMENT', `KvCache.keepRows: rows must be ascending indices below ${this.rows}, got [${rows.join(', ')}]`);
    }
    if (rows.length === this.rows) return;
    const row = this.kvHeads * this.headDim;
    const oldSlot = this.slotSize;
    const newSlot = rows.length * row;
    // Destinations never run ahead of sources (newSlot ≤ oldSlot, rows ascending), so one forward pass is safe.
    for (const buffers of [this.keys, this.values]) {
      for (const buf of buffers) {
        for (let s = 0; s < this.filled; s++) {
          rows.forEach((r, i) => buf.copyWithin(s * newSlot + i * row, s * oldSlot + r * row, s * oldSlot + (r + 1) * row));
        }
      }
    }
    this.rows = rows.length;
    // Capacity in slots grows as rows shrink; the buffers keep their size.
    this.slotCapacity = Math.floor(this.keys[0]!.length / Math.max(1, this.slotSize));
  }

  private grow(capacity: number): void {
    const resize = (b: Float32Array): Float32Array => {
      const next = new Float32Array(capacity * this.slotSize);
      next.set(b.subarray(0, this.filled * this.slotSize));
      return next;
    };
    this.keys = this.keys.map(resize);
    this.values = this.values.map(resize);
    this.slotCapacity = capacity;
  }
}
