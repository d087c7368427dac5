/**
 * The part of onnx.proto (github.com/onnx/onnx, onnx/onnx.proto, proto2) that this builder writes, declared
 * with protobufjs reflection, with the field numbers of onnx.proto. Large initializers are not passed
 * through protobufjs: {@link encodeModel} splices their bytes into the message directly (a protobuf message
 * is the concatenation of its fields), so a 376 MB model is assembled with one copy of its weights.
 */
import protobuf from 'protobufjs';

/** onnx.TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** onnx.AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

const root = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        StringStringEntryProto: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            floats: { rule: 'repeated', type: 'float', id: 7, options: { packed: false } },
            ints: { rule: 'repeated', type: 'int64', id: 8, options: { packed: false } },
            docString: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1, options: { packed: false } },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4, options: { packed: true } },
            int32Data: { rule: 'repeated', type: 'int32', id: 5, options: { packed: true } },
            int64Data: { rule: 'repeated', type: 'int64', id: 7, options: { packed: true } },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            docString: { type: 'string', id: 12 },
            externalData: { rule: 'repeated', type: 'StringStringEntryProto', id: 13 },
            dataLocation: { type: 'int32', id: 14 },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 }, docString: { type: 'string', id: 3 } },
        },
        TypeProto: {
          fields: { tensorType: { type: 'TypeProtoTensor', id: 1 }, denotation: { type: 'string', id: 6 } },
        },
        TypeProtoTensor: {
          fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
        },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: {
          oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
          fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 }, denotation: { type: 'string', id: 3 } },
        },
      },
    },
  },
});

/** The protobufjs message types, for encoding and (in tests) decoding. */
export const onnx = {
  ModelProto: root.lookupType('onnx.ModelProto'),
  GraphProto: root.lookupType('onnx.GraphProto'),
  NodeProto: root.lookupType('onnx.NodeProto'),
  TensorProto: root.lookupType('onnx.TensorProto'),
  AttributeProto: root.lookupType('onnx.AttributeProto'),
  ValueInfoProto: root.lookupType('onnx.ValueInfoProto'),
};

/** Plain-object forms of the messages (camelCase field names as protobufjs expects). */
export interface AttributeJson {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
  t?: TensorJson;
  g?: GraphJson;
}
export interface TensorJson {
  name?: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  int64Data?: number[];
  floatData?: number[];
}
export interface NodeJson {
  name: string;
  opType: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: AttributeJson[];
}
export interface ValueInfoJson {
  name: string;
  type: { tensorType: { elemType: number; shape?: { dim: Array<{ dimValue: number } | { dimParam: string }> } } };
}

/** A graph without initializers (subgraphs of If nodes read the main graph's initializers from the outer scope). */
export interface GraphJson {
  name: string;
  node: NodeJson[];
  input: ValueInfoJson[];
  output: ValueInfoJson[];
  docString?: string;
}

/** An initializer whose bytes are spliced in by {@link encodeModel}. */
export interface RawInitializer {
  name: string;
  dims: readonly number[];
  dataType: number;
  /** Little-endian element bytes (ONNX raw_data). */
  bytes: Uint8Array;
}

/** Everything of a model but its large initializers. */
export interface ModelJson {
  irVersion: number;
  opsetImport: Array<{ domain: string; version: number }>;
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadataProps?: Array<{ key: string; value: string }>;
  graph: GraphJson;
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/** Tag + length prefix of a length-delimited field. */
function lenPrefix(field: number, length: number): Uint8Array {
  const tag = varint(field * 8 + 2);
  const len = varint(length);
  const out = new Uint8Array(tag.length + len.length);
  out.set(tag);
  out.set(len, tag.length);
  return out;
}

/**
 * Encodes a ModelProto. Small parts go through protobufjs; each initializer's TensorProto header
 * (name, dims, data_type) too, with its raw_data (field 9) and the initializer field (GraphProto 5)
 * and graph field (ModelProto 7) framed here. The result is one Uint8Array.
 */
export function encodeModel(model: ModelJson, initializers: readonly RawInitializer[]): Uint8Array {
  const { graph, ...rest } = model;
  const modelHead = onnx.ModelProto.encode(onnx.ModelProto.fromObject(rest)).finish();
  const graphHead = onnx.GraphProto.encode(onnx.GraphProto.fromObject(graph)).finish();
  const parts: Uint8Array[] = [graphHead];
  for (const init of initializers) {
    const head = onnx.TensorProto.encode(onnx.TensorProto.fromObject({ name: init.name, dims: [...init.dims], dataType: init.dataType })).finish();
    const raw = lenPrefix(9, init.bytes.length);
    const tensorLen = head.length + raw.length + init.bytes.length;
    parts.push(lenPrefix(5, tensorLen), head, raw, init.bytes);
  }
  let graphLen = 0;
  for (const p of parts) graphLen += p.length;
  const graphPrefix = lenPrefix(7, graphLen);
  const out = new Uint8Array(modelHead.length + graphPrefix.length + graphLen);
  let o = 0;
  for (const p of [modelHead, graphPrefix, ...parts]) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Decodes a model (tests and inspection). Initializer bytes are views into `bytes`. */
export function decodeModel(bytes: Uint8Array): Record<string, any> {
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: Number, defaults: false }) as Record<string, any>;
}
