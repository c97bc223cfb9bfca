package alert

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the messages made now")

// TestGoldenMessages renders one scenario per kind and outcome and
// compares the alerts, as JSON, with testdata/golden/NAME.json (go test
// -run TestGoldenMessages -update rewrites them; review the diff).
func TestGoldenMessages(t *testing.T) {
	t.Parallel()
	rules := testRules(t)
	checks := testChecks(t)
	covers := func(checkID string, _ vigil.Resource) bool { return checkID == "aws-s3-bucket-public" }
	only := func(name string) *Rules { return New([]*Rule{rule(name, rules)}, checks, WithAutofix(covers)) }
	observed := func(name string, rec vigil.Recorded, ev *vigil.Cause) func(t *testing.T) []vigil.Alert {
		return func(t *testing.T) []vigil.Alert {
			got, _ := only(name).Observed(rec, ev, t0)
			return got
		}
	}
	public := opened("aws-s3-bucket-public", bucket, "aws.s3.bucket", acct, vigil.Critical, "bucket policy grants access to anyone")
	versioning := opened("aws-s3-bucket-versioning", bucket, "aws.s3.bucket", acct, vigil.Medium, "versioning is Suspended")
	logging := opened("aws-s3-bucket-logging", bucket, "aws.s3.bucket", acct, vigil.Low, "server access logging is off")
	noPublic := s3bucket(false)
	delete(noPublic.Properties, "public")
	bigOld, bigNew := sg(), sg()
	for i := range 10 {
		bigNew.Properties["ingress"] = append(bigNew.Properties["ingress"].([]any), ingress("0.0.0.0/0", 8000+i))
	}
	bigNew.Tags = map[string]string{"owner": "team-web"}
	fix := vigil.Fix{ID: "fx-7", At: t0, Actor: "rule:public-buckets", Mode: "always-fix", CheckID: "aws-s3-bucket-public",
		ResourceUID: bucket, ResourceType: "aws.s3.bucket", Provider: "aws", Account: acct, Region: "eu-west-1",
		Action: "aws.s3.block-public-access",
		Plan:   []string{"s3:PutPublicAccessBlock on bucket logs: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets on"}}
	fixed := func(s vigil.FixStatus, reason string, ev *vigil.Cause) func(t *testing.T) []vigil.Alert {
		return func(t *testing.T) []vigil.Alert {
			f := fix
			f.Status, f.Reason = s, reason
			return only("fixes").Fixed(f, s3bucket(true), ev)
		}
	}
	scenarios := []struct {
		name string
		run  func(t *testing.T) []vigil.Alert
	}{
		{"change-world-open-ingress", observed("world-open-ingress", vigil.Recorded{Changes: []vigil.Change{
			change(ptr(sg(ingress("10.0.0.0/8", 22))), sg(ingress("10.0.0.0/8", 22), ingress("0.0.0.0/0", 22)), false)}},
			cause("AuthorizeSecurityGroupIngress", t0.Add(-30*time.Second)))},
		{"change-many-ops-by-scan", observed("world-open-ingress", vigil.Recorded{Changes: []vigil.Change{change(&bigOld, bigNew, false)}}, nil)},
		{"change-bucket-public", observed("bucket-made-public", vigil.Recorded{Changes: []vigil.Change{
			change(ptr(s3bucket(false)), s3bucket(true), false)}}, cause("PutBucketPolicy", t0))},
		{"change-condition-failed", observed("bucket-made-public", vigil.Recorded{Changes: []vigil.Change{
			change(nil, noPublic, false)}}, cause("CreateBucket", t0))},
		{"change-bucket-deleted", observed("bucket-deleted", vigil.Recorded{Changes: []vigil.Change{
			change(ptr(s3bucket(false)), s3bucket(false), true)}}, cause("DeleteBucket", t0))},
		{"finding-one-autofixed", observed("new-findings", vigil.Recorded{
			Changes:     []vigil.Change{change(ptr(s3bucket(false)), s3bucket(true), false)},
			Transitions: []vigil.Transition{public}}, cause("PutBucketPolicy", t0))},
		{"finding-three-grouped", observed("new-findings", vigil.Recorded{Transitions: []vigil.Transition{logging, versioning, public}}, nil)},
		{"fix-verified", fixed(vigil.FixVerified, "", nil)},
		{"fix-failed", fixed(vigil.FixFailed, "s3:PutPublicAccessBlock: AccessDenied: not authorized", cause("PutBucketPolicy", t0.Add(-2*time.Minute)))},
		{"fix-flapping", fixed(vigil.FixSkipped, "flapping: 3 verified fixes within 24h0m0s and failing again", cause("PutBucketPolicy", t0))},
		{"fix-skipped", fixed(vigil.FixSkipped, "max fixes per hour (30) reached", nil)},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.MarshalIndent(sc.run(t), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", "golden", sc.name+".json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs; got:\n%s", file, got)
			}
		})
	}
}
