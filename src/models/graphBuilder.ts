/**
 * A small ONNX graph builder: named values, nodes with typed attributes, float32 or float16 initializers,
 * and encoding through onnxProto.ts. It tracks each value's element type so float16 graphs can keep chosen
 * parts in float32 with explicit Casts.
 */
import { floatToHalf } from './half.ts';
import {
  AttributeType,
  DataType,
  encodeModel,
  type AttributeJson,
  type GraphJson,
  type ModelJson,
  type NodeJson,
  type RawInitializer,
  type ValueInfoJson,
} from './onnxProto.ts';

/** Element types a value can have. */
export type ElemType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8';

const ELEM_CODE: Readonly<Record<ElemType, number>> = {
  float32: DataType.FLOAT, float16: DataType.FLOAT16, float64: DataType.DOUBLE, int64: DataType.INT64, int32: DataType.INT32, bool: DataType.BOOL, uint8: DataType.UINT8,
};

/** A float attribute (plain numbers are INT attributes). */
export interface FloatAttr {
  readonly float: number;
}
/** A list-of-floats attribute. */
export interface FloatsAttr {
  readonly floats: readonly number[];
}
/** A subgraph attribute (If branches), made with {@link GraphBuilder.subgraph}. */
export interface GraphAttr {
  readonly graph: GraphJson;
}
export type AttrValue = number | readonly number[] | string | FloatAttr | FloatsAttr | GraphAttr;

/** `f(0.2)`: a FLOAT attribute. */
export function f(value: number): FloatAttr {
  return { float: value };
}

/** A value in the graph: its name and element type. */
export interface Value {
  readonly name: string;
  readonly type: ElemType;
}

/** Shape of a graph input or output: numbers, or names for symbolic (dynamic) dimensions. */
export type ShapeSpec = ReadonlyArray<number | string>;

/** State shared by a graph and its subgraphs: names are unique model-wide; initializers live in the main graph. */
interface Shared {
  counter: number;
  names: Set<string>;
  constCache: Map<string, Value>;
  domains: Map<string, number>;
  initializers: RawInitializer[];
}

export class GraphBuilder {
  readonly nodes: NodeJson[] = [];
  /** The main graph's initializers (shared with subgraphs, which read them from the outer scope). */
  readonly initializers: RawInitializer[];
  readonly inputs: ValueInfoJson[] = [];
  readonly outputs: ValueInfoJson[] = [];
  readonly #shared: Shared;

  constructor(parent?: GraphBuilder) {
    this.#shared = parent ? parent.#shared : { counter: 0, names: new Set(), constCache: new Map(), domains: new Map([['', 21]]), initializers: [] };
    this.initializers = this.#shared.initializers;
  }

  /** A fresh value name with this stem. */
  fresh(stem: string): string {
    const sh = this.#shared;
    let name = stem;
    while (sh.names.has(name)) name = `${stem}_${++sh.counter}`;
    sh.names.add(name);
    return name;
  }

  /**
   * A subgraph (e.g. an If branch) built by `body`, which returns its outputs. Its nodes may use any value
   * of the enclosing graph; its weights and constants go to the main graph.
   */
  subgraph(name: string, body: (b: GraphBuilder) => Value[]): GraphAttr {
    const b = new GraphBuilder(this);
    const outs = body(b).map((v) => {
      // A branch output must be produced inside the branch: pass outer values through an Identity.
      if (b.nodes.some((n) => n.output.includes(v.name))) return v;
      return b.op('Identity', [v]);
    });
    return { graph: { name, node: b.nodes, input: [], output: outs.map((v) => valueInfo(v.name, v.type)) } };
  }

  /** Declares a graph input. */
  input(name: string, type: ElemType, shape: ShapeSpec): Value {
    this.#shared.names.add(name);
    this.inputs.push(valueInfo(name, type, shape));
    return { name, type };
  }

  /** Declares a graph output; `value` is renamed through an Identity when its name differs. */
  output(name: string, value: Value, shape: ShapeSpec): void {
    if (value.name !== name) {
      this.#shared.names.add(name);
      this.nodes.push({ name: `${name}_identity`, opType: 'Identity', input: [value.name], output: [name] });
    }
    this.outputs.push(valueInfo(name, value.type, shape));
  }

  /** Requires an opset version for a domain ('' is ai.onnx). */
  useDomain(domain: string, version: number): void {
    this.#shared.domains.set(domain, Math.max(version, this.#shared.domains.get(domain) ?? 0));
  }

  /**
   * Adds a node with one output. `type` is the output's element type (default: the first input's).
   */
  op(opType: string, inputs: ReadonlyArray<Value | null>, attrs: Readonly<Record<string, AttrValue>> = {}, options: { type?: ElemType; domain?: string; name?: string } = {}): Value {
    return this.opN(opType, inputs, 1, attrs, options)[0]!;
  }

  /** Adds a node with `outputs` outputs, all of one element type. */
  opN(opType: string, inputs: ReadonlyArray<Value | null>, outputs: number, attrs: Readonly<Record<string, AttrValue>> = {}, options: { type?: ElemType; domain?: string; name?: string } = {}): Value[] {
    const type = options.type ?? inputs.find((v) => v)?.type ?? 'float32';
    const stem = options.name ?? opType.toLowerCase();
    const outs = Array.from({ length: outputs }, (_, i) => ({ name: this.fresh(outputs === 1 ? stem : `${stem}_${i}`), type }));
    const node: NodeJson = {
      name: this.fresh(`n_${stem}`),
      opType,
      input: inputs.map((v) => (v ? v.name : '')),
      output: outs.map((o) => o.name),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    };
    if (options.domain) {
      node.domain = options.domain;
      if (!this.#shared.domains.has(options.domain)) this.#shared.domains.set(options.domain, 1);
    }
    this.nodes.push(node);
    return outs;
  }

  /** Adds an initializer from float data, stored as `type` (float16 rounds to nearest even). */
  weight(stem: string, data: Float32Array, dims: readonly number[], type: 'float32' | 'float16' = 'float32'): Value {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new RangeError(`initializer ${stem}: ${data.length} values for shape [${dims.join(',')}]`);
    const name = this.fresh(stem);
    const bytes = type === 'float16' ? floatToHalf(data) : data;
    this.initializers.push({ name, dims, dataType: ELEM_CODE[type], bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
    return { name, type };
  }

  /** An int64 constant initializer (shared between uses). */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    const cached = this.#shared.constCache.get(key);
    if (cached) return cached;
    const name = this.fresh('const_i64');
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, dataType: DataType.INT64, bytes: new Uint8Array(data.buffer) });
    const v: Value = { name, type: 'int64' };
    this.#shared.constCache.set(key, v);
    return v;
  }

  /** A float constant (scalar unless dims given), stored as `type`, shared between uses. */
  scalar(value: number, type: 'float32' | 'float16' = 'float32', dims: readonly number[] = []): Value {
    const key = `f:${type}:${dims.join('x')}:${value}`;
    const cached = this.#shared.constCache.get(key);
    if (cached) return cached;
    const count = dims.reduce((a, b) => a * b, 1);
    const v = this.weight('const_f', new Float32Array(count).fill(value), dims, type);
    this.#shared.constCache.set(key, v);
    return v;
  }

  /** Encodes the model (ONNX IR version 10). */
  encode(meta: { graphName: string; docString?: string; metadata?: Record<string, string> }): Uint8Array {
    const model: ModelJson = {
      irVersion: 10,
      opsetImport: [...this.#shared.domains].map(([domain, version]) => ({ domain, version })),
      producerName: 'facerestore',
      producerVersion: '0.1.0',
      docString: meta.docString ?? '',
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: { name: meta.graphName, node: this.nodes, input: this.inputs, output: this.outputs },
    };
    return encodeModel(model, this.initializers);
  }
}

function valueInfo(name: string, type: ElemType, shape?: ShapeSpec): ValueInfoJson {
  const tensorType: ValueInfoJson['type']['tensorType'] = { elemType: ELEM_CODE[type] };
  if (shape) tensorType.shape = { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType } };
}

function attribute(name: string, v: AttrValue): AttributeJson {
  if (typeof v === 'number') return { name, type: AttributeType.INT, i: v };
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: [...(v as number[])] };
  if ('graph' in (v as GraphAttr)) return { name, type: AttributeType.GRAPH, g: (v as GraphAttr).graph };
  if ('floats' in (v as FloatsAttr)) return { name, type: AttributeType.FLOATS, floats: [...(v as FloatsAttr).floats] };
  return { name, type: AttributeType.FLOAT, f: (v as FloatAttr).float };
}
