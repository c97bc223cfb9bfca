package aws

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) { os.Exit(testenv.MainWithMoto(m, &moto)) }

// collected is everything one collection sent to its sink.
type collected struct {
	mu         sync.Mutex
	resources  map[string]vigil.Resource
	readErrors []vigil.ReadError
	listed     []vigil.Scope
}

func (c *collected) Resource(_ context.Context, r vigil.Resource) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.resources[r.UID]; dup {
		panic("resource emitted twice: " + r.UID)
	}
	c.resources[r.UID] = r
	return nil
}
func (c *collected) ReadError(e vigil.ReadError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readErrors = append(c.readErrors, e)
}
func (c *collected) Listed(s vigil.Scope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listed = append(c.listed, s)
}
func (c *collected) Progress(vigil.Progress) {}

// ofType returns the collected resources of one type by name.
func (c *collected) ofType(typ string) map[string]vigil.Resource {
	out := map[string]vigil.Resource{}
	for _, r := range c.resources {
		if r.Type == typ {
			out[r.Name] = r
		}
	}
	return out
}

// account returns the synthetic aws.account resource.
func (c *collected) account(t *testing.T) vigil.Resource {
	t.Helper()
	r, ok := c.resources["arn:aws:vigil::"+testenv.MotoAccount+":account"]
	if !ok {
		t.Fatal("no aws.account resource")
	}
	return r
}

// region returns the synthetic aws.region resource of region.
func (c *collected) region(t *testing.T, region string) vigil.Resource {
	t.Helper()
	r, ok := c.resources["arn:aws:vigil:"+region+":"+testenv.MotoAccount+":region"]
	if !ok {
		t.Fatalf("no aws.region resource for %s", region)
	}
	return r
}

// collect runs the collector against moto for the given services in
// us-east-1 (or the regions given) and returns what it sent.
func collect(t *testing.T, services []string, regions ...string) *collected {
	t.Helper()
	if len(regions) == 0 {
		regions = []string{"us-east-1"}
	}
	return collectOptions(t, Options{Regions: regions, Services: services})
}

// collectOptions runs a collector with opts against moto (endpoint and
// clock set here) and returns what it sent.
func collectOptions(t *testing.T, opts Options) *collected {
	t.Helper()
	opts.Endpoint = moto.URL
	opts.Now = func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acct, err := c.Resolve(ctx, Target{})
	if err != nil {
		t.Fatal(err)
	}
	out := &collected{resources: map[string]vigil.Resource{}}
	if err := c.Collect(ctx, acct, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// collectWith is collect with extra SDK API options on every client, to
// answer or fail chosen calls the way AWS does and moto cannot (truncated
// pages, error codes).
func collectWith(t *testing.T, services []string, apiOptions ...func(*middleware.Stack) error) *collected {
	t.Helper()
	c, err := New(Options{Endpoint: moto.URL, Regions: []string{"us-east-1"}, Services: services,
		Now: func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acct, err := c.Resolve(ctx, Target{})
	if err != nil {
		t.Fatal(err)
	}
	base, err := c.base(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	base.APIOptions = append(append([]func(*middleware.Stack) error{}, base.APIOptions...), apiOptions...)
	c.mu.Lock()
	c.bases[acct.Profile+"|"+acct.RoleARN] = base
	c.mu.Unlock()
	out := &collected{resources: map[string]vigil.Resource{}}
	if err := c.Collect(ctx, acct, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// answer short-circuits one operation with the result of fn, which gets the
// operation's input; other operations, and calls for which fn returns nil,
// go to the server.
func answer(operation string, fn func(input any) any) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("Answer"+operation,
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetOperationName(ctx) == operation {
					if out := fn(in.Parameters); out != nil {
						if err, ok := out.(error); ok {
							return middleware.InitializeOutput{}, middleware.Metadata{}, err
						}
						return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, nil
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After) // after the operation's metadata, which names it
	}
}
