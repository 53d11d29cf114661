import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { TensorData } from '../graph/types';
import type { LoraWeights } from '../lora/adapter';
import { type LoraTargets, type PoolStrategy, rowSelectorFeed, loraTargetsKey, loraTargetsOf, poolLoraFeeds, singleLoraFeeds } from './lora-inputs';

/** What the caller asks for: one adapter for the batch, one per row (undefined = base), or none. */
export type LoraSelection = LoraWeights | readonly (LoraWeights | undefined)[] | undefined;

/**
 * How a batch's adapters are wired into the graph: none, one shared adapter (single), or a
 * pool gathered per row. The plan's `key` names the compiled graph it needs; its feeds change
 * per call without recompiling.
 */
export type LoraPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'single'; readonly targets: LoraTargets; readonly adapter: LoraWeights }
  | {
      readonly kind: 'pool';
      readonly targets: LoraTargets;
      readonly adapters: readonly LoraWeights[];
      readonly rowSlots: readonly number[];
      readonly strategy: PoolStrategy;
    };

export function planLora(config: ModelConfig, selection: LoraSelection, batch: number): LoraPlan {
  if (selection === undefined) return { kind: 'none' };
  if (!isPerRow(selection)) return { kind: 'single', targets: loraTargetsOf(config, [selection]), adapter: selection };
  if (selection.length !== batch) {
    throw new PeftCoreError('SHAPE_MISMATCH', `lora: ${selection.length} per-row adapters for a batch of ${batch}`);
  }
  const distinct = [...new Set(selection.filter((a): a is LoraWeights => a !== undefined))];
  if (distinct.length === 0) return { kind: 'none' };
  if (distinct.length === 1 && selection.every((a) => a === distinct[0])) {
    return { kind: 'single', targets: loraTargetsOf(config, distinct), adapter: distinct[0]! };
  }
  // Slot 0 of the pool is the all-zero "no adapter" slot.
  const rowSlots = selection.map((a) => (a === undefined ? 0 : distinct.indexOf(a) + 1));
  // Dense reads the pool once per step, gather copies one adapter per row: dense wins when the
  // pool (distinct adapters + the zero slot) is small against the batch. [measured in bench/model-forward]
  const strategy: PoolStrategy = (distinct.length + 1) * 2 <= batch ? 'dense' : 'gather';
  return { kind: 'pool', targets: loraTargetsOf(config, distinct), adapters: distinct, rowSlots, strategy };
}

export function planKey(plan: LoraPlan): string {
  if (plan.kind === 'none') return 'none';
  return `${plan.kind === 'pool' ? `pool-${plan.strategy}` : plan.kind}:${loraTargetsKey(plan.targets)}`;
}

/** Adapter feeds that stay fixed for a whole call (pools are stacked once per call). */
export function planFeeds(config: ModelConfig, plan: LoraPlan): Record<string, TensorData> {
  switch (plan.kind) {
    case 'none':
      return {};
    case 'single':
      return singleLoraFeeds(config, plan.targets, plan.adapter, true);
    case 'pool':
      return poolLoraFeeds(config, plan.targets, plan.adapters);
  }
}

/** The per-row adapter slots for the rows still in the batch (pool wiring only). */
export function rowSlotFeeds(plan: LoraPlan, rows: readonly number[]): Record<string, TensorData> {
  if (plan.kind !== 'pool') return {};
  if (plan.strategy === 'rows') throw new PeftCoreError('INVALID_ARGUMENT', "a 'rows' plan's adapters are fed per row by its caller (LoraPool.batchFeeds)");
  return rowSelectorFeed(rows.map((r) => plan.rowSlots[r]!), plan.adapters.length + 1, plan.strategy);
}

function isPerRow(selection: LoraWeights | readonly (LoraWeights | undefined)[]): selection is readonly (LoraWeights | undefined)[] {
  return Array.isArray(selection);
}
