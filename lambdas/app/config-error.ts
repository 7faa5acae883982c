/** Thrown for a config or profile file that cannot be used; the message names the server id or requirement id, and the field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
