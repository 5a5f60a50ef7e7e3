/**
 * Text a client sent (an Origin header, a path, an event type) made safe for one log line:
 * control characters escaped, so that no value can start a forged line, and the length capped.
 */
// Matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function logText(text: string, maxLength = 200): string {
  const escaped = text.replace(
    CONTROL_CHARACTERS,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return escaped.length <= maxLength ? escaped : `${escaped.slice(0, maxLength)}…`;
}
