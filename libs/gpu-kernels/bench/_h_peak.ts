import { matmulPeakGflops } from '../src';
async function main() {
  for (let rep = 0; rep < 2; rep++)
  for (const t of [undefined, 1, 2] as const) {
    const p = await matmulPeakGflops({ sizes: [512, 1024, 2048], iterations: 5, session: t === undefined ? {} : { intraOpThreads: t } });
    console.log('threads', t, p.bySize.map((s) => `${s.size}:${s.gflops.toFixed(0)}`).join(' '));
  }
}
main();
