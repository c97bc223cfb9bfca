package aws

import (
	"context"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/vigilsec/vigil"
)

// defaultRates are requests per second per account, region and service,
// kept below AWS's published or observed throttling thresholds so that
// a scan does not starve the account's own workloads. IAM is global and
// throttles early; EC2's Describe* bucket refills at about 20/s.
var defaultRates = map[string]struct {
	perSecond float64
	burst     int
}{
	"iam": {10, 20},
	"ec2": {20, 100},
	"s3":  {100, 100},
}

// rateLimitID names the finalize middleware that waits for a token and
// counts the call, so that clients that must not wait (the event queue's
// long polls) can swap it for a counter by the same name.
const rateLimitID = "VigilRateLimit"

// limiter returns the token bucket for an account, region and service.
func (c *Collector) limiter(account, region, svc string) *rate.Limiter {
	key := account + "/" + region + "/" + svc
	if l, ok := c.limiters.Load(key); ok {
		return l.(*rate.Limiter)
	}
	r, burst := 20.0, 20
	if d, ok := defaultRates[svc]; ok {
		r, burst = d.perSecond, d.burst
	}
	if o, ok := c.opts.Rates[svc]; ok {
		r = o
		burst = max(1, int(o))
	}
	l, _ := c.limiters.LoadOrStore(key, rate.NewLimiter(rate.Limit(r), burst))
	return l.(*rate.Limiter)
}

// limitMiddleware waits for a token before every attempt (retries
// included) and counts the attempt.
func (c *Collector) limitMiddleware(acct vigil.Account) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc(rateLimitID,
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				svc := serviceName(awsmiddleware.GetServiceID(ctx))
				if err := c.limiter(acct.Profile+acct.RoleARN, awsmiddleware.GetRegion(ctx), svc).Wait(ctx); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				c.calls.Add(1)
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	}
}

// serviceName maps an SDK service id ("Config Service", "S3 Control") to
// Vigil's service name.
func serviceName(id string) string {
	switch id {
	case "S3 Control":
		return "s3"
	case "Config Service":
		return "config"
	}
	return strings.ToLower(strings.ReplaceAll(id, " ", ""))
}
