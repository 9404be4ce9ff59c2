/** A placeholder for a command whose feature has not landed yet: says so and exits 1. */
import type { Command } from '../command.ts';

export function notYet(name: string, summary: string): Command {
  const text = `queue:${name} is not available yet (${summary}: it arrives with the audit store)`;
  return {
    summary: `${summary} (not available yet)`,
    help: () => text,
    async run(_args, ctx) {
      await ctx.print(text);
      return 1;
    },
  };
}
