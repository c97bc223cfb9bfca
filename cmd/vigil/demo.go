package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	blobctr "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	blobsvc "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/vigilsec/vigil/azure/azuretest"
	"github.com/vigilsec/vigil/internal/azurite"
	"github.com/vigilsec/vigil/internal/demo"
	"github.com/vigilsec/vigil/internal/moto"
)

func (a *app) demoCmd() *cobra.Command {
	var keep bool
	var format string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Scan a seeded, misconfigured emulator account and Azure subscription (needs moto; `make demo` sets it up)",
		Long: `Demo starts moto (the AWS emulator) on a free local port, seeds an account with a
realistic mix of good and bad configuration through the AWS SDK, serves an
emulated Azure subscription in memory (Azure has no management-plane emulator:
the real Azure SDK clients talk to the SDK's own fake transports, seeded from
ARM-shaped payloads), and scans both, printing the findings. Nothing leaves this
machine. The database is a fresh file in a temporary directory unless --db is
given.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !cmd.Flags().Changed("db") && os.Getenv("VIGIL_DB") == "" {
				dir, err := os.MkdirTemp("", "vigil-demo-")
				if err != nil {
					return err
				}
				if !keep {
					defer func() { _ = os.RemoveAll(dir) }()
				}
				a.dbPath = filepath.Join(dir, "vigil.db")
			}
			fmt.Fprintln(a.stderr, "Starting moto (AWS emulator)…")
			srv, err := moto.Start()
			if err != nil {
				return err
			}
			defer srv.Stop()
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
				_ = os.Setenv(k, "demo")
			}
			_ = os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			fmt.Fprintln(a.stderr, "Seeding a misconfigured account in", strings.Join(demo.Regions, ", "), "…")
			cfg, err := demoConfig(ctx, srv.URL)
			if err != nil {
				return err
			}
			if err := demo.Seed(ctx, cfg, 1); err != nil {
				return err
			}
			// Azure has no emulator of its management plane: the demo
			// serves a seeded subscription in memory, to the real Azure SDK
			// clients, through the SDK's own fake transports.
			est := azuretest.New()
			if err := est.Load(bytes.NewReader(demo.AzureEstate)); err != nil {
				return fmt.Errorf("demo azure estate: %w", err)
			}
			a.azureTransport, a.azureCredential = est.Transport(), &azfake.TokenCredential{}
			fmt.Fprintln(a.stderr, "Azure: serving an emulated subscription in memory through the Azure SDK's fake transports (no Azure account is used)…")
			azf := azureFlags{providers: []string{"aws", "azure"}, cloud: "public"}
			if blob, err := demoBlobService(ctx); err != nil {
				fmt.Fprintf(a.stderr, "Azure: no Blob data plane (%v); the containers come from the emulated ARM estate.\n", err)
			} else {
				defer blob.Stop()
				_ = os.Setenv(blobKeyEnv, azurite.Key)
				azf.blobEndpoint, azf.blobKeyAcct, azf.blobAccounts = blob.BlobURL, azurite.Account, []string{demoBlobAccount}
				fmt.Fprintf(a.stderr, "Azure: storage account %s's Blob service is Azurite (the Azure Storage emulator) at %s, with a public container and a public-read one…\n",
					demoBlobAccount, blob.BlobURL)
			}
			fmt.Fprintf(a.stderr, "Scanning (AWS endpoint %s, database %s)…\n\n", srv.URL, a.dbPath)
			err = a.scan(ctx, scanFlags{azure: azf, endpoint: srv.URL, regions: demo.Regions,
				format: format, progress: "auto", concurrency: 16})
			if keep {
				fmt.Fprintf(a.stderr, "\nDatabase kept at %s; try: vigil --db %s inventory\n", a.dbPath, a.dbPath)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo database for vigil inventory and vigil history")
	cmd.Flags().StringVar(&format, "format", "table", "output format")
	return cmd
}

// demoBlobAccount is the demo storage account whose Blob service Azurite
// plays.
const demoBlobAccount = "contosolegacy"

// demoBlobService starts Azurite and gives it demoBlobAccount's containers
// as the emulated ARM estate has them: one public, one public-read.
func demoBlobService(ctx context.Context) (*azurite.Server, error) {
	s, err := azurite.Start()
	if err != nil {
		return nil, err
	}
	cred, err := blobsvc.NewSharedKeyCredential(azurite.Account, azurite.Key)
	if err == nil {
		var svc *blobsvc.Client
		if svc, err = blobsvc.NewClientWithSharedKeyCredential(s.BlobURL+"/", cred, nil); err == nil {
			for name, access := range map[string]blobctr.PublicAccessType{
				"public-assets": blobctr.PublicAccessTypeContainer, "logs": blobctr.PublicAccessTypeBlob} {
				if _, err = svc.CreateContainer(ctx, name, &blobctr.CreateOptions{Access: &access}); err != nil {
					break
				}
			}
		}
	}
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("seed azurite: %w", err)
	}
	return s, nil
}

func demoConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"), config.WithBaseEndpoint(endpoint),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("demo", "demo", "")))
}
