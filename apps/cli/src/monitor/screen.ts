/**
 * Where `monitor --watch` draws. On a terminal each frame overwrites the last in place
 * (cursor up, rewrite, clear below), cut to the window so it never scrolls; into a pipe
 * or file, frames are appended with a blank line between them.
 */
import { write } from '../output.ts';

const ESC = '\x1b[';

export interface Screen {
  draw(lines: readonly string[]): Promise<void>;
  /** Restores the cursor; the last frame stays visible. */
  close(): Promise<void>;
}

export function createScreen(stream: NodeJS.WriteStream): Screen {
  if (!stream.isTTY) {
    let first = true;
    return {
      draw: (lines) => {
        const text = `${first ? '' : '\n'}${lines.join('\n')}\n`;
        first = false;
        return write(stream, text);
      },
      close: async () => {},
    };
  }

  let drawn = 0;
  return {
    draw(lines) {
      const fitted = fit(lines, stream.rows ?? 24, stream.columns ?? 80);
      // Previous-line moves back to the first row of the last frame; erase-line per row and
      // erase-below afterwards replace it without the flicker a full clear causes.
      const start = drawn > 0 ? `${ESC}${drawn}F` : `${ESC}?25l`;
      drawn = fitted.length;
      return write(stream, `${start}${fitted.map((line) => `${line}${ESC}K`).join('\n')}\n${ESC}J`);
    },
    close: () => write(stream, `${ESC}?25h`),
  };
}

/** Cuts lines to the window width (a wrapped line would break the cursor math) and height. */
function fit(lines: readonly string[], rows: number, columns: number): string[] {
  const cut = lines.map((line) => (line.length >= columns ? `${line.slice(0, Math.max(columns - 2, 0))}…` : line));
  const room = Math.max(rows - 1, 1);
  if (cut.length <= room) return cut;
  return [...cut.slice(0, room - 1), `… ${cut.length - room + 1} more lines; enlarge the window or use --limit`];
}
