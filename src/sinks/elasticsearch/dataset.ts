// The dataset of Elastic's Kubernetes integration whose fields the documents follow. A module of its own so
// that the encoder (loaded in every encoder thread) does not pull in the config schema and zod.
export const DATASET = 'kubernetes.audit_logs';
