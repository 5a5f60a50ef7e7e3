/** pino-roll ships no types; this is the part of its API the program logger uses (its README). */
declare module 'pino-roll' {
  import type { Writable } from 'node:stream';
  interface PinoRollOptions {
    file: string | (() => string);
    frequency?: 'daily' | 'hourly' | number;
    size?: string | number;
    extension?: string;
    dateFormat?: string;
    mkdir?: boolean;
    sync?: boolean;
  }
  /** The module itself is the builder (CommonJS `module.exports = function (options)`). */
  export default function build(options: PinoRollOptions): Promise<Writable>;
}
