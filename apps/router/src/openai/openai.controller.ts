import { Body, Controller, Get, HttpCode, Post, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { parseChatRequest, parseCompletionRequest } from './completion-request';
import { respondToCompletion } from './completion-responder';
import { InferenceService } from './inference.service';
import { ModelListService, type ModelList } from './model-list.service';

/** OpenAI-compatible inference endpoints. */
@Controller('v1')
export class OpenAiController {
  constructor(
    private readonly inference: InferenceService,
    private readonly modelList: ModelListService,
  ) {}

  @Post('completions')
  @HttpCode(200)
  completions(@Body() body: unknown, @Res() res: ServerResponse): Promise<void> {
    return respondToCompletion(this.inference, 'text', parseCompletionRequest(body), res);
  }

  @Post('chat/completions')
  @HttpCode(200)
  chat(@Body() body: unknown, @Res() res: ServerResponse): Promise<void> {
    return respondToCompletion(this.inference, 'chat', parseChatRequest(body), res);
  }

  @Get('models')
  models(): Promise<ModelList> {
    return this.modelList.list();
  }
}
