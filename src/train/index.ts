/**
 * Exit fitting: `fitExits` fits amateur exits (trained heads, tuned-lens or least-squares translators) of a frozen
 * model and writes them into its model folder.
 */
export { fitExits, type FitExitsOptions, type FitExitsResult, type FitProgress, type LayerReport } from './fit-exits';
export { FitError, type FitErrorCode } from './fit-error';
export type { FitMethod } from './exit-nodes';
export { matchEvaluationSet } from './eval-guard';
