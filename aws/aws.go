// Package aws collects AWS resources with the AWS SDK for Go v2. The engine
// here fans out over account × region × service with bounded concurrency and
// per-service rate limits; each service's collector (one file per service)
// only lists and describes.
package aws

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil"
)

// Options configure the AWS collector. The zero value scans every enabled
// region with every service at the default limits.
type Options struct {
	// Endpoint sends every API call to this URL (an emulator such as moto).
	Endpoint string
	// Regions restricts the scan; empty means the account's enabled regions.
	Regions []string
	// Services restricts the scan to these service names (see Services).
	Services []string
	// Concurrency bounds the account × region × service tasks run at once
	// per account (default 16).
	Concurrency int
	// Rates overrides the requests per second allowed per account, region
	// and service, keyed by service name (see defaultRates).
	Rates map[string]float64
	// MaxAttempts is the SDK's retry budget per call (default 5).
	MaxAttempts int
	// HTTPClient is shared by every SDK client (default: one pooled
	// client that honours AWS_CA_BUNDLE).
	HTTPClient *awshttp.BuildableClient
	// Logger receives debug and warning logs (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Collector collects AWS accounts. It is safe for concurrent use.
type Collector struct {
	opts     Options
	calls    atomic.Int64
	limiters sync.Map // "account/region/service" → *rate.Limiter
	mu       sync.Mutex
	bases    map[string]aws.Config
}

var _ vigil.Collector = (*Collector)(nil)

// New returns a collector. It validates the options: unknown service names
// and malformed region names are errors.
func New(opts Options) (*Collector, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = awshttp.NewBuildableClient().
			WithTransportOptions(func(tr *http.Transport) { tr.MaxIdleConnsPerHost = 64 }).
			WithTimeout(60 * time.Second)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for _, r := range opts.Regions {
		if !regionRe.MatchString(r) {
			return nil, vigil.Errorf(vigil.EINVALID, "invalid region %q (want a name such as us-east-1)", r)
		}
	}
	for _, s := range opts.Services {
		if _, ok := services[s]; !ok {
			return nil, vigil.Errorf(vigil.EINVALID, "unknown service %q (known: %s)", s, strings.Join(Services(), ", "))
		}
	}
	for s, r := range opts.Rates {
		if _, ok := services[s]; !ok {
			return nil, vigil.Errorf(vigil.EINVALID, "rate for unknown service %q", s)
		}
		if r <= 0 {
			return nil, vigil.Errorf(vigil.EINVALID, "rate for %s must be positive, got %v", s, r)
		}
	}
	return &Collector{opts: opts, bases: map[string]aws.Config{}}, nil
}

var regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

// APICalls returns how many HTTP requests (attempts, retries included) the
// collector has sent.
func (c *Collector) APICalls() int64 { return c.calls.Load() }

// Target names the credentials for one account: a shared-config profile
// (which may itself assume a role or use SSO) and optionally a role to
// assume from it.
type Target struct {
	Profile    string
	RoleARN    string
	ExternalID string
}

// Resolve asks STS who the target's credentials belong to and returns the
// account. It fails fast, with a clear message, on missing or bad
// credentials and on an unreachable endpoint.
func (c *Collector) Resolve(ctx context.Context, t Target) (vigil.Account, error) {
	acct := vigil.Account{Provider: vigil.AWS, Profile: t.Profile, RoleARN: t.RoleARN, ExternalID: t.ExternalID}
	cfg, err := c.base(ctx, acct)
	if err != nil {
		return acct, err
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return acct, &vigil.Error{Code: classify(err), Message: "aws credentials" + describeTarget(t), Err: errorf(err)}
	}
	acct.ID = aws.ToString(out.Account)
	acct.Name = acct.ID
	if t.Profile != "" {
		acct.Name = t.Profile
	}
	return acct, nil
}

func describeTarget(t Target) string {
	var parts []string
	if t.Profile != "" {
		parts = append(parts, "profile "+t.Profile)
	}
	if t.RoleARN != "" {
		parts = append(parts, "role "+t.RoleARN)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// base returns the account's SDK config for the home region, loading it once.
func (c *Collector) base(ctx context.Context, acct vigil.Account) (aws.Config, error) {
	key := acct.Profile + "|" + acct.RoleARN
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg, ok := c.bases[key]; ok {
		return cfg, nil
	}
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(c.opts.HTTPClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = c.opts.MaxAttempts })
		}),
	}
	if acct.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(acct.Profile))
	}
	if c.opts.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(c.opts.Endpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, vigil.Errorf(vigil.EINVALID, "load aws config%s: %v", describeTarget(Target{Profile: acct.Profile}), err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if acct.RoleARN != "" {
		stsClient := sts.NewFromConfig(cfg)
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, acct.RoleARN,
			func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "vigil-scan"
				if acct.ExternalID != "" {
					o.ExternalID = aws.String(acct.ExternalID)
				}
			}))
	}
	cfg.APIOptions = append(cfg.APIOptions, c.limitMiddleware(acct))
	c.bases[key] = cfg
	return cfg, nil
}

// regions returns the regions to scan: the configured ones, or those
// enabled for the account.
func (c *Collector) regions(ctx context.Context, cfg aws.Config) ([]string, error) {
	if len(c.opts.Regions) > 0 {
		return c.opts.Regions, nil
	}
	out, err := ec2.NewFromConfig(cfg).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, &vigil.Error{Code: classify(err), Message: "list enabled regions (pass --regions to skip)", Err: errorf(err)}
	}
	var rs []string
	for _, r := range out.Regions {
		rs = append(rs, aws.ToString(r.RegionName))
	}
	sort.Strings(rs)
	return rs, nil
}

// Collect scans one account: every selected service in every region (global
// services once), concurrently and bounded, then the synthetic aws.account
// and aws.region resources assembled from what the services found.
func (c *Collector) Collect(ctx context.Context, acct vigil.Account, sink vigil.Sink) error {
	cfg, err := c.base(ctx, acct)
	if err != nil {
		return err
	}
	regions, err := c.regions(ctx, cfg)
	if err != nil {
		return err
	}
	home := cfg.Region
	if len(c.opts.Regions) > 0 {
		home = c.opts.Regions[0]
	}
	syn := newSynthetic(acct.ID, partition(home), regions, c.opts.Now())
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for _, svc := range c.selected() {
		rs := regions
		if svc.global {
			rs = []string{home}
		}
		for _, region := range rs {
			t := &task{c: c, acct: acct, region: region, svc: svc, sink: sink, syn: syn}
			t.cfg = cfg.Copy()
			t.cfg.Region = region
			g.Go(func() error { return t.run(gctx) })
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, r := range syn.resources() {
		if err := sink.Resource(ctx, r); err != nil {
			return err
		}
	}
	// Account and region settings come from many services. Only a scan in
	// which every service ran may resolve their findings: after
	// --services iam, or when a service failed outright, a setting that is
	// absent was not looked at, and its open finding must stay open.
	if len(c.opts.Services) == 0 && syn.complete() {
		sink.Listed(vigil.Scope{Account: acct.ID, Type: TypeAccount})
		for _, region := range regions {
			sink.Listed(vigil.Scope{Account: acct.ID, Region: region, Type: TypeRegion})
		}
	}
	return nil
}

// selected returns the services to run, in name order.
func (c *Collector) selected() []*service {
	names := c.opts.Services
	if len(names) == 0 {
		names = Services()
	}
	out := make([]*service, 0, len(names))
	for _, n := range names {
		out = append(out, services[n])
	}
	return out
}

func errorf(err error) error { return fmt.Errorf("%s", message(err)) }
