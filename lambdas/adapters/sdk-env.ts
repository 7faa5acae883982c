// No imports: the CLI's AWS commands call this without loading dynalite (embedded.ts re-exports it).

/**
 * Keeps the AWS SDK's one-time NodeVersionSupportWarning (emitted on Node < 22 when the first client is
 * created) out of CLI output, through the SDK's own switch; other warnings are untouched. Call it once at
 * CLI start-up, before any AWS client exists. An explicit setting of the variable wins.
 *
 * The SDK reads the switch from `process.env` only (@aws-sdk/core emitWarningIfUnsupportedVersion), so it is
 * set there, never on a command's own copy of the environment (`npm run demo` passes one, and the warning
 * reached its users that way).
 */
export function suppressSdkNodeVersionWarning(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
