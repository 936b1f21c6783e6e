import { clearScreenDown, createInterface, cursorTo, moveCursor, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/**
 * The chat's terminal: an input line at the bottom, and lines printed above it without disturbing
 * what is being typed (readline keeps the typed text; we clear the input rows, print, and redraw).
 * When not on a terminal, plain lines in and out.
 */
export class ChatScreen {
  private readonly rl: Interface;
  readonly tty: boolean;
  /** Once closed (a /quit handled in `onLine`, Ctrl-C, end of input), readline must not be used again. */
  private closed = false;

  constructor(
    private readonly input: Readable & { isTTY?: boolean },
    private readonly output: Writable & { isTTY?: boolean },
    prompt: string,
    onLine: (line: string) => void,
    onClose: () => void,
  ) {
    this.tty = Boolean(input.isTTY && output.isTTY);
    this.rl = createInterface({ input, output, prompt, terminal: this.tty, historySize: this.tty ? 100 : 0 });
    this.rl.on('line', (line) => {
      onLine(line);
      if (this.tty && !this.closed) this.rl.prompt();
    });
    this.rl.on('close', () => {
      this.closed = true;
      onClose();
    });
    // Ctrl-C at the prompt ends the chat like /quit.
    this.rl.on('SIGINT', () => this.rl.close());
    if (this.tty) this.rl.prompt();
  }

  /** Prints a line above the input line; the input line is redrawn as it was. */
  print(line: string): void {
    if (!this.tty || this.closed) {
      this.output.write(`${line}\n`);
      return;
    }
    const { rows } = this.rl.getCursorPos();
    moveCursor(this.output, 0, -rows);
    cursorTo(this.output, 0);
    clearScreenDown(this.output);
    this.output.write(`${line}\n`);
    this.rl.prompt(true);
  }

  close(): void {
    this.rl.close();
  }
}
