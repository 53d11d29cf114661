import { OpDef } from '../op-def';
import { scalarTensor, tensorSpec } from '../tensor-data';
import { shapeError } from '../types';

/** Ops with no inputs: literal constants and fills of a (possibly symbolic) shape. */
export const SOURCE_OPS: { [K in 'Constant' | 'Fill']: OpDef<K> } = {
  Constant: {
    arity: 0,
    infer: (_inputs, { tensor }) => [{ dtype: tensor.dtype, shape: [...tensor.shape] }],
    emit: (ctx, n) => ctx.node('Constant', [], [ctx.name(n.outputs[0]!)], { value: { kind: 'tensor', value: tensorSpec(n.attrs.tensor) } }),
  },
  Fill: {
    arity: 0,
    infer: (_inputs, { shape, value, dtype }) => {
      if (!Number.isFinite(value)) throw shapeError(`Fill: value must be finite, got ${value}`);
      return [{ dtype, shape: [...shape] }];
    },
    emit: (ctx, n) => {
      const { shape, value, dtype } = n.attrs;
      const dims = shape.every((d) => typeof d === 'number') ? ctx.int64s(shape as number[]) : ctx.shapeTensor(shape);
      const fillValue = { ...tensorSpec(scalarTensor(value, dtype)), dims: [1] };
      ctx.node('ConstantOfShape', [dims], [ctx.name(n.outputs[0]!)], { value: { kind: 'tensor', value: fillValue } });
    },
  },
};
