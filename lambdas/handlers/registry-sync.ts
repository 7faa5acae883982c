/**
 * The custom resource that reconciles the registry to the servers file on deploy (lib/registry-sync.ts).
 * Create and Update reconcile (a failure answers FAILED, so the deploy fails and rolls back: CloudFormation
 * then sends the previous file as an Update); Delete, when the setting is removed or the stack deleted,
 * leaves the registry as it is. The answer goes to CloudFormation's pre-signed ResponseURL.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from 'aws-lambda';
import {
  parseDeployedServers,
  reconcileRegistry,
  type CredentialStore,
  type OwnedRegistry,
  type ReconcileResult,
} from '../app/servers-file.js';
import { awsRegistry, log } from './wiring.js';

/** The resource's properties (strings, as CloudFormation passes them). */
export interface RegistrySyncProperties {
  /** The servers file's text, as validated at synth. */
  Servers: string;
  /** Its SHA-256: a changed file changes a property, so CloudFormation sends an Update. */
  Hash: string;
  SecretsPrefix: string;
  /** The stack's credentialStore; absent in the properties of a stack deployed before it was passed. */
  CredentialStore?: CredentialStore;
}

/** One physical id for the life of the resource: an Update never replaces it (which would send a Delete). */
export const PHYSICAL_ID = 'inboxguard-registry-sync';
/** CloudFormation keeps at most 4 KB of a response; the reason is cut well below. */
const MAX_REASON = 2000;

/** Create/Update: reconcile; Delete: nothing (the registry outlives the setting). Throws on failure. */
export async function onEvent(event: CloudFormationCustomResourceEvent, registry: OwnedRegistry): Promise<ReconcileResult | undefined> {
  if (event.RequestType === 'Delete') {
    log({ event: 'registry-sync', request: 'Delete', note: 'the registry is kept as it is' });
    return undefined;
  }
  const p = event.ResourceProperties as unknown as RegistrySyncProperties;
  const servers = parseDeployedServers(p.Servers, 'serversFile', p.SecretsPrefix, p.CredentialStore ?? 'secretsmanager');
  const result = await reconcileRegistry(registry, servers);
  log({ event: 'registry-sync', request: event.RequestType, hash: p.Hash, ...result });
  return result;
}

/** PUT the answer to the pre-signed URL, with the empty content type its signature expects. */
function send(url: string, body: string): Promise<void> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode && res.statusCode < 300 ? resolve() : reject(new Error(`ResponseURL answered ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function createRegistrySyncHandler(registry: () => OwnedRegistry) {
  return async (event: CloudFormationCustomResourceEvent, context: { logStreamName: string }): Promise<void> => {
    const base = {
      PhysicalResourceId: event.RequestType === 'Create' ? PHYSICAL_ID : event.PhysicalResourceId,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
    };
    let response: CloudFormationCustomResourceResponse;
    try {
      const r = await onEvent(event, registry());
      response = {
        ...base,
        Status: 'SUCCESS',
        ...(r ? { Data: { Added: r.added.length, Changed: r.changed.length, Removed: r.removed.length } } : {}),
      };
    } catch (err) {
      const message = (err as Error).message;
      log({ event: 'registry-sync', request: event.RequestType, error: message });
      const reason = `${message} (log stream ${context.logStreamName})`;
      response = { ...base, Status: 'FAILED', Reason: reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason };
    }
    await send(event.ResponseURL, JSON.stringify(response));
  };
}

export const handler = createRegistrySyncHandler(() => awsRegistry(process.env));
