// Package demo seeds an emulated AWS account (moto) with a realistic mix of
// well and badly configured resources, so that a newcomer without a cloud
// account can watch Vigil find real problems. The benchmarks scan it too.
package demo

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Regions are the regions the demo account uses.
var Regions = []string{"us-east-1", "eu-west-1"}

// Seed creates the demo estate through the real AWS SDK. cfg must point at
// the emulator; scale > 1 multiplies the bulk resources (buckets, users,
// security groups, queues) for benchmarks.
func Seed(ctx context.Context, cfg aws.Config, scale int) error {
	if scale < 1 {
		scale = 1
	}
	steps := []struct {
		name string
		fn   func(context.Context, aws.Config, int) error
	}{
		{"s3", seedS3}, {"iam", seedIAM}, {"ec2", seedEC2}, {"rds", seedRDS}, {"kms", seedKMS},
		{"cloudtrail", seedCloudTrail}, {"sns/sqs", seedMessaging}, {"lambda", seedLambda},
		{"secretsmanager", seedSecrets},
	}
	for _, s := range steps {
		if err := s.fn(ctx, cfg, scale); err != nil {
			return fmt.Errorf("seed %s: %w", s.name, err)
		}
	}
	return nil
}

func inRegion(cfg aws.Config, region string) aws.Config {
	c := cfg.Copy()
	c.Region = region
	return c
}

func seedS3(ctx context.Context, cfg aws.Config, scale int) error {
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	create := func(name string) error {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name})
		return err
	}
	// A public website bucket someone opened with an ACL.
	if err := create("acme-public-assets"); err != nil {
		return err
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("acme-public-assets"), ACL: s3types.BucketCannedACLPublicRead}); err != nil {
		return err
	}
	// A data bucket made public by policy.
	if err := create("acme-customer-exports"); err != nil {
		return err
	}
	pol := `{"Version":"2012-10-17","Statement":[{"Sid":"Share","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-customer-exports/*"}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("acme-customer-exports"), Policy: &pol}); err != nil {
		return err
	}
	// A well-configured bucket: private, versioned, logged, TLS-only, KMS-encrypted.
	if err := create("acme-audit-logs"); err != nil {
		return err
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("acme-audit-logs"), ACL: s3types.BucketCannedACL("log-delivery-write")}); err != nil {
		return err
	}
	if err := create("acme-secure-data"); err != nil {
		return err
	}
	sec := "acme-secure-data"
	if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &sec, PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}}); err != nil {
		return err
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &sec, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		return err
	}
	if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &sec, ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{
		Rules: []s3types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAwsKms}}}}}); err != nil {
		return err
	}
	if _, err := c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: &sec, BucketLoggingStatus: &s3types.BucketLoggingStatus{
		LoggingEnabled: &s3types.LoggingEnabled{TargetBucket: aws.String("acme-audit-logs"), TargetPrefix: aws.String("s3/")}}}); err != nil {
		return err
	}
	tls := `{"Version":"2012-10-17","Statement":[{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::acme-secure-data","arn:aws:s3:::acme-secure-data/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &sec, Policy: &tls}); err != nil {
		return err
	}
	// Two buckets that pattern-matching scanners get wrong. The first looks
	// restricted but "vpce-*" is any VPC endpoint, anyone's: public. The
	// second looks open but a Deny keeps everything outside one endpoint
	// out: not public.
	if err := create("acme-partner-drop"); err != nil {
		return err
	}
	wild := `{"Version":"2012-10-17","Statement":[{"Sid":"PartnersViaEndpoint","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-partner-drop/*","Condition":{"StringLike":{"aws:SourceVpce":"vpce-*"}}}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("acme-partner-drop"), Policy: &wild}); err != nil {
		return err
	}
	if err := create("acme-internal-reports"); err != nil {
		return err
	}
	fenced := `{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-internal-reports/*"},` +
		`{"Sid":"OnlyFromOurEndpoint","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::acme-internal-reports","arn:aws:s3:::acme-internal-reports/*"],"Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-0a1b2c3d4e5f60718"}}}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("acme-internal-reports"), Policy: &fenced}); err != nil {
		return err
	}
	for i := range 3 * scale {
		if err := create(fmt.Sprintf("acme-app-%03d", i)); err != nil {
			return err
		}
	}
	return nil
}

func seedIAM(ctx context.Context, cfg aws.Config, scale int) error {
	c := iam.NewFromConfig(cfg)
	if _, err := c.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(8)}); err != nil {
		return err
	}
	admin := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	p, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("LegacyFullAccess"), PolicyDocument: &admin})
	if err != nil {
		return err
	}
	// A console user without MFA, with an admin policy attached directly and two keys.
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		return err
	}
	if _, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Correct-Horse-9")}); err != nil {
		return err
	}
	if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: p.Policy.Arn}); err != nil {
		return err
	}
	for range 2 {
		if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
			return err
		}
	}
	// Users who get permissions through a group.
	if _, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("developers")}); err != nil {
		return err
	}
	if _, err := c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("developers"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}); err != nil {
		return err
	}
	for i := range 2 * scale {
		name := fmt.Sprintf("dev-%02d", i)
		if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: &name}); err != nil {
			return err
		}
		if _, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("developers"), UserName: &name}); err != nil {
			return err
		}
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app-lambda"), AssumeRolePolicyDocument: &trust}); err != nil {
		return err
	}
	cross := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`
	if _, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("vendor-access"), AssumeRolePolicyDocument: &cross}); err != nil {
		return err
	}
	// A CI role that trusts GitHub's OIDC provider with the default
	// audience only: every workflow of every repository on GitHub may
	// assume it.
	gh, err := c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://token.actions.githubusercontent.com"),
		ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{"6938fd4d98bab03faadb97b34396831e3780aea1"}})
	if err != nil {
		return err
	}
	ci := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity",`+
		`"Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}`, aws.ToString(gh.OpenIDConnectProviderArn))
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ci-deploy"), AssumeRolePolicyDocument: &ci}); err != nil {
		return err
	}
	// A build user that may pass any role to an instance it launches: a
	// privilege-escalation path to whatever the most powerful role can do.
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("build-bot")}); err != nil {
		return err
	}
	build := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:RunInstances","ec2:Describe*","iam:PassRole"],"Resource":"*"}]}`
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("build-bot"), PolicyName: aws.String("build"), PolicyDocument: &build})
	return err
}

func seedEC2(ctx context.Context, cfg aws.Config, scale int) error {
	for _, region := range Regions {
		c := ec2.NewFromConfig(inRegion(cfg, region))
		vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		if err != nil || len(vpcs.Vpcs) == 0 {
			return fmt.Errorf("default vpc in %s: %w (or none found)", region, err)
		}
		vpc := vpcs.Vpcs[0].VpcId
		if region == "us-east-1" {
			if _, err := c.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{}); err != nil {
				return err
			}
		}
		for i := range scale {
			sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("bastion-%d", i)),
				Description: aws.String("SSH for admins"), VpcId: vpc})
			if err != nil {
				return err
			}
			if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId,
				IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
					IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
				return err
			}
			web, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("web-%d", i)),
				Description: aws.String("HTTPS from anywhere"), VpcId: vpc})
			if err != nil {
				return err
			}
			if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: web.GroupId,
				IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
					IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
				return err
			}
		}
		if region != "us-east-1" {
			continue
		}
		run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			MetadataOptions: &ec2types.InstanceMetadataOptionsRequest{HttpTokens: ec2types.HttpTokensStateOptional},
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("legacy-app")}}}}})
		if err != nil {
			return err
		}
		_ = run
		if _, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			MetadataOptions: &ec2types.InstanceMetadataOptionsRequest{HttpTokens: ec2types.HttpTokensStateRequired},
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("api-server")}}}}}); err != nil {
			return err
		}
		vol, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(20), Encrypted: aws.Bool(false)})
		if err != nil {
			return err
		}
		snap, err := c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId, Description: aws.String("db backup")})
		if err != nil {
			return err
		}
		if _, err := c.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: snap.SnapshotId,
			Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission, OperationType: ec2types.OperationTypeAdd,
			GroupNames: []string{"all"}}); err != nil {
			return err
		}
	}
	return nil
}

func seedRDS(ctx context.Context, cfg aws.Config, _ int) error {
	c := rds.NewFromConfig(inRegion(cfg, "us-east-1"))
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("orders-db"),
		DBInstanceClass: aws.String("db.t3.micro"), Engine: aws.String("postgres"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("not-a-real-password"),
		PubliclyAccessible: aws.Bool(true), StorageEncrypted: aws.Bool(false), BackupRetentionPeriod: aws.Int32(0)}); err != nil {
		return err
	}
	_, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("billing-db"),
		DBInstanceClass: aws.String("db.t3.micro"), Engine: aws.String("postgres"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("not-a-real-password"),
		PubliclyAccessible: aws.Bool(false), StorageEncrypted: aws.Bool(true), BackupRetentionPeriod: aws.Int32(7),
		MultiAZ: aws.Bool(true), DeletionProtection: aws.Bool(true), AutoMinorVersionUpgrade: aws.Bool(true)})
	return err
}

func seedKMS(ctx context.Context, cfg aws.Config, _ int) error {
	c := kms.NewFromConfig(inRegion(cfg, "us-east-1"))
	if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("orders data key")}); err != nil {
		return err
	}
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("billing data key")})
	if err != nil {
		return err
	}
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyMetadata.KeyId})
	return err
}

func seedCloudTrail(ctx context.Context, cfg aws.Config, _ int) error {
	c := cloudtrail.NewFromConfig(inRegion(cfg, "us-east-1"))
	if _, err := c.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("management-events"),
		S3BucketName: aws.String("acme-audit-logs")}); err != nil {
		return err
	}
	_, err := c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("management-events")})
	return err
}

func seedMessaging(ctx context.Context, cfg aws.Config, scale int) error {
	sn := sns.NewFromConfig(inRegion(cfg, "us-east-1"))
	t, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("order-events")})
	if err != nil {
		return err
	}
	pub := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"SNS:Publish","Resource":"%s"}]}`, aws.ToString(t.TopicArn))
	if _, err := sn.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: t.TopicArn, AttributeName: aws.String("Policy"), AttributeValue: &pub}); err != nil {
		return err
	}
	if _, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("alerts"),
		Attributes: map[string]string{"KmsMasterKeyId": "alias/aws/sns"}}); err != nil {
		return err
	}
	q := sqs.NewFromConfig(inRegion(cfg, "us-east-1"))
	for i := range scale {
		if _, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("jobs-%d", i))}); err != nil {
			return err
		}
	}
	if _, err = q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("payments"),
		Attributes: map[string]string{"KmsMasterKeyId": "alias/aws/sqs"}}); err != nil {
		return err
	}
	// A queue that lets SNS deliver to it without naming the topic: any
	// topic in any account can fill it (a confused deputy).
	intake, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("order-intake")})
	if err != nil {
		return err
	}
	deputy := `{"Version":"2012-10-17","Statement":[{"Sid":"FromSNS","Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:order-intake"}]}`
	_, err = q.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: intake.QueueUrl, Attributes: map[string]string{"Policy": deputy}})
	return err
}

func seedLambda(ctx context.Context, cfg aws.Config, _ int) error {
	role, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app-lambda")})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, _ := zw.Create("index.py")
	_, _ = f.Write([]byte("def handler(event, context):\n    return 'ok'\n"))
	if err := zw.Close(); err != nil {
		return err
	}
	c := lambda.NewFromConfig(inRegion(cfg, "us-east-1"))
	for _, fn := range []struct{ name, runtime string }{{"resize-images", "python3.7"}, {"send-receipts", "python3.12"}} {
		if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(fn.name),
			Runtime: lambdatypes.Runtime(fn.runtime), Role: role.Role.Arn, Handler: aws.String("index.handler"),
			Code:        &lambdatypes.FunctionCode{ZipFile: buf.Bytes()},
			Environment: &lambdatypes.Environment{Variables: map[string]string{"STAGE": "prod"}}}); err != nil {
			return err
		}
	}
	if _, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("resize-images"),
		StatementId: aws.String("public"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")}); err != nil {
		return err
	}
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("resize-images"),
		AuthType: lambdatypes.FunctionUrlAuthTypeNone})
	if err != nil && strings.Contains(err.Error(), "not yet implemented") {
		return nil
	}
	return err
}

func seedSecrets(ctx context.Context, cfg aws.Config, _ int) error {
	c := secretsmanager.NewFromConfig(inRegion(cfg, "us-east-1"))
	_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/orders-db"),
		SecretString: aws.String(`{"password":"demo-only"}`)})
	return err
}
