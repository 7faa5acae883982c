import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { SettingsError, parseConfig } from '../../lib/config.js';
import { STACK_OUTPUTS } from '../../lib/stack.js';
import { expectAppRefuses, synth } from './synth.js';

const VPC = {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  egressIps: ['203.0.113.10', '203.0.113.11'],
};

describe('existingVpc', () => {
  const { template } = synth({ existingVpc: VPC });
  const functions = Object.values(template.findResources('AWS::Lambda::Function'));

  it('creates no VPC, subnet, NAT gateway, Elastic IP, flow log or endpoint', () => {
    for (const type of [
      'AWS::EC2::VPC',
      'AWS::EC2::Subnet',
      'AWS::EC2::NatGateway',
      'AWS::EC2::EIP',
      'AWS::EC2::InternetGateway',
      'AWS::EC2::FlowLog',
      'AWS::EC2::VPCEndpoint',
    ])
      template.resourceCountIs(type, 0);
  });

  it('runs every VPC function in the given private subnets, its security groups in the given VPC', () => {
    const inVpc = functions.filter((f) => f.Properties.VpcConfig);
    expect(inVpc.length).toBeGreaterThanOrEqual(3);
    for (const f of inVpc) expect(f.Properties.VpcConfig.SubnetIds).toEqual(VPC.privateSubnetIds);
    const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup'));
    expect(groups.length).toBe(2);
    for (const g of groups) expect(g.Properties.VpcId).toBe(VPC.vpcId);
  });

  it('outputs the given egress addresses and gives them to the functions for the baseline alert', () => {
    template.hasOutput(STACK_OUTPUTS.egressIps, { Value: '203.0.113.10,203.0.113.11' });
    const withEgress = functions.filter((f) => f.Properties.Environment?.Variables?.EGRESS_IPS !== undefined);
    expect(withEgress).toHaveLength(2); // the probe and the round trip publish alerts
    for (const f of withEgress) expect(f.Properties.Environment.Variables.EGRESS_IPS).toBe('203.0.113.10,203.0.113.11');
  });

  it('adds a DynamoDB gateway endpoint on the given route tables only when asked', () => {
    const routeTables = ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'];
    const asked = synth({ existingVpc: { ...VPC, addDynamoDbEndpoint: true, privateRouteTableIds: routeTables } }).template;
    asked.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
    asked.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcId: VPC.vpcId,
      VpcEndpointType: 'Gateway',
      RouteTableIds: routeTables,
      ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('dynamodb')])] }),
    });
  });
});

describe('existingVpc validation', () => {
  it.each([
    [{ ...VPC, vpcId: 'vpc-123' }, /setting "existingVpc.vpcId" must be an id like vpc-0123456789abcdef0/],
    [{ ...VPC, vpcId: 'vpc-0123456789ABCDEF0' }, /setting "existingVpc.vpcId" must be an id like/],
    [
      { ...VPC, privateSubnetIds: ['subnet-0123456789abcdef0', 'sub-1'] },
      /setting "existingVpc.privateSubnetIds\[1\]" must be an id like subnet-/,
    ],
    [
      { ...VPC, privateSubnetIds: ['subnet-0123456789abcdef0'] },
      /setting "existingVpc.privateSubnetIds" must list one subnet per zone of availabilityZones, in the same order: 1 subnet\(s\) for 2 zone\(s\)/,
    ],
    [{ ...VPC, availabilityZones: ['eu-west-1a', 'west'] }, /setting "existingVpc.availabilityZones\[1\]" must be zone names/],
    [{ ...VPC, egressIps: undefined }, /setting "existingVpc.egressIps" is missing: list the NAT gateways' public IPv4 addresses/],
    [{ ...VPC, egressIps: [] }, /setting "existingVpc.egressIps" must list the NAT gateways' public IPv4 addresses/],
    [{ ...VPC, egressIps: ['203.0.113'] }, /setting "existingVpc.egressIps\[0\]" must be an IPv4 address/],
    [{ ...VPC, addDynamoDbEndpoint: true }, /setting "existingVpc.privateRouteTableIds" is needed with addDynamoDbEndpoint/],
    [{ ...VPC, vpcCidr: '10.0.0.0/16' }, /setting "existingVpc" has unknown field "vpcCidr"/],
  ])('names what is wrong: %j', (existingVpc, message) => {
    expect(() => parseConfig({ existingVpc })).toThrow(SettingsError);
    expect(() => parseConfig({ existingVpc })).toThrow(message);
  });

  it('refuses the settings of the VPC it would create', () => {
    expect(() => parseConfig({ existingVpc: VPC, natPerAz: true })).toThrow(/setting "natPerAz" does not apply with existingVpc/);
  });

  it('stops the CDK app before anything is synthesized', async () => {
    await expectAppRefuses(
      { 'inboxguard:existingVpc': JSON.stringify({ ...VPC, privateSubnetIds: [VPC.privateSubnetIds[0]] }) },
      /existingVpc.privateSubnetIds" must list one subnet per zone/,
    );
  });
});
