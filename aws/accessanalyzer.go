package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/accessanalyzer"
)

func init() {
	// Access Analyzer produces no resources of its own: its analyzers are
	// a region-wide setting on aws.region (CIS AWS 1.20).
	register(&service{name: "accessanalyzer", collect: collectAccessAnalyzer, get: collectAccessAnalyzer})
}

// collectAccessAnalyzer sets access_analyzers on the region's aws.region
// resource: every analyzer of the region with its type and status.
func collectAccessAnalyzer(ctx context.Context, t *task) error {
	client := accessanalyzer.NewFromConfig(t.cfg)
	analyzers := []any{}
	p := accessanalyzer.NewListAnalyzersPaginator(client, &accessanalyzer.ListAnalyzersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t.regionErr("access_analyzers", err)
			return nil
		}
		for _, a := range page.Analyzers {
			analyzers = append(analyzers, map[string]any{
				"name":   aws.ToString(a.Name),
				"arn":    aws.ToString(a.Arn),
				"type":   string(a.Type),
				"status": string(a.Status),
			})
		}
	}
	t.setRegion("access_analyzers", analyzers)
	return nil
}
