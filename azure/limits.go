package azure

import (
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"golang.org/x/time/rate"
)

// defaultRate is the requests per second allowed per subscription and
// service, with a burst of as many. ARM throttles reads with a token bucket
// per subscription and region of the ARM front end: 250 requests of burst,
// refilled at 25/s (documented in "Understand how Azure Resource Manager
// throttles requests", 2024; the older model allowed 12,000 reads per hour
// per subscription and principal, about 3.3/s sustained per ARM instance).
// 20/s per service keeps one service under the refill rate; the storage and
// network services together may exceed it during long scans, which the
// burst absorbs and the 429 Retry-After retries cover.
const defaultRate = 20

// namespaceService maps an ARM provider namespace (lowercased) to the
// service name of its rate limit.
var namespaceService = map[string]string{
	"microsoft.storage": "storage",
	"microsoft.network": "network",
}

// limiter returns the token bucket for a subscription and service.
func (c *Collector) limiter(subscription, svc string) *rate.Limiter {
	key := strings.ToLower(subscription) + "/" + svc
	if l, ok := c.limiters.Load(key); ok {
		return l.(*rate.Limiter)
	}
	r := float64(defaultRate)
	if o, ok := c.opts.Rates[svc]; ok {
		r = o
	}
	l, _ := c.limiters.LoadOrStore(key, rate.NewLimiter(rate.Limit(r), max(1, int(r))))
	return l.(*rate.Limiter)
}

// limitPolicy runs once per HTTP attempt (it is a per-retry policy): it
// waits for a token of the request's subscription and service, then counts
// the attempt.
type limitPolicy struct{ c *Collector }

// Do implements policy.Policy.
func (p limitPolicy) Do(req *policy.Request) (*http.Response, error) {
	sub, svc := routeOf(req.Raw().URL.Path)
	if err := p.c.limiter(sub, svc).Wait(req.Raw().Context()); err != nil {
		return nil, err
	}
	p.c.calls.Add(1)
	return req.Next()
}

// routeOf returns the subscription id and the service of an ARM request
// path: /subscriptions/{id}/[resourceGroups/{rg}/]providers/{namespace}/….
// Paths outside any provider (subscriptions, tenants) belong to the
// subscriptions service.
func routeOf(path string) (subscription, svc string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	svc = serviceSubscriptions
	for i := 0; i+1 < len(parts); i++ {
		switch strings.ToLower(parts[i]) {
		case "subscriptions":
			if subscription == "" {
				subscription = parts[i+1]
			}
		case "providers":
			if s, ok := namespaceService[strings.ToLower(parts[i+1])]; ok {
				svc = s
			} else {
				svc = strings.ToLower(parts[i+1])
			}
			return subscription, svc
		}
	}
	return subscription, svc
}
