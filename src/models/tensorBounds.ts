/**
 * Bounds on what a checkpoint can make the reader allocate. A tensor's declared shape is only numbers until
 * it is read, so a hostile file can describe gigabytes of tensors backed by a few bytes: stride-0
 * (broadcast) views of one element, overlapping strides, or views of a deflate-compressed record that
 * inflates far beyond the file. Every view is checked here, by name, before any data is read:
 * - no stride 0 on a dimension larger than 1, no two elements of a view on one storage element, so a
 *   tensor's elements are backed by as many distinct storage elements;
 * - the view lies inside its storage (offset + largest index < the storage's elements), and the storage
 *   inside its record;
 * - elements per tensor, the span of storage a read touches, and elements over all tensors are capped.
 */
import { FaceRestoreError } from '../errors.ts';
import { DTYPE_BYTES, type TensorRef } from './pickle.ts';

/** Limits for {@link checkTensorView}; every field in elements. */
export interface CheckpointLimits {
  /** Most elements of one tensor, and of the storage span one read touches. Default {@link DEFAULT_LIMITS}. */
  maxTensorElements: number;
  /** Most elements over all tensors of the state dict. */
  maxTotalElements: number;
}

/**
 * Defaults: 2^25 elements per tensor (128 MiB as float32; the official CodeFormer's largest tensor has
 * 2.36 M) and 2^28 in total (1 GiB as float32; the official network has 94.1 M). Architecture readers
 * cap tighter against what their network needs (see `codeformer/arch.ts`).
 */
export const DEFAULT_LIMITS: Readonly<CheckpointLimits> = { maxTensorElements: 2 ** 25, maxTotalElements: 2 ** 28 };

function fail(path: string, message: string): never {
  throw new FaceRestoreError('E_CHECKPOINT', `checkpoint ${path}: ${message}`);
}

/**
 * Checks one tensor view (see the module comment) and returns its element count and the storage span a
 * read of it touches (both in elements). `recordBytes` is the size of the storage's record as the file
 * declares it. Throws E_CHECKPOINT naming the tensor.
 */
export function checkTensorView(path: string, name: string, ref: TensorRef, recordBytes: number, limits: CheckpointLimits): { numel: number; span: number } {
  const { shape, stride, storage } = ref;
  const esize = DTYPE_BYTES[ref.dtype];
  const shapeText = `[${shape.join(', ')}]`;
  let numel = 1;
  for (const d of shape) {
    numel *= d;
    // Checked per dimension so the product never leaves the exact integer range.
    if (numel > limits.maxTensorElements) fail(path, `tensor ${name} has shape ${shapeText}: more than ${limits.maxTensorElements} elements, the limit for one tensor`);
  }
  const recordNeeds = storage.recordNumel * esize;
  if (recordBytes > recordNeeds) {
    fail(path, `tensor ${name}: storage record ${storage.key} declares ${recordBytes} bytes, but its storage holds ${storage.recordNumel} ${ref.dtype} elements (${recordNeeds} bytes)`);
  }
  const storageNeeds = (storage.elementOffset + storage.numel) * esize;
  if (recordBytes < storageNeeds) fail(path, `tensor ${name}: storage record ${storage.key} has ${recordBytes} bytes, its declared size needs ${storageNeeds}`);
  if (numel === 0) return { numel, span: 0 };
  const dims = shape.map((size, i) => ({ size, stride: stride[i]!, i })).filter((d) => d.size > 1);
  const broadcast = dims.find((d) => d.stride === 0);
  if (broadcast) {
    fail(path, `tensor ${name} has shape ${shapeText} with stride 0 on dimension ${broadcast.i} (size ${broadcast.size}): a broadcast view of one element, which a saved weight never is`);
  }
  // No overlap: with dimensions sorted by stride, each stride must step past everything the smaller ones reach.
  dims.sort((a, b) => a.stride - b.stride);
  let reach = 0;
  for (const d of dims) {
    if (d.stride <= reach) fail(path, `tensor ${name} has shape ${shapeText} with strides [${stride.join(', ')}], which make its elements overlap in the storage`);
    reach += (d.size - 1) * d.stride;
  }
  const span = reach + 1;
  if (span > limits.maxTensorElements) fail(path, `tensor ${name} spans ${span} elements of storage '${storage.key}' (strides [${stride.join(', ')}]): more than ${limits.maxTensorElements}, the limit for one tensor`);
  const last = ref.storageOffset + reach;
  if (last >= storage.numel) {
    fail(path, `tensor ${name} of shape ${shapeText} at offset ${ref.storageOffset} reaches element ${last} of storage '${storage.key}', which holds ${storage.numel}`);
  }
  return { numel, span };
}
