/** The EC2 tag every burst instance carries (its value: the stage): how burst finds its own, and what IAM conditions name. */
export const BURST_TAG = 'gpupool:burst';
