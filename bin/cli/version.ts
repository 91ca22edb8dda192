// The CLI's version: package.json's, inlined by the bundler (only this field goes into dist/gpupool.mjs).
import { version } from '../../package.json';

export const CLI_VERSION: string = version;
