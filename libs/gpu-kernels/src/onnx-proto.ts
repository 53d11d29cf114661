/**
 * Hand-written protobuf encoding of the ONNX messages the runtime consumes (onnx.proto, IR v8).
 *
 * Messages are built as trees of byte chunks and flattened once at the end, so a model with
 * hundreds of megabytes of initializers is copied exactly once (raw_data is referenced, not
 * re-encoded). Only the fields this project emits are covered.
 */

/** An encoded message (or field run) not yet flattened: its chunks and total length. */
export interface ProtoBytes {
  readonly parts: readonly Uint8Array[];
  readonly length: number;
}

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

/** Collects fields of one message in order. */
class MessageWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  private tag(field: number, wire: number): void {
    this.push(encodeVarint(field * 8 + wire));
  }

  varint(field: number, value: number): this {
    this.tag(field, WIRE_VARINT);
    this.push(encodeVarint(value));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array | ProtoBytes): this {
    this.tag(field, WIRE_LEN);
    if (value instanceof Uint8Array) {
      this.push(encodeVarint(value.length));
      this.push(value);
    } else {
      this.push(encodeVarint(value.length));
      for (const p of value.parts) this.push(p);
    }
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  finish(): ProtoBytes {
    return { parts: this.parts, length: this.length };
  }
}

/** Unsigned LEB128; negative int64 values use the 10-byte two's complement form protobuf specifies. */
function encodeVarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value)) throw new RangeError(`varint value ${value} is not a safe integer`);
  if (value >= 0 && value < 0x80) return Uint8Array.of(value);
  if (value >= 0 && value < 2 ** 31) {
    const out: number[] = [];
    let n = value;
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Uint8Array.from(out);
  }
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** Flattens an encoded message into one buffer. */
export function flattenProto(msg: ProtoBytes): Uint8Array {
  const out = new Uint8Array(msg.length);
  let at = 0;
  for (const p of msg.parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** ONNX TensorProto.DataType codes for the element types the project uses. */
export const OnnxDataType = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
} as const;
export type OnnxElementType = keyof typeof OnnxDataType;

/** Where an initializer's bytes live when they are not inside the model (ONNX external data). */
export interface OnnxExternalData {
  /** The external file's name, as the session is given it (createSession's `externalData`). */
  location: string;
  offset: number;
  length: number;
}

export interface OnnxTensorSpec {
  name?: string;
  elemType: OnnxElementType;
  dims: readonly number[];
  /** Little-endian element bytes (bool: one byte per element); empty when `external` is set. */
  raw: Uint8Array;
  /** Bytes stored outside the model (TensorProto data_location EXTERNAL). */
  external?: OnnxExternalData;
}

export function encodeTensor(t: OnnxTensorSpec): ProtoBytes {
  const w = new MessageWriter();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, OnnxDataType[t.elemType]);
  if (t.name !== undefined) w.string(8, t.name);
  if (t.external) {
    const entry = (key: string, value: string): ProtoBytes => new MessageWriter().string(1, key).string(2, value).finish();
    w.bytes(13, entry('location', t.external.location));
    w.bytes(13, entry('offset', String(t.external.offset)));
    w.bytes(13, entry('length', String(t.external.length)));
    w.varint(14, 1);
  } else {
    w.bytes(9, t.raw);
  }
  return w.finish();
}

export type OnnxAttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'tensor'; value: OnnxTensorSpec };

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function encodeAttribute(name: string, a: OnnxAttributeValue): ProtoBytes {
  const w = new MessageWriter();
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.varint(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.bytes(5, encodeTensor(a.value));
      break;
    case 'floats':
      for (const f of a.value) w.float(7, f);
      break;
    case 'ints':
      for (const i of a.value) w.varint(8, i);
      break;
  }
  w.varint(20, ATTR_TYPE[a.kind]);
  return w.finish();
}

export interface OnnxNodeSpec {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: Readonly<Record<string, OnnxAttributeValue>>;
}

export function encodeNode(n: OnnxNodeSpec): ProtoBytes {
  const w = new MessageWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name !== undefined) w.string(3, n.name);
  w.string(4, n.opType);
  // Attributes sorted by name so the encoding is deterministic whatever the insertion order.
  for (const key of Object.keys(n.attributes ?? {}).sort()) w.bytes(5, encodeAttribute(key, n.attributes![key]!));
  if (n.domain !== undefined && n.domain !== '') w.string(7, n.domain);
  return w.finish();
}

/** A dimension: a fixed size or a symbolic name (dim_param). */
export type OnnxDim = number | string;

export interface OnnxValueInfoSpec {
  name: string;
  elemType: OnnxElementType;
  dims: readonly OnnxDim[];
}

export function encodeValueInfo(v: OnnxValueInfoSpec): ProtoBytes {
  const shape = new MessageWriter();
  for (const d of v.dims) {
    const dim = new MessageWriter();
    if (typeof d === 'number') dim.varint(1, d);
    else dim.string(2, d);
    shape.bytes(1, dim.finish());
  }
  const tensorType = new MessageWriter().varint(1, OnnxDataType[v.elemType]).bytes(2, shape.finish()).finish();
  const typeProto = new MessageWriter().bytes(1, tensorType).finish();
  return new MessageWriter().string(1, v.name).bytes(2, typeProto).finish();
}

export interface OnnxModelSpec {
  graphName: string;
  nodes: readonly OnnxNodeSpec[];
  inputs: readonly OnnxValueInfoSpec[];
  outputs: readonly OnnxValueInfoSpec[];
  initializers: readonly OnnxTensorSpec[];
  /** Operator sets by domain ('' is the default ONNX domain). */
  opsets: Readonly<Record<string, number>>;
  irVersion?: number;
  producer?: string;
}

/** Encodes a complete ModelProto. IR version 8 pairs with opset 18, which ORT 1.30 supports. */
export function encodeModel(m: OnnxModelSpec): Uint8Array {
  const g = new MessageWriter();
  for (const n of m.nodes) g.bytes(1, encodeNode(n));
  g.string(2, m.graphName);
  for (const t of m.initializers) g.bytes(5, encodeTensor(t));
  for (const i of m.inputs) g.bytes(11, encodeValueInfo(i));
  for (const o of m.outputs) g.bytes(12, encodeValueInfo(o));
  const model = new MessageWriter();
  model.varint(1, m.irVersion ?? 8);
  model.string(2, m.producer ?? 'palette');
  model.bytes(7, g.finish());
  for (const domain of Object.keys(m.opsets).sort()) {
    const opset = new MessageWriter();
    if (domain !== '') opset.string(1, domain);
    opset.varint(2, m.opsets[domain]!);
    model.bytes(8, opset.finish());
  }
  return flattenProto(model.finish());
}

/** Views a typed array's bytes without copying (the host is little-endian, as ONNX raw_data is). */
export function rawBytes(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
