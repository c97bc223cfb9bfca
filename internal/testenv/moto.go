// Package testenv starts the real servers that Vigil's integration tests
// talk to: moto (the AWS emulator) in server mode for now.
package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/vigilsec/vigil/internal/moto"
)

// MotoAccount is the account id moto reports for every caller.
const MotoAccount = moto.Account

// Moto is a running moto server shared by a test package.
type Moto struct {
	*moto.Server
}

// Reset wipes all of moto's state, so that each test starts from a fresh account.
func (m *Moto) Reset(tb testing.TB) {
	tb.Helper()
	if err := m.Server.Reset(); err != nil {
		tb.Fatal(err)
	}
}

// Config returns an AWS SDK config for seeding moto in region, with static
// test credentials.
func (m *Moto) Config(tb testing.TB, region string) aws.Config {
	tb.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithBaseEndpoint(m.URL),
	)
	if err != nil {
		tb.Fatalf("aws config: %v", err)
	}
	return cfg
}

// MainWithMoto runs a test package's tests with one moto server for the
// package, started before and stopped after; it sets *into to the server.
// Use it from TestMain: os.Exit(testenv.MainWithMoto(m, &moto)).
func MainWithMoto(m *testing.M, into **Moto) int {
	srv, err := moto.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	*into = &Moto{Server: srv}
	os.Setenv("AWS_ACCESS_KEY_ID", "testing")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	defer srv.Stop()
	return m.Run()
}
