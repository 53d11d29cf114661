export {
  ANSWER_PREFIX,
  defineTask,
  exactMatch,
  parseTaskPrompt,
  renderPrompt,
  renderQuestion,
  type TaskExample,
  type TaskSpec,
  type WorldTask,
} from './task';
export { WORLD_TASKS, getWorldTask } from './tasks';
export { generateSplit, taskSeed, type SplitOptions, type TaskSplit } from './split';
export {
  MAX_COMPOSITE_PARTS,
  MIN_COMPOSITE_PARTS,
  compositePrompt,
  sampleComposite,
  scoreComposite,
  type CompositeExample,
  type CompositePart,
  type CompositeScore,
} from './composite';
export { CORPUS_ANSWER_SEPARATOR, CORPUS_MARKERS, genericCorpus } from './corpus';
export { compositeDatasetJsonl, compositeRecord, taskDatasetJsonl, taskRecord } from './dataset';
export * from './recipe';
