import { Annotations, Fn, RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** An Elastic IP the account already owns, to keep the egress address across stack replacements. */
export interface ExistingElasticIp {
  /** `eipalloc-…` */
  readonly allocationId: string;
  /** The address itself, for the Output and the alerts (CloudFormation cannot read it from the allocation). */
  readonly publicIp: string;
}

/** One egress rule: a port open to any IPv4 destination. */
export interface EgressPort {
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  readonly description: string;
}

/** The mail ports HubSpot uses (and 25/143 so a probe can report on them), by the requirement they serve. */
export const MAIL_PORTS: readonly EgressPort[] = [
  { port: 25, protocol: 'tcp', description: 'SMTP (AWS restricts outbound 25 by default)' },
  { port: 143, protocol: 'tcp', description: 'IMAP STARTTLS' },
  { port: 465, protocol: 'tcp', description: 'SMTP submission, implicit TLS' },
  { port: 587, protocol: 'tcp', description: 'SMTP submission, STARTTLS' },
  { port: 993, protocol: 'tcp', description: 'IMAP, implicit TLS' },
];

/** DNS and HTTPS (AWS APIs): what every function needs. */
export const BASE_PORTS: readonly EgressPort[] = [
  { port: 53, protocol: 'udp', description: 'DNS' },
  { port: 53, protocol: 'tcp', description: 'DNS over TCP' },
  { port: 443, protocol: 'tcp', description: 'HTTPS to AWS APIs' },
];

/** A VPC the team already runs (issue 14): imported from these facts, nothing looked up at synth. */
export interface ExistingVpc {
  /** `vpc-…` */
  readonly vpcId: string;
  /** The private subnets the functions run in, one per zone of `availabilityZones`, in the same order. */
  readonly privateSubnetIds: readonly string[];
  readonly availabilityZones: readonly string[];
  /** The public addresses of the VPC's NAT gateways, as the team knows them: the egress mail admins allow-list. */
  readonly egressIps: readonly string[];
  /**
   * Add a DynamoDB gateway endpoint (free) to the private subnets' route tables. Off by default: the VPC may have one.
   * @default false
   */
  readonly addDynamoDbEndpoint?: boolean;
  /** The private subnets' route tables, in the order of `privateSubnetIds`: needed for `addDynamoDbEndpoint`. */
  readonly privateRouteTableIds?: readonly string[];
}

export interface NetworkProps {
  /**
   * Run in this existing VPC instead of creating one: no VPC, NAT gateway, Elastic IP or flow log is created,
   * and `cidr`, `natPerAz` and `elasticIps` do not apply.
   * @default - a VPC of the stack's own
   */
  readonly existingVpc?: ExistingVpc;
  /**
   * IPv4 range of the VPC; two public and two private /24 subnets are cut from it.
   * @default '10.42.0.0/16'
   */
  readonly cidr?: string;
  /**
   * One NAT gateway (and so one egress address) per AZ instead of one in total.
   * More resilient to an AZ outage, but twice the fixed cost and two addresses to allow-list.
   * @default false
   */
  readonly natPerAz?: boolean;
  /**
   * Existing Elastic IPs for the NAT gateways, one per gateway (1, or 2 with `natPerAz`).
   * @default - the stack allocates the addresses and retains them when it is deleted
   */
  readonly elasticIps?: readonly ExistingElasticIp[];
  /**
   * Retention of the VPC flow log (rejected traffic only).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: logs.RetentionDays;
}

/**
 * A VPC across two AZs: functions in private subnets, egress through NAT gateways with fixed Elastic IPs
 * (the addresses mail admins allow-list), a free gateway endpoint for DynamoDB, and a flow log of
 * rejected traffic.
 */
export class Network extends Construct {
  readonly vpc: ec2.IVpc;
  /** The egress addresses, in NAT order (tokens when the stack allocates them). */
  readonly egressIps: readonly string[];
  /** The egress addresses joined with "," (a token): for Outputs and environment variables. */
  readonly egressIpList: string;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    if (props.existingVpc) {
      const e = props.existingVpc;
      this.vpc = existingVpc(this, e);
      this.egressIps = [...e.egressIps];
      this.egressIpList = this.egressIps.join(',');
      return;
    }
    const natGateways = props.natPerAz ? 2 : 1;
    const existing = props.elasticIps ?? [];
    if (existing.length > 0 && existing.length !== natGateways) {
      throw new Error(`Network: elasticIps must list ${natGateways} address(es), one per NAT gateway; got ${existing.length}`);
    }

    const eips: ExistingElasticIp[] = existing.length
      ? [...existing]
      : Array.from({ length: natGateways }, (_, i) => {
          const eip = new ec2.CfnEIP(this, `NatEip${i + 1}`, { domain: 'vpc' });
          // The address is what mail admins allow-list: it outlives the stack.
          eip.applyRemovalPolicy(RemovalPolicy.RETAIN);
          Tags.of(eip).add('Name', `inboxguard-egress-${i + 1}`);
          return { allocationId: eip.attrAllocationId, publicIp: eip.ref };
        });
    this.egressIps = eips.map((e) => e.publicIp);
    this.egressIpList = Fn.join(',', [...this.egressIps]);

    const flowLogGroup = new logs.LogGroup(this, 'FlowLog', { retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr ?? '10.42.0.0/16'),
      maxAzs: 2,
      natGateways,
      natGatewayProvider: ec2.NatProvider.gateway({ eipAllocationIds: eips.map((e) => e.allocationId) }),
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
      // Nothing runs in the default security group; restricting it would take a custom-resource Lambda.
      restrictDefaultSecurityGroup: false,
      gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
      flowLogs: {
        rejected: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: ec2.FlowLogTrafficType.REJECT },
      },
    });
  }

  /** A security group with no ingress and egress only to the given ports (any IPv4 destination). */
  egressOnlyGroup(id: string, description: string, ports: readonly EgressPort[]): ec2.SecurityGroup {
    const sg = new ec2.SecurityGroup(this, id, { vpc: this.vpc, description, allowAllOutbound: false });
    for (const p of ports) {
      sg.addEgressRule(ec2.Peer.anyIpv4(), p.protocol === 'tcp' ? ec2.Port.tcp(p.port) : ec2.Port.udp(p.port), p.description);
    }
    return sg;
  }
}

/** The team's VPC, from its attributes (no lookup), with a DynamoDB gateway endpoint only when asked for. */
function existingVpc(scope: Construct, e: ExistingVpc): ec2.IVpc {
  if (e.privateSubnetIds.length !== e.availabilityZones.length)
    throw new Error(
      `Network: existingVpc.privateSubnetIds must list one subnet per zone: ${e.privateSubnetIds.length} for ${e.availabilityZones.length}`,
    );
  if (e.egressIps.length === 0) throw new Error("Network: existingVpc.egressIps must list the NAT gateways' public addresses");
  const vpc = ec2.Vpc.fromVpcAttributes(scope, 'Vpc', {
    vpcId: e.vpcId,
    availabilityZones: [...e.availabilityZones],
    privateSubnetIds: [...e.privateSubnetIds],
    ...(e.privateRouteTableIds ? { privateSubnetRouteTableIds: [...e.privateRouteTableIds] } : {}),
  });
  if (!e.privateRouteTableIds)
    Annotations.of(scope).acknowledgeWarning(
      '@aws-cdk/aws-ec2:noSubnetRouteTableId',
      'Nothing in the stack routes through the imported subnets: route tables are needed only for addDynamoDbEndpoint',
    );
  if (e.addDynamoDbEndpoint) {
    if (!e.privateRouteTableIds) throw new Error('Network: existingVpc.addDynamoDbEndpoint needs privateRouteTableIds');
    vpc.addGatewayEndpoint('DynamoDb', {
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
    });
  }
  return vpc;
}
