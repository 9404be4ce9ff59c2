/** A throwaway Postgres database for the measuring scripts: created on DATABASE_URL's server (default the local one), dropped afterwards. */
import postgres from 'postgres';

/**
 * Runs `use` with the URL of a fresh database named `sluice_<label>_<pid>`, then drops it
 * (with force: connections the script left open do not keep it).
 */
export async function withScratchDatabase<T>(label: string, use: (url: string) => Promise<T>): Promise<T> {
  const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `sluice_${label}_${process.pid}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return await use(url.toString());
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end();
  }
}
