/** Writes that resolve once flushed: Bun's process.exit drops stdout still buffered for a pipe. */

export function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}
