import * as ort from 'onnxruntime-node';
import { matmulModel } from '../src';
async function main() {
  const m = matmulModel(256);
  const a = new ort.Tensor('float32', new Float32Array(256 * 256), [256, 256]);
  for (const [label, extra] of [['nested0', { session: { intra_op: { allow_spinning: '0' } } }], ['nested1', { session: { intra_op: { allow_spinning: '1' } } }], ['flat0', { 'session.intra_op.allow_spinning': '0' }], ['none', {}]] as const) {
    const s = await ort.InferenceSession.create(m, { extra, logSeverityLevel: 3 });
    for (let i = 0; i < 20; i++) await s.run({ a, b: a });
    const c0 = process.cpuUsage(); const t0 = performance.now();
    for (let i = 0; i < 300; i++) { await s.run({ a, b: a }); await new Promise((r) => setTimeout(r, 1)); }
    const c = process.cpuUsage(c0); const wall = performance.now() - t0;
    console.log(label, 'wall ms', wall.toFixed(0), 'cpu ms', ((c.user + c.system) / 1000).toFixed(0));
    await s.release();
  }
}
main();
