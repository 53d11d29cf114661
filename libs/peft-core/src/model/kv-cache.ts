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

  /**
   * Adds `count` rows (continuous batching: requests joining a running batch). Their entries are a
   * prefill's `newKv`, per layer [seq, count, kvHeads, headDim], and fill the LAST `seq` slots:
   * every row of the batch ends at the same slot (rows are right-aligned, like left padding).
   * When seq > length, the existing rows get seq − length padding slots in front; when seq < length,
   * the new rows do. Padding slots hold zeros; the caller masks them with key padding.
   * Returns how many slots were inserted in front of the existing rows and the slot at which the
   * new rows' entries start. O(cache) once per call.
   */
  addRows(newKeys: readonly Float32Array[], newValues: readonly Float32Array[], seq: number, count: number): { existingShift: number; newRowsStart: number } {
    if (newKeys.length !== this.layers || newValues.length !== this.layers) {
      throw new PeftCoreError('SHAPE_MISMATCH', `KvCache.addRows: expected ${this.layers} layers, got ${newKeys.length} keys and ${newValues.length} values`);
    }
    if (!(Number.isInteger(seq) && seq > 0 && Number.isInteger(count) && count > 0)) {
      throw new PeftCoreError('INVALID_ARGUMENT', `KvCache.addRows: seq and count must be positive integers, got ${seq}, ${count}`);
    }
    const row = this.kvHeads * this.headDim;
    const length = Math.max(this.filled, seq);
    const existingShift = length - this.filled;
    const newRowsStart = length - seq;
    const oldRows = this.rows;
    const rows = oldRows + count;
    const slotSize = rows * row;
    // Room to decode a while before the next growth (append doubles when full).
    const capacity = Math.max(2 * length, length + 16);
    const relayout = (old: Float32Array, added: Float32Array, layer: number): Float32Array => {
      if (added.length !== seq * count * row) {
        throw new PeftCoreError('SHAPE_MISMATCH', `KvCache.addRows: layer ${layer} has ${added.length} values, expected ${seq * count * row}`);
      }
      const next = new Float32Array(capacity * slotSize);
      for (let s = 0; s < this.filled; s++) {
        next.set(old.subarray(s * oldRows * row, (s + 1) * oldRows * row), (s + existingShift) * slotSize);
      }
      for (let s = 0; s < seq; s++) {
        next.set(added.subarray(s * count * row, (s + 1) * count * row), (s + newRowsStart) * slotSize + oldRows * row);
      }
      return next;
    };
    this.keys = this.keys.map((b, l) => relayout(b, newKeys[l]!, l));
    this.values = this.values.map((b, l) => relayout(b, newValues[l]!, l));
    this.rows = rows;
    this.filled = length;
    this.slotCapacity = capacity;
    return { existingShift, newRowsStart };
  }

  /**
   * Drops the first `slots` slots (in place). Used when no remaining row attends to them any more
   * (they were padding for every row still in the batch), so attention stops paying for them.
   */
  dropLeadingSlots(slots: number): void {
    if (!(Number.isInteger(slots) && slots >= 0 && slots <= this.filled)) {
      throw new PeftCoreError('INVALID_ARGUMENT', `KvCache.dropLeadingSlots: ${slots} is not in [0, ${this.filled}]`);
    }
    if (slots === 0) return;
    const size = this.slotSize;
    for (const buffers of [this.keys, this.values]) {
      for (const buf of buffers) buf.copyWithin(0, slots * size, this.filled * size);
    }
    this.filled -= slots;
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
