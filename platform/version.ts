import manifest from '../package.json';

/** The running release of aiworker (`package.json`). */
export const AIWORKER_VERSION: string = manifest.version;
