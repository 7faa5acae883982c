import { CloudFormationClient, type DescribeStacksCommandOutput } from '@aws-sdk/client-cloudformation';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { main } from '../../bin/cli.js';

/** DescribeStacks' answer for one stack with these outputs (CloudFormation cannot run here: its client is mocked). */
export function describedStack(name: string, outputs: Record<string, string> = {}): Pick<DescribeStacksCommandOutput, 'Stacks'> {
  return {
    Stacks: [
      {
        StackName: name,
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  };
}

/** The CLI in-process with the AWS clients a test gives: mocked CloudFormation and Secrets Manager, DynamoDB on dynalite. */
export async function runWithAws(
  args: string[],
  dynamo: DynamoDBClient,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const aws = () => ({
    cloudformation: new CloudFormationClient({ region: 'eu-west-1' }),
    secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
    dynamo,
  });
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), env, aws });
  return { code, out, err };
}
