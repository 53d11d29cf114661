import type { Graph } from './graph';
import { OPS } from './op-table';
import { graphError, isFloat } from './types';
import { GradRule } from './op-def';
import { Node, OpName, Value } from './value';

/**
 * Reverse-mode differentiation: adds nodes computing d(loss)/d(w) for each w in wrt and returns
 * them in order. loss must be a float scalar (shape [] or all ones). Only nodes on a path from
 * some w to the loss are differentiated; a w the loss does not depend on gets zeros.
 *
 * Gradients of a value used several times are summed. The traversal is iterative, so graph
 * depth is not limited by the JS stack.
 */
export function gradients(g: Graph, loss: Value, wrt: readonly Value[]): Value[] {
  if (loss.graphId !== g.id || wrt.some((w) => w.graphId !== g.id)) throw graphError('gradients: values must belong to the graph');
  if (!isFloat(loss.dtype) || loss.shape.some((d) => d !== 1)) {
    throw graphError(`gradients: loss must be a float scalar, got ${loss.dtype}[${loss.shape.join(',')}]`);
  }
  for (const w of wrt) if (!isFloat(w.dtype)) throw graphError(`gradients: cannot differentiate w.r.t. ${w.dtype} value ${w.label}`);

  const order = topologicalOrder(loss);
  const wrtIds = new Set(wrt.map((w) => w.id));
  // A node matters if one of its inputs depends on a wrt value (forward pass over the order).
  const dependsOnWrt = new Set<number>(wrtIds);
  const relevant: Node[] = [];
  for (const node of order) {
    if (node.inputs.some((v) => dependsOnWrt.has(v.id))) {
      relevant.push(node);
      for (const o of node.outputs) dependsOnWrt.add(o.id);
    }
  }

  // Contributions are collected per value and summed once, when the value's gradient is first
  // read: all its consumers come later in topological order, so by then the list is complete.
  // One n-ary Sum writes the result once, where a chain of Adds would write n − 1 temporaries
  // (a hidden state feeding q/k/v and their LoRA factors gets six contributions).
  const parts = new Map<number, Value[]>();
  const accumulate = (v: Value, grad: Value): void => {
    const list = parts.get(v.id);
    if (list) list.push(grad);
    else parts.set(v.id, [grad]);
  };
  const gradOf = (v: Value): Value | undefined => {
    const list = parts.get(v.id);
    if (!list) return undefined;
    const total = g.sum(list);
    parts.set(v.id, [total]);
    return total;
  };
  accumulate(loss, g.fill(loss.shape, 1, loss.dtype));

  for (let i = relevant.length - 1; i >= 0; i--) {
    const node = relevant[i]!;
    const outGrads = node.outputs.map((o) => gradOf(o));
    if (outGrads.every((d) => d === undefined)) continue;
    const rule = OPS[node.op].grad as GradRule<OpName> | undefined;
    if (!rule) continue;
    const needs = node.inputs.map((v) => dependsOnWrt.has(v.id) && isFloat(v.dtype));
    const inGrads = rule(g, node, outGrads, needs);
    node.inputs.forEach((input, k) => {
      const d = inGrads[k];
      if (d && dependsOnWrt.has(input.id) && isFloat(input.dtype)) accumulate(input, d);
    });
  }
  return wrt.map((w) => gradOf(w) ?? g.zerosLike(w));
}

/** Nodes that the value depends on, producers before consumers (iterative post-order DFS). */
export function topologicalOrder(...roots: Value[]): Node[] {
  const order: Node[] = [];
  const state = new Map<number, 'open' | 'done'>();
  const stack: { node: Node; next: number }[] = [];
  const visit = (v: Value): void => {
    const n = v.producer;
    if (!n || state.has(n.id)) return;
    state.set(n.id, 'open');
    stack.push({ node: n, next: 0 });
  };
  for (const r of roots) {
    visit(r);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.node.inputs.length) {
        visit(top.node.inputs[top.next++]!);
      } else {
        stack.pop();
        state.set(top.node.id, 'done');
        order.push(top.node);
      }
    }
  }
  return order;
}
