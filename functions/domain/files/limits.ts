// Limits of the files feature (docs/data.md). A presigned PUT carries one request body, and S3 takes at
// most 5 GiB in one PUT, so that is the largest single file; the rest keep one job's traffic bounded.
export const GIB = 1024 ** 3;
/** largest uploaded input file, output file or checkpoint file: S3's single-PUT limit */
export const MAX_FILE_BYTES = 5 * GIB;
/** inputs one job may name */
export const MAX_INPUTS = 64;
/** what one attempt may download as inputs, file and URL inputs together (the agent counts URL bytes as they come) */
export const MAX_INPUT_BYTES = 50 * GIB;
/** output files one attempt may upload, and their total size */
export const MAX_OUTPUT_FILES = 256;
export const MAX_OUTPUT_BYTES = 50 * GIB;
/** files in one checkpoint, and its total size */
export const MAX_CHECKPOINT_FILES = 1024;
export const MAX_CHECKPOINT_BYTES = 50 * GIB;
/** a relative path's length (inputs, outputs, checkpoint files) */
export const MAX_PATH_LENGTH = 512;
/** how long a presigned URL lives: uploads of a new file, grants to an agent, download links */
export const UPLOAD_URL_SECONDS = 3600;
export const DOWNLOAD_URL_SECONDS = 3600;
/** the shortest checkpoint period a job may ask for (each save costs a request to the control plane) */
export const MIN_CHECKPOINT_INTERVAL_SECONDS = 10;
