// Worker-thread entry of the encoder pool: encodes batches it is sent and posts them back, the payload's
// memory transferred rather than copied.
import { parentPort } from 'node:worker_threads';
import { type EncodeJob, encodeBatch, LineEncoders } from './encode-batch.ts';

export interface EncodeRequest {
  readonly id: number;
  readonly job: EncodeJob;
}

export type EncodeResponse =
  | { readonly id: number; readonly result: ReturnType<typeof encodeBatch> }
  /** With the job's buffers handed back, so that the lane can encode it inline instead. */
  | { readonly id: number; readonly error: string; readonly job: EncodeJob };

const port = parentPort;
if (port === null) throw new Error('encode-worker must run in a worker thread');
const encoders = new LineEncoders();
port.on('message', ({ id, job }: EncodeRequest) => {
  let response: EncodeResponse;
  try {
    response = { id, result: encodeBatch(job, encoders) };
  } catch (error) {
    response = { id, error: error instanceof Error ? (error.stack ?? error.message) : String(error), job };
  }
  // The buffers go back to the lane (and its pool), moved rather than copied.
  const buffers =
    'result' in response
      ? [response.result.payload.buffer, response.result.lines.buffer, response.result.eventEnds.buffer]
      : [job.input.lines.buffer, job.output.buffer, job.eventTable.buffer];
  port.postMessage(response, [...new Set(buffers)] as ArrayBuffer[]);
});
