/**
 * The error thrown for a model folder that breaks the format.
 */

import { AutocontrastError } from '../../errors';

/** A model folder failed validation; `problems` lists every problem found, one line each. */
export class ModelFolderError extends AutocontrastError {
  /**
   * @param dir the folder
   * @param problems one human-readable line per problem
   */
  constructor(
    readonly dir: string,
    readonly problems: readonly string[],
  ) {
    super(
      'AC_MODEL_FOLDER',
      problems.length === 1
        ? `invalid model folder ${dir}: ${problems[0]}`
        : `invalid model folder ${dir}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ModelFolderError';
  }
}
