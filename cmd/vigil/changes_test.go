package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/sqlite"
)

var changesT0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

const (
	chLogsUID  = "arn:aws:s3:::logs"
	chQueueUID = "arn:aws:sqs:eu-west-1:222222222222:orders"
	aliceARN   = "arn:aws:iam::111111111111:user/alice"
	bobARN     = "arn:aws:sts::222222222222:assumed-role/Admin/bob"
)

// seedChanges writes a small history through Record: two resources seen by a
// scan, a bucket policy changed by aliceARN, the queue deleted by bob, a tag
// added as a scan found it.
func seedChanges(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "vigil.db")
	s, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	logs := vigil.Resource{UID: chLogsUID, Provider: vigil.AWS, Account: "111111111111", Region: "eu-west-1",
		Type: "aws.s3.bucket", Name: "logs", Tags: map[string]string{"env": "prod"},
		Properties: map[string]any{"public": map[string]any{"policy": false, "acl": false}, "versioning": "Enabled"}}
	queue := vigil.Resource{UID: chQueueUID, Provider: vigil.AWS, Account: "222222222222", Region: "eu-west-1",
		Type: "aws.sqs.queue", Name: "orders", Properties: map[string]any{"fifo": false}}
	ev := func(id, name string, arn string, at time.Time) *vigil.Cause {
		return &vigil.Cause{EventID: id, EventSource: "s3.amazonaws.com", EventName: name, EventTime: at,
			Actor: vigil.Actor{ARN: arn, Type: "IAMUser", SourceIP: "203.0.113.7"}}
	}
	logs2 := logs
	logs2.Properties = map[string]any{"public": map[string]any{"policy": true, "acl": false}, "versioning": "Suspended"}
	logs3 := logs2
	logs3.Tags = map[string]string{"env": "prod", "owner": "sec"}
	for _, obs := range []vigil.Observation{
		{ScanID: "s1", At: changesT0, Resources: []vigil.Resource{logs, queue}},
		{ScanID: "ev-1", At: changesT0.Add(10 * time.Minute), Resources: []vigil.Resource{logs2},
			Cause: ev("e-101", "PutBucketPolicy", aliceARN, changesT0.Add(9*time.Minute))},
		{ScanID: "ev-2", At: changesT0.Add(20 * time.Minute), Deleted: []vigil.Resource{{UID: chQueueUID}},
			Cause: ev("e-102", "DeleteQueue", bobARN, changesT0.Add(20*time.Minute))},
		{ScanID: "s2", At: changesT0.Add(30 * time.Minute), Resources: []vigil.Resource{logs3}},
	} {
		if _, err := s.Record(ctx, obs, nil); err != nil {
			t.Fatalf("Record(%s): %v", obs.ScanID, err)
		}
	}
	return db
}

func TestChangesTable(t *testing.T) {
	t.Parallel()
	db := seedChanges(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all", nil, `TIME                  TYPE           NAME    CHANGE                              ACTOR                   EVENT
2025-03-04 05:36:07Z  aws.s3.bucket  logs    /tags/owner ∅→"sec"                 scan                    -
2025-03-04 05:26:07Z  aws.sqs.queue  orders  deleted                             assumed-role/Admin/bob  DeleteQueue
2025-03-04 05:16:07Z  aws.s3.bucket  logs    /public/policy false→true; +1 more  user/alice              PutBucketPolicy
2025-03-04 05:06:07Z  aws.s3.bucket  logs    created                             scan                    -
2025-03-04 05:06:07Z  aws.sqs.queue  orders  created                             scan                    -

5 changes
`},
		{"type and actor", []string{"--type", "aws.s3.*", "--actor", "ALICE"}, `TIME                  TYPE           NAME  CHANGE                              ACTOR       EVENT
2025-03-04 05:16:07Z  aws.s3.bucket  logs  /public/policy false→true; +1 more  user/alice  PutBucketPolicy

1 change
`},
		{"since and until", []string{"--since", "2025-03-04T05:16:07Z", "--until", "2025-03-04T05:36:07Z"}, `TIME                  TYPE           NAME    CHANGE                              ACTOR                   EVENT
2025-03-04 05:26:07Z  aws.sqs.queue  orders  deleted                             assumed-role/Admin/bob  DeleteQueue
2025-03-04 05:16:07Z  aws.s3.bucket  logs    /public/policy false→true; +1 more  user/alice              PutBucketPolicy

2 changes
`},
		{"account", []string{"--account", "222222222222"}, `TIME                  TYPE           NAME    CHANGE   ACTOR                   EVENT
2025-03-04 05:26:07Z  aws.sqs.queue  orders  deleted  assumed-role/Admin/bob  DeleteQueue
2025-03-04 05:06:07Z  aws.sqs.queue  orders  created  scan                    -

2 changes
`},
		{"uid and limit", []string{"--uid", chLogsUID, "--limit", "1"}, `TIME                  TYPE           NAME  CHANGE               ACTOR  EVENT
2025-03-04 05:36:07Z  aws.s3.bucket  logs  /tags/owner ∅→"sec"  scan   -

1 change
`},
		{"none after a date", []string{"--since", "2025-03-05"}, `TIME  TYPE  NAME  CHANGE  ACTOR  EVENT

0 changes
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"--db", db, "changes"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if out != tc.want {
				t.Errorf("output:\n%s\nwant:\n%s", out, tc.want)
			}
		})
	}
}

func TestChangesJSON(t *testing.T) {
	t.Parallel()
	db := seedChanges(t)
	code, out, stderr := runCLI(t, "--db", db, "changes", "--uid", chLogsUID, "--actor", "alice", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var vs []vigil.Version
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("output is not a JSON list of versions: %v\n%s", err, out)
	}
	if len(vs) != 1 {
		t.Fatalf("%d versions, want 1:\n%s", len(vs), out)
	}
	v := vs[0]
	if v.UID != chLogsUID || v.Seq != 2 || v.ScanID != "ev-1" || v.Actor != aliceARN || !v.ObservedAt.Equal(changesT0.Add(10*time.Minute)) {
		t.Errorf("version %s#%d scan %s actor %s at %v", v.UID, v.Seq, v.ScanID, v.Actor, v.ObservedAt)
	}
	wantCause := vigil.Cause{EventID: "e-101", EventSource: "s3.amazonaws.com", EventName: "PutBucketPolicy",
		EventTime: changesT0.Add(9 * time.Minute), Actor: vigil.Actor{ARN: aliceARN, Type: "IAMUser", SourceIP: "203.0.113.7"}}
	if v.Cause == nil || !reflect.DeepEqual(*v.Cause, wantCause) {
		t.Errorf("cause %+v, want %+v", v.Cause, wantCause)
	}
	wantDiff := []vigil.DiffOp{
		{Op: "replace", Path: "/properties/public/policy", Old: false, New: true},
		{Op: "replace", Path: "/properties/versioning", Old: "Enabled", New: "Suspended"},
	}
	if !reflect.DeepEqual(v.Diff, wantDiff) {
		t.Errorf("diff %+v, want %+v", v.Diff, wantDiff)
	}
	if v.Resource.Name != "logs" || v.Resource.Properties["versioning"] != "Suspended" {
		t.Errorf("resource %+v, want logs with versioning Suspended", v.Resource)
	}

	code, out, _ = runCLI(t, "--db", db, "changes", "--actor", "mallory", "--format", "json")
	if code != 0 || out != "[]\n" {
		t.Errorf("no match: exit %d, output %q; want []", code, out)
	}
}

// TestChangesSinceDuration: --since 1h is an hour before now.
func TestChangesSinceDuration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "vigil.db")
	s, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, ago := range []time.Duration{3 * 24 * time.Hour, 2 * time.Hour, 30 * time.Minute} {
		r := vigil.Resource{UID: "u" + strconv.Itoa(i), Type: "aws.s3.bucket", Name: "b" + strconv.Itoa(i)}
		if _, err := s.Record(ctx, vigil.Observation{ScanID: "s", At: now.Add(-ago), Resources: []vigil.Resource{r}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for _, tc := range []struct {
		since string
		want  []string
	}{{"1h", []string{"b2"}}, {"3h", []string{"b2", "b1"}}, {"4d", []string{"b2", "b1", "b0"}}} {
		code, out, stderr := runCLI(t, "--db", db, "changes", "--since", tc.since, "--format", "json")
		if code != 0 {
			t.Fatalf("--since %s: exit %d: %s", tc.since, code, stderr)
		}
		var vs []vigil.Version
		if err := json.Unmarshal([]byte(out), &vs); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range vs {
			names = append(names, v.Resource.Name)
		}
		if !reflect.DeepEqual(names, tc.want) {
			t.Errorf("--since %s: %v, want %v", tc.since, names, tc.want)
		}
	}
}

func TestChangesBadInput(t *testing.T) {
	t.Parallel()
	db := seedChanges(t)
	missing := filepath.Join(t.TempDir(), "none.db")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad since", []string{"--db", db, "changes", "--since", "yesterday"}, 2,
			`vigil: --since "yesterday": want a duration such as 24h or 7d, or a time such as 2025-03-04T05:06:07Z or 2025-03-04` + "\n"},
		{"negative duration", []string{"--db", db, "changes", "--until", "-1h"}, 2, `vigil: --until "-1h": want a duration`},
		{"limit too large", []string{"--db", db, "changes", "--limit", "20000"}, 2, "vigil: --limit 20000: want 1 to 10000\n"},
		{"bad format", []string{"--db", db, "changes", "--format", "csv"}, 2, `vigil: unknown format "csv" (want table or json)` + "\n"},
		{"argument", []string{"--db", db, "changes", "x"}, 2, `vigil: unknown command "x" for "vigil changes"; see vigil --help` + "\n"},
		{"no database", []string{"--db", missing, "changes"}, 1, "vigil: no database at " + missing},
		{"history bad format", []string{"--db", db, "history", chLogsUID, "--format", "xml"}, 2, `vigil: unknown format "xml" (want table or json)` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, tc.args...)
			if code != tc.code || !strings.HasPrefix(stderr, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and stderr starting %q", code, out, stderr, tc.code, tc.want)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("changes created a database at %s (stat: %v)", missing, err)
	}
}

func TestHistoryActorAndEvent(t *testing.T) {
	t.Parallel()
	db := seedChanges(t)
	want := `version 1  2025-03-04 05:06:07Z  first seen  (scan s1)
version 2  2025-03-04 05:16:07Z  changed by arn:aws:iam::111111111111:user/alice  event PutBucketPolicy (e-101)  (scan ev-1)
  ~ /properties/public/policy: false → true
  ~ /properties/versioning: "Enabled" → "Suspended"
version 3  2025-03-04 05:36:07Z  changed  (scan s2)
  + /tags/owner: "sec"
`
	for _, format := range []string{"table", "text"} {
		code, out, stderr := runCLI(t, "--db", db, "history", chLogsUID, "--format", format)
		if code != 0 || out != want {
			t.Errorf("history --format %s: exit %d, stderr %q, output:\n%s\nwant:\n%s", format, code, stderr, out, want)
		}
	}
	code, out, _ := runCLI(t, "--db", db, "history", chQueueUID)
	wantQueue := `version 1  2025-03-04 05:06:07Z  first seen  (scan s1)
version 2  2025-03-04 05:26:07Z  deleted by arn:aws:sts::222222222222:assumed-role/Admin/bob  event DeleteQueue (e-102)  (scan ev-2)
`
	if code != 0 || !strings.HasPrefix(out, wantQueue) {
		t.Errorf("history of the deleted queue: exit %d, output:\n%s\nwant it to start with:\n%s", code, out, wantQueue)
	}
}

func TestChangeSummary(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 40)
	for _, tc := range []struct {
		name string
		v    vigil.Version
		want string
	}{
		{"created", vigil.Version{Seq: 1}, "created"},
		{"deleted", vigil.Version{Seq: 4, Deleted: true, Diff: []vigil.DiffOp{{Op: "remove", Path: "/name"}}}, "deleted"},
		{"back unchanged", vigil.Version{Seq: 3}, "restored"},
		{"replace", vigil.Version{Seq: 2, Diff: []vigil.DiffOp{{Op: "replace", Path: "/properties/versioning", Old: "Enabled", New: "Suspended"}}},
			`/versioning "Enabled"→"Suspended"`},
		{"add, more", vigil.Version{Seq: 2, Diff: []vigil.DiffOp{{Op: "add", Path: "/properties/logging", New: true}, {}, {}}},
			"/logging ∅→true; +2 more"},
		{"remove", vigil.Version{Seq: 2, Diff: []vigil.DiffOp{{Op: "remove", Path: "/tags/env", Old: "dev"}}}, `/tags/env "dev"→∅`},
		{"long value", vigil.Version{Seq: 2, Diff: []vigil.DiffOp{{Op: "replace", Path: "/name", Old: long, New: "b"}}},
			`/name "` + strings.Repeat("x", 22) + `…→"b"`},
	} {
		if got := changeSummary(tc.v); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	for arn, want := range map[string]string{
		"":                                     "scan",
		"arn:aws:iam::111:user/alice":          "user/alice",
		"arn:aws:sts::111:assumed-role/A/bob":  "assumed-role/A/bob",
		"arn:aws:iam::111:root":                "root",
		"alice@contoso.com":                    "alice@contoso.com",
		"arn:aws:iam::111:":                    "arn:aws:iam::111:",
		"9b6c0e1e-4c3a-4bb4-8d8f-6f0b3b5a1c2d": "9b6c0e1e-4c3a-4bb4-8d8f-6f0b3b5a1c2d",
	} {
		if got := shortActor(arn); got != want {
			t.Errorf("shortActor(%q) = %q, want %q", arn, got, want)
		}
	}
}
