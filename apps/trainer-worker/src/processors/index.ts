import type { ProcessorTable } from '../job-context';
import { processEmbed } from './embed';
import { processEvaluate } from './evaluate';
import { processPretrain } from './pretrain';
import { processTrain } from './train';

/** The processor of each job kind. */
export const PROCESSORS: ProcessorTable = {
  train: processTrain,
  pretrain: processPretrain,
  embed: processEmbed,
  evaluate: processEvaluate,
};

export { processEmbed, processEvaluate, processPretrain, processTrain };
