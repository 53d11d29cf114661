import type { ProcessorTable } from '../job-context';
import { processEmbed } from './embed';
import { processEvaluate } from './evaluate';
import { processPretrain } from './pretrain';
import { processTrain } from './train';
import { processTransfer } from './transfer';
import { processTrainRouter } from './train-router';
import { processTrainRetriever } from './train-retriever';

/** The processor of each job kind. */
export const PROCESSORS: ProcessorTable = {
  train: processTrain,
  pretrain: processPretrain,
  embed: processEmbed,
  evaluate: processEvaluate,
  transfer: processTransfer,
  'train-router': processTrainRouter,
  'train-retriever': processTrainRetriever,
};

export { processEmbed, processEvaluate, processPretrain, processTrain, processTrainRetriever, processTrainRouter, processTransfer };
