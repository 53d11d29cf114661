import { OpTable } from './op-def';
import { ELEMENTWISE_OPS } from './ops/elementwise';
import { INDEXING_OPS } from './ops/indexing';
import { LOSS_OPS } from './ops/loss';
import { MATMUL_OP } from './ops/matmul';
import { REDUCE_OPS } from './ops/reduce';
import { SHAPE_OPS } from './ops/shape';
import { SOURCE_OPS } from './ops/source';

/**
 * Every primitive op: shape/dtype inference, ONNX emission and the gradient rule, side by side
 * in ops/*. Derived operations (RMSNorm, attention, ...) live in nn.ts and are built from
 * these, so they need no rules of their own. Softmax cross-entropy is the one fused primitive
 * (ops/loss.ts), for its cheaper gradient over the vocabulary. The type forces an entry for every op name.
 */
export const OPS: OpTable = {
  ...SOURCE_OPS,
  ...ELEMENTWISE_OPS,
  MatMul: MATMUL_OP,
  ...SHAPE_OPS,
  ...REDUCE_OPS,
  ...INDEXING_OPS,
  ...LOSS_OPS,
};
