// gpupool offers: GET /v1/offers as a table, cheapest first.
import type { Offer as ApiOffer, View } from '../answers';
import type { Ctx } from '../context';
import { formatCredits, formatScore, table } from '../format';
import { parseInteger, parsePrice } from '../run-spec';

export type Offer = View<ApiOffer, 'gpuModel' | 'vramGb' | 'region' | 'nodes' | 'freeGpus' | 'minPricePerGpuHour' | 'medianPricePerGpuHour' | 'medianReputation'>;

export async function offers(ctx: Ctx, _args: string[], o: { gpu?: string; gpus?: string; region?: string; maxPrice?: string }) {
  const query = {
    gpuModel: o.gpu,
    gpus: parseInteger(o.gpus, '--gpus', 1),
    region: o.region,
    maxPrice: parsePrice(o.maxPrice, '--max-price'),
  };
  const r = await ctx.api().get<{ items: Offer[] }>('/v1/offers', query);
  if (ctx.json) return ctx.printJson(r);
  const items = [...(r.items ?? [])].sort((a, b) => a.minPricePerGpuHour - b.minPricePerGpuHour || a.gpuModel.localeCompare(b.gpuModel));
  if (!items.length) {
    ctx.note('No free capacity matches.');
    return;
  }
  ctx.out(
    table(
      ['GPU', 'VRAM>', 'REGION', 'NODES>', 'FREE GPUS>', 'MIN PRICE>', 'MEDIAN PRICE>', 'REPUTATION>'],
      items.map((x) => [
        x.gpuModel,
        `${x.vramGb} GB`,
        x.region,
        x.nodes,
        x.freeGpus,
        formatCredits(x.minPricePerGpuHour),
        formatCredits(x.medianPricePerGpuHour),
        formatScore(x.medianReputation),
      ]),
      ctx.c,
    ),
  );
  ctx.note('Prices in credits per GPU-hour.');
}
