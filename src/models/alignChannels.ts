/**
 * A load-time rewrite of a convolutional ONNX graph (MediaPipe's BlazeFace as tf2onnx exported it) that keeps
 * ONNX Runtime's blocked-layout (NCHWc) CPU kernels on across the whole network.
 *
 * Why: ORT's NCHWc transformer runs a Conv in the blocked layout only when its channel counts are multiples of
 * the block size (16 with AVX-512, 8 with AVX2); every other Conv stays in plain NCHW and a reorder is inserted
 * on each side of it. BlazeFace-256 has 24-channel layers (not a multiple of 16), and it widens its residual
 * branch with `Concat(x, zeros)` along the channels (TF's channel Pad), which NCHWc cannot take either, so the
 * net kept switching layouts (24 ReorderInput and 30 ReorderOutput nodes in ORT's optimised graph; 4 after).
 * Measured on this project's AVX-512 machine, one thread, load 5: BlazeFace-256 run 8.1 → 6.5 ms
 * (`node bench/detect-path.ts`; docs/realtime.md, "Detection path at codec speed").
 *
 * The rewrite, exact by construction:
 * - every 4-D activation whose channel count is not a multiple of `block` gets zero channels appended: Conv
 *   weights (and biases) are padded with zeros, depthwise Convs get a larger group with zero filters, so the
 *   extra channels hold exactly 0 through Relu, MaxPool and Add;
 * - `Concat(x, ConstantOfShape(0))` on the channel axis becomes a 1×1 Conv with an identity block for x's real
 *   channels and zeros elsewhere (products with 1 and 0 are exact);
 * - outputs consumed by anything else (the heads' Transpose/Reshape) keep their real channel counts.
 * The result equals the original up to ORT's kernels' own summation order (every output within
 * 7e-5 × (1 + |value|) on the shared stills and footage; boxes and points within 1e-3 px; test/alignChannels.test.ts).
 * Graphs the rewrite does not recognise (any op other than those above on a padded tensor) are returned
 * unchanged, with the reason.
 */
import { DataType, decodeModel, encodeModel, type AttributeJson, type ModelJson, type NodeJson, type RawInitializer } from './onnxProto.ts';

/** What alignConvChannels did. */
export interface AlignResult {
  /** The graph to load: rewritten, or the input itself when `reason` is set. */
  bytes: Uint8Array;
  /** Activations that gained zero channels. */
  paddedTensors: number;
  /** Concat-with-zeros nodes replaced by 1×1 Convs. */
  concatsReplaced: number;
  /** Why the graph was left unchanged, when it was. */
  reason?: string;
}

interface FloatInit {
  dims: number[];
  data: Float32Array;
}

/** Channel count of a tracked NCHW activation: the network's own, and after padding. */
interface Channels {
  real: number;
  padded: number;
}

/** Ops that take padded activations as they are (elementwise or per channel). */
const PASS_THROUGH = new Set(['Relu', 'MaxPool', 'Add']);

class Unsupported extends Error {}

function roundUp(n: number, block: number): number {
  return Math.ceil(n / block) * block;
}

function attr(node: NodeJson, name: string): AttributeJson | undefined {
  return node.attribute?.find((a) => a.name === name);
}

function setIntAttr(node: NodeJson, name: string, value: number): void {
  const a = attr(node, name);
  if (a) a.i = value;
  else (node.attribute ??= []).push({ name, type: 2, i: value });
}

/** Float32 data of an initializer (raw_data or float_data), copied. */
function floatData(t: Record<string, any>): Float32Array {
  if (t.rawData) {
    const raw = t.rawData as Uint8Array;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  }
  return Float32Array.from((t.floatData ?? []) as number[]);
}

/** Little-endian element bytes of any initializer, for re-encoding. */
function rawBytes(t: Record<string, any>): Uint8Array {
  if (t.rawData) return t.rawData as Uint8Array;
  if (t.int64Data) {
    const v = BigInt64Array.from((t.int64Data as number[]).map((x) => BigInt(x)));
    return new Uint8Array(v.buffer);
  }
  if (t.floatData) return new Uint8Array(Float32Array.from(t.floatData as number[]).buffer);
  if (t.int32Data) return new Uint8Array(Int32Array.from(t.int32Data as number[]).buffer);
  throw new Unsupported(`initializer ${t.name} has no data this rewrite can read`);
}

/** A Conv weight [co, ci, kh, kw] copied into a zero [coP, ciP, kh, kw]. */
function padWeight(w: FloatInit, coP: number, ciP: number): FloatInit {
  const [co, ci, kh, kw] = w.dims as [number, number, number, number];
  const k = kh * kw;
  const out = new Float32Array(coP * ciP * k);
  for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) out.set(w.data.subarray((o * ci + i) * k, (o * ci + i + 1) * k), (o * ciP + i) * k);
  return { dims: [coP, ciP, kh, kw], data: out };
}

/**
 * Pads a BlazeFace-like graph's channels to multiples of `block` (default 16, AVX-512's NCHWc block; 8 suits
 * AVX2 and is implied by 16) and replaces its channel-pad Concats, see the module comment.
 */
export function alignConvChannels(bytes: Uint8Array, block = 16): AlignResult {
  try {
    return rewrite(bytes, block);
  } catch (e) {
    if (e instanceof Unsupported) return { bytes, paddedTensors: 0, concatsReplaced: 0, reason: e.message };
    throw e;
  }
}

function rewrite(bytes: Uint8Array, block: number): AlignResult {
  const m = decodeModel(bytes);
  const g = m.graph as Record<string, any>;
  const inits = new Map<string, Record<string, any>>(g.initializer.map((t: Record<string, any>) => [t.name as string, t]));
  const nodes = g.node as NodeJson[];
  const consumers = new Map<string, NodeJson[]>();
  for (const n of nodes) for (const x of n.input) consumers.set(x, [...(consumers.get(x) ?? []), n]);
  const producer = new Map<string, NodeJson>();
  for (const n of nodes) for (const y of n.output) producer.set(y, n);
  const graphOutputs = new Set<string>((g.output as Array<{ name: string }>).map((o) => o.name));

  /** Concat(x, zeros) along channels, the zeros from ConstantOfShape of a constant [1, c, h, w] with value 0. */
  const zeroConcat = (n: NodeJson): { x: string; zeros: number } | undefined => {
    if (n.opType !== 'Concat' || n.input.length !== 2 || Number(attr(n, 'axis')?.i) !== 1) return undefined;
    const z = producer.get(n.input[1]!);
    if (!z || z.opType !== 'ConstantOfShape') return undefined;
    const value = attr(z, 'value')?.t;
    if (value && floatData(value).some((v) => v !== 0)) return undefined;
    const shape = inits.get(z.input[0]!);
    const dims = shape?.int64Data ?? (shape?.rawData ? Array.from(new BigInt64Array(rawBytes(shape).slice().buffer), Number) : undefined);
    if (!dims || dims.length !== 4) return undefined;
    return { x: n.input[0]!, zeros: Number(dims[1]) };
  };
  /** Whether every consumer of an activation reads its channels one by one (so zero channels may be appended). */
  const paddable = (name: string): boolean =>
    !graphOutputs.has(name) &&
    (consumers.get(name) ?? []).every((c) => c.opType === 'Conv' ? c.input[0] === name : PASS_THROUGH.has(c.opType) || (zeroConcat(c)?.x === name));

  const ch = new Map<string, Channels>();
  const newInits = new Map<string, FloatInit>();
  const out: NodeJson[] = [];
  const dropped = new Set<string>();
  let paddedTensors = 0;
  let concatsReplaced = 0;
  const weightOf = (name: string): FloatInit => {
    const t = inits.get(name);
    if (!t || t.dataType !== DataType.FLOAT) throw new Unsupported(`Conv weight ${name} is not a float initializer`);
    return { dims: (t.dims as number[]).map(Number), data: floatData(t) };
  };
  const track = (name: string, real: number): Channels => {
    const c = { real, padded: paddable(name) ? roundUp(real, block) : real };
    if (c.padded !== real) paddedTensors++;
    ch.set(name, c);
    return c;
  };

  for (const n of nodes) {
    const x = ch.get(n.input[0] ?? '');
    if (n.opType === 'Transpose' && (g.input as Array<{ name: string }>).some((i) => i.name === n.input[0])) {
      // The NHWC graph input turned NCHW: its channel count is the input's last dimension, never padded.
      const perm = attr(n, 'perm')?.ints?.map(Number);
      const dim = (g.input as Array<Record<string, any>>).find((i) => i.name === n.input[0])!.type.tensorType.shape.dim;
      if (perm?.join() === '0,3,1,2') ch.set(n.output[0]!, { real: Number(dim[3].dimValue), padded: Number(dim[3].dimValue) });
      out.push(n);
      continue;
    }
    if (n.opType === 'Conv' && x) {
      const w = weightOf(n.input[1]!);
      const [co, cig] = w.dims as [number, number];
      const group = Number(attr(n, 'group')?.i ?? 1);
      const y = track(n.output[0]!, co);
      let pw: FloatInit;
      if (group === 1 && cig === x.real) {
        pw = padWeight(w, y.padded, x.padded);
      } else if (group === x.real && co === x.real && cig === 1) {
        // Depthwise: one filter per channel; the appended channels get zero filters and a group of their own.
        if (y.padded !== x.padded) throw new Unsupported(`depthwise Conv ${n.name}: output padding differs from its input's`);
        pw = padWeight(w, y.padded, 1);
        setIntAttr(n, 'group', y.padded);
      } else {
        throw new Unsupported(`Conv ${n.name}: group ${group} with ${cig} channels per group on ${x.real} input channels`);
      }
      const wName = `${n.input[1]}_aligned`;
      newInits.set(wName, pw);
      const inputs = [n.input[0]!, wName];
      if (n.input[2]) {
        const b = weightOf(n.input[2]);
        const pb = new Float32Array(y.padded);
        pb.set(b.data);
        const bName = `${n.input[2]}_aligned`;
        newInits.set(bName, { dims: [y.padded], data: pb });
        inputs.push(bName);
      }
      out.push({ ...n, input: inputs });
      continue;
    }
    const zc = x ? zeroConcat(n) : undefined;
    if (zc && x) {
      // Channel pad → 1×1 Conv: output channel i < x.real copies input channel i, the rest are 0.
      const y = track(n.output[0]!, x.real + zc.zeros);
      const eye = new Float32Array(y.padded * x.padded);
      for (let i = 0; i < x.real; i++) eye[i * x.padded + i] = 1;
      const stem = n.name || n.output[0]!;
      const wName = `${stem}_as_conv_w`;
      newInits.set(wName, { dims: [y.padded, x.padded, 1, 1], data: eye });
      out.push({ name: `${stem}_as_conv`, opType: 'Conv', input: [zc.x, wName], output: n.output, attribute: [{ name: 'kernel_shape', type: 7, ints: [1, 1] }] });
      dropped.add(n.input[1]!);
      concatsReplaced++;
      continue;
    }
    if (x && PASS_THROUGH.has(n.opType)) {
      if (n.opType === 'Add') {
        const other = ch.get(n.input[1] ?? '');
        if (!other || other.real !== x.real || other.padded !== x.padded) throw new Unsupported(`Add ${n.name}: operands' channels differ (${JSON.stringify([x, other])})`);
      }
      // MaxPool and Relu keep the channels; an Add of two padded operands too (checked above).
      ch.set(n.output[0]!, { ...x });
      if (!paddable(n.output[0]!) && x.padded !== x.real) throw new Unsupported(`${n.opType} ${n.name}: padded result read by an op that needs the real channels`);
      out.push(n);
      continue;
    }
    for (const i of n.input) {
      const c = ch.get(i);
      if (c && c.padded !== c.real) throw new Unsupported(`${n.opType} ${n.name} reads the padded activation ${i}`);
    }
    out.push(n);
  }
  // ConstantOfShape nodes whose only use was a replaced Concat go too.
  const used = new Set(out.flatMap((n) => n.input));
  const kept = out.filter((n) => !(n.opType === 'ConstantOfShape' && dropped.has(n.output[0]!) && !used.has(n.output[0]!)));
  const usedAfter = new Set(kept.flatMap((n) => n.input));
  const initializers: RawInitializer[] = [];
  for (const [name, t] of inits) {
    if (usedAfter.has(name)) initializers.push({ name, dims: (t.dims as number[]).map(Number), dataType: t.dataType, bytes: rawBytes(t) });
  }
  for (const [name, t] of newInits) initializers.push({ name, dims: t.dims, dataType: DataType.FLOAT, bytes: new Uint8Array(t.data.buffer) });
  const model: ModelJson = {
    irVersion: Number(m.irVersion),
    opsetImport: (m.opsetImport as Array<{ domain?: string; version: number }>).map((o) => ({ domain: o.domain ?? '', version: Number(o.version) })),
    producerName: `${m.producerName ?? ''}+facerestore alignConvChannels`,
    producerVersion: m.producerVersion ?? '',
    docString: m.docString ?? '',
    // value_info goes: the padded activations' recorded shapes would no longer hold (ORT infers them again).
    graph: { name: g.name ?? 'graph', node: kept, input: g.input, output: g.output },
  };
  return { bytes: encodeModel(model, initializers), paddedTensors, concatsReplaced };
}
