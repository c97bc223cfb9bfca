package aws

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

// Fixer runs fix actions against AWS. Scanning keeps its read-only
// credentials; fixes use the remediation target, configured separately (a
// profile, or a role to assume — "{account}" in the role ARN stands for the
// finding's account — with an external id). Before its first change in an
// account the Fixer asks STS whom the remediation credentials belong to and
// refuses to touch another account.
type Fixer struct {
	scan        *Collector
	remediation Target
	accounts    map[string]vigil.Account // scanning credentials by account id

	mu       sync.Mutex
	verified map[string]aws.Config // remediation config by account id
	// settings are the services that re-read account and region
	// settings, from the actions on them.
	settings map[string][]string

	// APIOptions are added to every remediation client's middleware stack
	// (tests use them to make a call fail half-way through a fix).
	APIOptions []func(*middleware.Stack) error

	// Refuse, when set, is returned instead of remediation credentials:
	// the actions exist (rules and checks name them) but none may run,
	// because no AWS remediation credentials are configured. Refresh,
	// which reads with the scanning credentials, still works.
	Refuse error
}

// NewFixer returns a Fixer. scan is the scanning collector (its options,
// limits and HTTP client are shared; its credentials re-read resources
// after a change); accounts are the scanned accounts, whose stored profile
// and role say how to read them.
func NewFixer(scan *Collector, remediation Target, accounts []vigil.Account) *Fixer {
	f := &Fixer{scan: scan, remediation: remediation, accounts: map[string]vigil.Account{},
		verified: map[string]aws.Config{}, settings: map[string][]string{}}
	for _, a := range accounts {
		if a.Provider == vigil.AWS {
			f.accounts[a.ID] = a
		}
	}
	return f
}

// config returns the SDK config of the remediation credentials for an
// account and region.
func (f *Fixer) config(ctx context.Context, account, region string) (aws.Config, error) {
	if f.Refuse != nil {
		return aws.Config{}, f.Refuse
	}
	f.mu.Lock()
	cfg, ok := f.verified[account]
	f.mu.Unlock()
	if !ok {
		t := f.remediation
		t.RoleARN = strings.ReplaceAll(t.RoleARN, "{account}", account)
		acct := vigil.Account{Provider: vigil.AWS, ID: account, Profile: t.Profile, RoleARN: t.RoleARN, ExternalID: t.ExternalID}
		base, err := f.scan.base(ctx, acct)
		if err != nil {
			return aws.Config{}, fmt.Errorf("remediation credentials: %w", err)
		}
		out, err := sts.NewFromConfig(base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return aws.Config{}, &vigil.Error{Code: classify(err), Message: "remediation credentials" + describeTarget(t), Err: errorf(err)}
		}
		if got := aws.ToString(out.Account); got != account {
			return aws.Config{}, vigil.Errorf(vigil.EINVALID, "the remediation credentials%s belong to account %s, not %s: refusing to change it", describeTarget(t), got, account)
		}
		cfg = base
		f.mu.Lock()
		f.verified[account] = cfg
		f.mu.Unlock()
	}
	cfg = cfg.Copy()
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), f.APIOptions...)
	if region != "" && region != "global" {
		cfg.Region = region
	}
	return cfg, nil
}

// Refresh implements fix.Refresher: it reads the resource again with the
// scanning credentials through Collector.Get, doing only the calls that
// resource needs, and returns it; ENOTFOUND when it is gone. Account and
// region settings are re-read by the services the actions on them name
// (see fixAction.services), or by every service that sets them when no
// action names any, and laid over r.
func (f *Fixer) Refresh(ctx context.Context, r vigil.Resource) (vigil.Resource, error) {
	var only map[string][]string
	if r.Type == TypeAccount || r.Type == TypeRegion {
		f.mu.Lock()
		if svcs := f.settings[r.Type]; len(svcs) > 0 {
			only = map[string][]string{r.Type: append([]string(nil), svcs...)}
		}
		f.mu.Unlock()
	}
	acct, ok := f.accounts[r.Account]
	if !ok {
		acct = vigil.Account{Provider: vigil.AWS, ID: r.Account}
	}
	gots, err := f.scan.get(ctx, acct, []Touched{{Type: r.Type, UID: r.UID, Region: r.Region}}, only)
	if err != nil {
		return vigil.Resource{}, fmt.Errorf("refresh %s: %w", r.UID, err)
	}
	g := gots[0]
	switch {
	case g.Err != nil:
		return vigil.Resource{}, fmt.Errorf("refresh %s: %w", r.UID, g.Err)
	case !g.Found:
		return vigil.Resource{}, vigil.Errorf(vigil.ENOTFOUND, "refresh %s: the resource is gone", r.UID)
	}
	return g.Apply(r), nil
}

// fixAction is the shared part of every AWS action: its id, type, title,
// permissions, and the services that re-read what it changes.
type fixAction struct {
	f        *Fixer
	id, typ  string
	title    string
	perms    []string
	services []string
}

func (a *fixAction) ID() string            { return a.id }
func (a *fixAction) ResourceType() string  { return a.typ }
func (a *fixAction) Title() string         { return a.title }
func (a *fixAction) Permissions() []string { return a.perms }

// refreshWith names the services that re-read an account or region
// setting the action changes.
func (a *fixAction) refreshWith() (string, []string) { return a.typ, a.services }

// Actions returns every AWS fix action.
func (f *Fixer) Actions() []fix.Action {
	var out []fix.Action
	for _, mk := range fixActions {
		a := mk(f)
		if s, ok := a.(interface{ refreshWith() (string, []string) }); ok {
			typ, svcs := s.refreshWith()
			f.mu.Lock()
			for _, svc := range svcs {
				if !contains(f.settings[typ], svc) {
					f.settings[typ] = append(f.settings[typ], svc)
				}
			}
			f.mu.Unlock()
		}
		out = append(out, a)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// fixActions are the constructors of the AWS actions, one per action,
// added by each fix_*.go file's init.
var fixActions []func(*Fixer) fix.Action

// fixCall is a planned call: the IAM action and the input.
type fixCall struct {
	op    string
	input map[string]any
}

type fixCalls []fixCall

func (cs fixCalls) calls() []vigil.FixCall {
	out := make([]vigil.FixCall, len(cs))
	for i, c := range cs {
		out[i] = vigil.FixCall{Operation: c.op, Input: c.input}
	}
	return out
}

// errorOf is errorf for errors that may be nil: the SDK's message, short.
func errorOf(err error) error {
	if err == nil {
		return nil
	}
	return errorf(err)
}
