// Concurrent image pushes: N clients at once, each pushing 2 small layers, a config and a
// manifest (HEAD, POST, PUT per blob, then PUT manifest) into its own repository.
import { PatternData } from '../lib/data.js';
import { pushImage } from '../lib/http.js';
import { fmt, measure, median, mibLabel, serverNotes, type BenchContext, type Measured, type Row } from '../lib/context.js';

export async function concurrentPushes(ctx: BenchContext): Promise<Row[]> {
  const { pushConcurrency: n, pushRounds: rounds, pushLayerSize: layerSize } = ctx.settings;
  const results: Measured<unknown>[] = [];
  for (let round = 0; round < rounds; round++) {
    const images = Array.from({ length: n }, (_, i) => [0, 1].map((l) => new PatternData(`push-${ctx.round}-${round}-${i}-${l}`, layerSize).bytes()));
    ctx.log(`concurrent pushes: round ${round + 1}/${rounds}, ${n} at once`);
    results.push(await measure(ctx.registry, () => Promise.all(images.map((layers, i) => pushImage(ctx.client, `bench/push-${ctx.round}-${round}-${i}`, 'v1', layers)))));
  }
  const times = results.map((m) => m.seconds);
  const med = median(times);
  const worst = results.reduce((a, b) => (a.seconds > b.seconds ? a : b));
  return [
    {
      workload: `${n} concurrent pushes, total time`,
      value: med * 1000,
      unit: 'ms',
      notes: `median of ${rounds} rounds (${times.map((t) => fmt(t * 1000)).join(', ')} ms); each push 2 x ${mibLabel(layerSize)} layers + config + manifest`,
    },
    {
      workload: `${n} concurrent pushes, rate`,
      value: n / med,
      unit: 'pushes/s',
      notes: `slowest round: ${serverNotes(worst)}`,
    },
  ];
}
