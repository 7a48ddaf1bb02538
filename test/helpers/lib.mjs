// Loads the built library the way a user does (ESM import of the package entry).
import * as lib from 'autocontrast';
export default lib;
export const repoRoot = new URL('../../', import.meta.url).pathname;
