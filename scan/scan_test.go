package scan_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/vigilsec/vigil"
	awscol "github.com/vigilsec/vigil/aws"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
	"github.com/vigilsec/vigil/scan"
	"github.com/vigilsec/vigil/sqlite"
)

var moto *testenv.Moto

func TestMain(m *testing.M) { os.Exit(testenv.MainWithMoto(m, &moto)) }

const (
	regionUID     = "arn:aws:vigil:us-east-1:123456789012:region"
	ebsDefault    = "aws-ec2-ebs-default-encryption-enabled"
	snapshotCheck = "aws-ec2-snapshot-not-public"
)

// denyProxy forwards to moto but answers the EC2 query actions in deny
// with AccessDenied (UnauthorizedOperation), as AWS does for a missing
// permission.
func denyProxy(t *testing.T, deny ...string) *httptest.Server {
	t.Helper()
	target, _ := url.Parse(moto.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	denied := map[string]bool{}
	for _, d := range deny {
		denied[d] = true
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if denied[form.Get("Action")] {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>vigil-test</RequestID></Response>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type fixture struct {
	store  *sqlite.Store
	checks *policy.Set
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	set, err := policy.Load(builtin.Source())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: st, checks: set}
}

// scan runs a full scan of the ec2 service in us-east-1 through endpoint.
func (f *fixture) scan(t *testing.T, endpoint string) vigil.Scan {
	t.Helper()
	return f.scanServices(t, endpoint, "ec2")
}

// scanServices scans us-east-1 through endpoint: the services given, or all.
func (f *fixture) scanServices(t *testing.T, endpoint string, services ...string) vigil.Scan {
	t.Helper()
	ctx := context.Background()
	col, err := awscol.New(awscol.Options{Endpoint: endpoint, Regions: []string{"us-east-1"}, Services: services, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := col.Resolve(ctx, awscol.Target{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scan.New(scan.Options{Store: f.store, Collectors: map[vigil.Provider]vigil.Collector{vigil.AWS: col}, Checks: f.checks}).
		Run(ctx, []vigil.Account{acct})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// result returns the stored result of a check on a resource.
func (f *fixture) result(t *testing.T, checkID, uid string) vigil.Result {
	t.Helper()
	rs, err := f.store.Results(context.Background(), vigil.ResultFilter{CheckID: checkID, UID: uid})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results for %s on %s, want 1", len(rs), checkID, uid)
	}
	return rs[0]
}

// TestNeverPassOnFailedRead proves the rule that data Vigil could not read
// never passes: a denied property read and a denied listing both yield
// error, and both are resolved once the reads work again.
func TestNeverPassOnFailedRead(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	client := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	// Encryption by default is ON: a scanner that treats a failed read as
	// "nothing wrong" would report a pass here.
	if _, err := client.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{}); err != nil {
		t.Fatal(err)
	}
	vol, err := client.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(8)})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := client.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: snap.SnapshotId,
		Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission, OperationType: ec2types.OperationTypeAdd,
		GroupNames: []string{"all"}}); err != nil {
		t.Fatal(err)
	}
	snapUID := "arn:aws:ec2:us-east-1::snapshot/" + aws.ToString(snap.SnapshotId)
	f := newFixture(t)

	// Scan 1: the region setting and the snapshot listing are denied.
	proxy := denyProxy(t, "GetEbsEncryptionByDefault", "DescribeSnapshots")
	sc := f.scan(t, proxy.URL)
	if sc.Status != "partial" {
		t.Errorf("scan status %q, want partial", sc.Status)
	}
	got := f.result(t, ebsDefault, regionUID)
	if got.Status != vigil.StatusError {
		t.Fatalf("%s = %s (%s), want error", ebsDefault, got.Status, got.Reason)
	}
	if want := "could not read ebs_encryption_by_default: ec2:GetEbsEncryptionByDefault: forbidden: UnauthorizedOperation: You are not authorized to perform this operation."; got.Reason != want {
		t.Errorf("reason %q\nwant   %q", got.Reason, want)
	}
	list := f.result(t, snapshotCheck, regionUID)
	if list.Status != vigil.StatusError || list.ResourceType != "aws.ec2.snapshot" {
		t.Errorf("listing failure: %+v, want error for aws.ec2.snapshot", list)
	}
	if rs, _ := f.store.Results(ctx, vigil.ResultFilter{UID: snapUID}); len(rs) != 0 {
		t.Errorf("results for an unlisted snapshot: %+v", rs)
	}
	var sawList, sawProp bool
	for _, e := range sc.ReadErrors {
		sawList = sawList || (e.Type == "aws.ec2.snapshot" && e.Property == "" && e.Code == vigil.EFORBIDDEN)
		sawProp = sawProp || (e.Property == "ebs_encryption_by_default" && e.Operation == "ec2:GetEbsEncryptionByDefault")
	}
	if !sawList || !sawProp {
		t.Errorf("scan read errors %+v lack the denied listing (%v) or property (%v)", sc.ReadErrors, sawList, sawProp)
	}

	// Scan 2: everything readable. The setting passes, the listing error is
	// resolved, the public snapshot fails.
	f.scan(t, moto.URL)
	if got := f.result(t, ebsDefault, regionUID); got.Status != vigil.StatusPass || got.ResolvedAt == nil {
		t.Errorf("%s after recovery = %s resolved %v, want pass, resolved", ebsDefault, got.Status, got.ResolvedAt)
	}
	if got := f.result(t, snapshotCheck, regionUID); got.ResolvedAt == nil {
		t.Errorf("listing error not resolved after the listing worked: %+v", got)
	}
	if got := f.result(t, snapshotCheck, snapUID); got.Status != vigil.StatusFail || got.ResolvedAt != nil {
		t.Errorf("public snapshot = %s resolved %v, want open fail", got.Status, got.ResolvedAt)
	}

	// Scan 3: the snapshot is gone: swept, with its finding resolved.
	if _, err := client.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: snap.SnapshotId}); err != nil {
		t.Fatal(err)
	}
	sc = f.scan(t, moto.URL)
	if sc.Stats.Deleted != 1 {
		t.Errorf("deleted = %d, want 1", sc.Stats.Deleted)
	}
	if got := f.result(t, snapshotCheck, snapUID); got.ResolvedAt == nil {
		t.Errorf("finding on deleted snapshot not resolved: %+v", got)
	}
	vs, err := f.store.Versions(ctx, snapUID)
	if err != nil || len(vs) != 2 || !vs[1].Deleted {
		t.Errorf("versions of deleted snapshot: %d, err %v", len(vs), err)
	}
}

// TestPartialScanKeepsAccountFindings: a scan of some services only must
// not resolve findings on account-wide settings that it did not look at.
func TestPartialScanKeepsAccountFindings(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	client := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	if _, err := client.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(8)}); err != nil {
		t.Fatal(err)
	}
	const check, account = "aws-iam-password-policy-min-length-14", "arn:aws:vigil::123456789012:account"
	f := newFixture(t)
	f.scanServices(t, moto.URL)
	if got := f.result(t, check, account); got.Status != vigil.StatusFail || got.ResolvedAt != nil {
		t.Fatalf("full scan: %s resolved %v, want open fail", got.Status, got.ResolvedAt)
	}
	f.scanServices(t, moto.URL, "s3")
	if got := f.result(t, check, account); got.Status != vigil.StatusFail || got.ResolvedAt != nil {
		t.Errorf("after an s3-only scan: %s resolved %v, want still open fail", got.Status, got.ResolvedAt)
	}
	if _, err := client.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(14)}); err != nil {
		t.Fatal(err)
	}
	f.scanServices(t, moto.URL)
	if got := f.result(t, check, account); got.Status != vigil.StatusPass || got.ResolvedAt == nil {
		t.Errorf("after fixing: %s resolved %v, want pass, resolved", got.Status, got.ResolvedAt)
	}
}
