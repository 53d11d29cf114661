import { Body, Controller, Get, HttpCode, Inject, Post, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { routerErrors } from '../common/router-error';
import { parseAdapterRef, parseModelSpec } from '../adapters/adapter-ref';
import { AdapterService } from '../adapters/adapter-service';
import type { CacheEntryInfo } from '../adapters/adapter-cache';
import { BaseModelService } from '../models/base-model-service';

/**
 * Adapter cache administration. load/unload follow vLLM's dynamic LoRA API
 * (POST /v1/load_lora_adapter {lora_name, lora_path}, POST /v1/unload_lora_adapter {lora_name});
 * here lora_name is a registry reference, `adapter[@ref]` on the default base or
 * `base:adapter[@ref]`, and lora_path (optional) is ignored: the registry knows where it lives.
 */
@Controller('v1')
export class LoraAdminController {
  constructor(
    @Inject(ROUTER_CONFIG) private readonly config: RouterConfig,
    private readonly adapters: AdapterService,
    private readonly baseModels: BaseModelService,
  ) {}

  @Get('lora_adapters')
  list(): { object: 'list'; data: CacheEntryInfo[]; bytes: number; budget_bytes: number } {
    return { object: 'list', data: this.adapters.cache.list(), bytes: this.adapters.cache.bytes, budget_bytes: this.config.adapterCacheBytes };
  }

  /** Loads and pins (kept until unloaded). vLLM answers with a text line; so does this. */
  @Post('load_lora_adapter')
  @HttpCode(200)
  async load(@Body() body: unknown, @Res() res: ServerResponse): Promise<void> {
    const { base, ref } = this.target(body);
    const served = await this.baseModels.get(base);
    const { adapter, entry } = await this.adapters.pin(served, ref, 'lora_name');
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(`Success: LoRA adapter '${adapter.id}' loaded on ${base} (${entry.bytes} bytes, ${entry.loadMs.toFixed(1)} ms).`);
  }

  @Post('unload_lora_adapter')
  @HttpCode(200)
  unload(@Body() body: unknown, @Res() res: ServerResponse): void {
    const { base, ref } = this.target(body);
    if (this.adapters.unload(base, ref.name) === 0) throw routerErrors.adapterNotFound(`${ref.name} (not loaded)`, 'lora_name');
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(`Success: LoRA adapter '${ref.name}' removed successfully.`);
  }

  private target(body: unknown): { base: string; ref: ReturnType<typeof parseAdapterRef> } {
    const name = typeof body === 'object' && body !== null ? (body as { lora_name?: unknown }).lora_name : undefined;
    if (typeof name !== 'string' || name === '') throw routerErrors.invalid(`'lora_name' must be an adapter reference (adapter[@ref] or base:adapter[@ref])`, 'lora_name');
    const spec = parseModelSpec(name);
    if (spec.kind === 'adapter') return { base: spec.base, ref: spec.adapter };
    const base = this.config.defaultBaseModel;
    if (base === undefined) throw routerErrors.invalid(`'lora_name' must name its base (base:adapter[@ref]): no DEFAULT_BASE_MODEL is configured`, 'lora_name');
    return { base, ref: spec.kind === 'bare-adapter' ? spec.adapter : parseAdapterRef(spec.name, 'lora_name') };
  }
}
