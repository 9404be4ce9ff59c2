/** Whether a Docker engine answers (the client alone is not enough). */
export async function dockerEngineAvailable(): Promise<boolean> {
  if (!Bun.which('docker')) return false;
  try {
    const proc = Bun.spawn(['docker', 'info', '--format', '{{.ServerVersion}}'], { stdout: 'ignore', stderr: 'ignore' });
    const timer = setTimeout(() => proc.kill(), 3000);
    const code = await proc.exited;
    clearTimeout(timer);
    return code === 0;
  } catch {
    return false;
  }
}

export async function docker(args: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(['docker', ...args], { stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: (out + err).trim() };
}
