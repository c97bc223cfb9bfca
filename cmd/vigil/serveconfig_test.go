package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/notify"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/river"
	"github.com/vigilsec/vigil/smtp"
)

// builtins loads the shipped checks and fix actions once: every config
// test validates rules against them.
var builtins = sync.OnceValues(func() (*policy.Set, error) { return (&app{}).loadChecks() })

// loadServeConfig parses body as the --config file, as `vigil serve` does,
// and returns the file's path with the result.
func loadServeConfig(t *testing.T, body string) (string, *fileConfig, error) {
	t.Helper()
	checks, err := builtins()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := actionRegistry()
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, body)
	cfg, err := (&app{configPath: path, serving: true}).loadConfig(checks, reg)
	return path, cfg, err
}

// problems returns the positions and messages of an invalid-config error,
// with the file name stripped: "line:col: message".
func problems(t *testing.T, path string, err error) []string {
	t.Helper()
	var le *policy.LoadError
	if !errors.As(err, &le) || vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("want an EINVALID config error, got %v", err)
	}
	out := make([]string, len(le.Problems))
	for i, p := range le.Problems {
		if p.File != path {
			t.Errorf("problem %q names file %q, want %q", p.Msg, p.File, path)
		}
		out[i] = strings.TrimPrefix(p.String(), path+":")
	}
	return out
}

// TestServeConfigErrors: every mistake in the serve sections is reported
// with its line, column and a message naming the key and the problem.
func TestServeConfigErrors(t *testing.T) {
	t.Setenv("VIGIL_TEST_SLACK_URL", "https://hooks.slack.com/services/T0/B0/secret")
	t.Setenv("VIGIL_TEST_HOOK_SECRET", "0123456789abcdef0123")
	t.Setenv("VIGIL_TEST_SHORT_SECRET", "short")
	t.Setenv("VIGIL_TEST_PD_KEY", "R0UTINGKEY")
	t.Setenv("VIGIL_TEST_UNSET", "")
	const q = "https://sqs.us-east-1.amazonaws.com/123456789012/vigil-events"
	cases := []struct {
		name, body string
		want       []string
	}{
		// serve
		{"listen without port", "serve: {listen: \"8080\"}\n",
			[]string{`1:17: serve.listen "8080": want host:port, e.g. 127.0.0.1:8080 (or :8080 for every interface)`}},
		{"listen not a string", "serve: {listen: [a]}\n",
			[]string{`1:17: serve.listen: want a string, got a list`}},
		{"serve unknown key", "serve:\n  port: 8080\n",
			[]string{`2:3: unknown key "port" in serve (known: listen)`}},
		{"serve not a mapping", "serve: 127.0.0.1:8080\n",
			[]string{`1:8: serve must be a mapping of listen`}},

		// schedules
		{"schedules not a list", "schedules: {name: nightly, cron: \"0 3 * * *\"}\n",
			[]string{`1:12: schedules must be a list, e.g. - {name: nightly, cron: "0 3 * * *"}`}},
		{"schedule not a mapping", "schedules: [nightly]\n",
			[]string{`1:13: schedules[1] must be a mapping of accounts, cron, every, name`}},
		{"schedule without name", "schedules:\n  - {cron: \"0 3 * * *\"}\n",
			[]string{`2:5: schedules[1] needs a name`}},
		{"schedule with empty name", "schedules:\n  - {name: \"\", cron: \"0 3 * * *\"}\n",
			[]string{`2:12: schedules[1].name must not be empty`}},
		{"duplicate schedule name", "schedules:\n  - {name: nightly, cron: \"0 3 * * *\"}\n  - {name: nightly, every: 6h}\n",
			[]string{`3:5: schedules[2]: the name "nightly" is used twice`}},
		{"bad cron", "schedules:\n  - {name: nightly, cron: \"61 * * * *\"}\n",
			[]string{`2:27: schedules[1].cron "61 * * * *": end of range (61) above maximum (59): 61 (want five fields: minute hour day-of-month month day-of-week, or @daily, @every 6h)`}},
		{"cron with six fields", "schedules:\n  - {name: nightly, cron: \"0 0 3 * * *\"}\n",
			[]string{`2:27: schedules[1].cron "0 0 3 * * *": expected exactly 5 fields, found 6: [0 0 3 * * *] (want five fields: minute hour day-of-month month day-of-week, or @daily, @every 6h)`}},
		{"cron @every under a minute", "schedules:\n  - {name: fast, cron: \"@every 30s\"}\n",
			[]string{`2:24: schedules[1].cron "@every 30s": scans run at most once a minute`}},
		{"every under a minute", "schedules:\n  - {name: fast, every: 30s}\n",
			[]string{`2:25: schedules[1].every 30s: scans run at most once a minute`}},
		{"every not a duration", "schedules:\n  - {name: fast, every: often}\n",
			[]string{`2:25: schedules[1].every: "often" is not a duration such as 30m, 24h or 7d`}},
		{"cron and every", "schedules:\n  - {name: both, cron: \"0 3 * * *\", every: 6h}\n",
			[]string{`2:5: schedules[1]: set cron or every, not both`}},
		{"neither cron nor every", "schedules:\n  - {name: never}\n",
			[]string{`2:5: schedules[1] needs cron ("0 3 * * *") or every (6h)`}},
		{"bad schedule account", "schedules:\n  - {name: prod, every: 1h, accounts: [\"123456789012\", \"12345\"]}\n",
			[]string{`2:56: schedules[1].accounts: "12345" is not a 12-digit AWS account id nor an Azure subscription id`}},
		{"schedule unknown key", "schedules:\n  - {name: prod, every: 1h, region: us-east-1}\n",
			[]string{`2:29: unknown key "region" in schedules[1] (known: accounts, cron, every, name)`}},

		// watch
		{"watch not a mapping", "watch: [" + q + "]\n",
			[]string{`1:8: watch must be a mapping of aws, azure`}},
		{"watch unknown provider", "watch:\n  gcp: []\n",
			[]string{`2:3: unknown key "gcp" in watch (known: aws, azure)`}},
		{"watch.aws not a list", "watch:\n  aws: {queue_url: " + q + "}\n",
			[]string{`2:8: watch.aws must be a list of queues, e.g. - {queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/vigil-events}`}},
		{"queue without queue_url", "watch:\n  aws:\n    - {dead_letter_url: " + q + "-dlq}\n",
			[]string{`3:7: watch.aws[1] needs queue_url`}},
		{"bad queue url", "watch:\n  aws:\n    - {queue_url: vigil-events}\n",
			[]string{`3:19: watch.aws[1].queue_url "vigil-events": want an SQS queue URL, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`}},
		{"queue url with a short account", "watch:\n  aws:\n    - queue_url: https://sqs.us-east-1.amazonaws.com/12345/q\n",
			[]string{`3:18: watch.aws[1].queue_url "https://sqs.us-east-1.amazonaws.com/12345/q": want an SQS queue URL, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`}},
		{"bad dead_letter_url", "watch:\n  aws:\n    - {queue_url: " + q + ", dead_letter_url: \"arn:aws:sqs:us-east-1:123456789012:dlq\"}\n",
			[]string{`3:99: watch.aws[1].dead_letter_url "arn:aws:sqs:us-east-1:123456789012:dlq": want an SQS queue URL, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`}},
		{"bad queue account", "watch:\n  aws:\n    - {queue_url: " + q + ", account: \"1234\"}\n",
			[]string{`3:91: watch.aws[1].account "1234" is not a 12-digit AWS account id`}},
		{"bad wait_time", "watch:\n  aws:\n    - {queue_url: " + q + ", wait_time: 30s}\n",
			[]string{`3:93: watch.aws[1].wait_time 30s: want whole seconds from 1s to 20s (SQS's long poll)`}},
		{"bad visibility_timeout", "watch:\n  aws:\n    - {queue_url: " + q + ", visibility_timeout: 500ms}\n",
			[]string{`3:102: watch.aws[1].visibility_timeout 500ms: want whole seconds from 1s to 12h`}},
		{"queue watched twice", "watch:\n  aws:\n    - {queue_url: " + q + "}\n    - {queue_url: " + q + "}\n",
			[]string{`4:19: watch.aws[2]: the queue ` + q + ` is watched twice`}},

		// watch.azure
		{"watch.azure not a list", "watch:\n  azure: {queue: vigil-events}\n",
			[]string{`2:10: watch.azure must be a list of queues, e.g. - {queue_service_url: https://vigilevents.queue.core.windows.net, queue: vigil-events}`}},
		{"azure queue without url and name", "watch:\n  azure:\n    - {poison_queue: vigil-events-poison}\n",
			[]string{`3:7: watch.azure[1] needs queue_service_url`, `3:7: watch.azure[1] needs queue`}},
		{"azure queue url over plain http", "watch:\n  azure:\n    - {queue_service_url: \"http://vigilevents.queue.core.windows.net\", queue: vigil-events}\n",
			[]string{`3:27: watch.azure[1].queue_service_url "http://vigilevents.queue.core.windows.net": plain http is allowed only to a loopback host (Azurite)`}},
		{"azure queue url with a SAS", "watch:\n  azure:\n    - {queue_service_url: \"https://vigilevents.queue.core.windows.net?sig=abc\", queue: vigil-events}\n",
			[]string{`3:27: watch.azure[1].queue_service_url: no query string (a SAS token is a secret; use account_key_env or the scanning identity)`}},
		{"bad azure queue name", "watch:\n  azure:\n    - {queue_service_url: \"https://vigilevents.queue.core.windows.net\", queue: Vigil_Events}\n",
			[]string{`3:80: watch.azure[1].queue "Vigil_Events": a queue name is 3 to 63 lower-case letters, digits and single hyphens`}},
		{"azure account key in the file", "watch:\n  azure:\n    - {queue_service_url: \"https://vigilevents.queue.core.windows.net\", queue: vigil-events, account_key: abc}\n",
			[]string{`3:107: watch.azure[1].account_key: keys are not read from the config file; set account_key_env to the name of an environment variable holding it`}},
		{"azure queue watched twice", "watch:\n  azure:\n    - {queue_service_url: \"https://a.queue.core.windows.net\", queue: evs}\n    - {queue_service_url: \"https://a.queue.core.windows.net/\", queue: evs}\n",
			[]string{`4:71: watch.azure[2]: the queue https://a.queue.core.windows.net/evs is watched twice`}},

		// channels
		{"channels not a mapping", "channels: [ops]\n",
			[]string{`1:11: channels must be a mapping of channel names to channels, e.g. ops: {type: slack, url_env: SLACK_WEBHOOK_URL}`}},
		{"bad channel name", "channels:\n  \"ops team\": {type: slack, url_env: VIGIL_TEST_SLACK_URL}\n",
			[]string{`2:3: channel name "ops team": use letters, digits, '-', '_' and '.' (at most 64)`}},
		{"channel set twice", "channels:\n  ops: {type: slack, url_env: VIGIL_TEST_SLACK_URL}\n  ops: {type: slack, url_env: VIGIL_TEST_SLACK_URL}\n",
			[]string{`3:3: channels.ops is set twice`}},
		{"channel not a mapping", "channels:\n  ops: slack\n",
			[]string{`2:8: channels.ops must be a mapping with a type (email, slack, teams, webhook, pagerduty)`}},
		{"channel without type", "channels:\n  ops: {url_env: VIGIL_TEST_SLACK_URL}\n",
			[]string{`2:8: channels.ops needs a type (email, slack, teams, webhook, pagerduty)`}},
		{"unknown channel type", "channels:\n  ops: {type: discord, url_env: VIGIL_TEST_SLACK_URL}\n",
			[]string{`2:15: channels.ops.type "discord": want email, slack, teams, webhook or pagerduty`}},
		{"url on slack", "channels:\n  ops: {type: slack, url: \"https://hooks.slack.com/services/T0/B0/secret\"}\n",
			[]string{`2:22: unknown key "url" in channels.ops (known: timeout, type, url_env)`,
				`2:8: channels.ops needs url_env, the environment variable holding the webhook URL (a secret)`}},
		{"headers on teams", "channels:\n  ops: {type: teams, url_env: VIGIL_TEST_SLACK_URL, headers: {X-Team: secops}}\n",
			[]string{`2:53: unknown key "headers" in channels.ops (known: timeout, type, url_env)`}},
		{"slack without url_env", "channels:\n  ops: {type: slack}\n",
			[]string{`2:8: channels.ops needs url_env, the environment variable holding the webhook URL (a secret)`}},
		{"url_env unset", "channels:\n  ops: {type: slack, url_env: VIGIL_TEST_UNSET}\n",
			[]string{`2:31: channels.ops.url_env: the environment variable VIGIL_TEST_UNSET is not set`}},
		{"url_env holding the url itself", "channels:\n  ops: {type: slack, url_env: \"https://hooks.slack.com/services/T0/B0/secret\"}\n",
			[]string{`2:31: channels.ops.url_env: want the name of an environment variable that holds the secret, e.g. SLACK_WEBHOOK_URL (value hidden: it may be the secret itself)`}},
		{"slack url not https", "channels:\n  ops: {type: slack, url_env: VIGIL_TEST_HTTP_URL}\n",
			[]string{`2:8: channels.ops: channel "ops": url_env: http://hooks.example.com… is not encrypted: want https`}},
		{"webhook without secret_env", "channels:\n  hook: {type: webhook, url: \"https://alerts.example.com/vigil\"}\n",
			[]string{`2:9: channels.hook needs secret_env: webhooks are signed (HMAC-SHA256) so that the receiver can trust them`}},
		{"webhook without url", "channels:\n  hook: {type: webhook, secret_env: VIGIL_TEST_HOOK_SECRET}\n",
			[]string{`2:9: channels.hook needs url (or url_env)`}},
		{"webhook with url and url_env", "channels:\n  hook: {type: webhook, url: \"https://alerts.example.com/vigil\", url_env: VIGIL_TEST_SLACK_URL, secret_env: VIGIL_TEST_HOOK_SECRET}\n",
			[]string{`2:75: channels.hook: set url or url_env, not both`}},
		{"webhook bad url", "channels:\n  hook: {type: webhook, url: \"ftp://alerts.example.com/vigil?token=t0k3n\", secret_env: VIGIL_TEST_HOOK_SECRET}\n",
			[]string{`2:30: channels.hook.url: want an http(s) URL such as https://alerts.example.com/vigil (value hidden: it may hold a secret)`}},
		{"webhook short secret", "channels:\n  hook: {type: webhook, url: \"https://alerts.example.com/vigil\", secret_env: VIGIL_TEST_SHORT_SECRET}\n",
			[]string{`2:9: channels.hook: channel "hook": secret_env: the signing secret is 5 characters, want at least 16 (e.g. openssl rand -hex 32)`}},
		{"webhook reserved header", "channels:\n  hook: {type: webhook, url: \"https://alerts.example.com/vigil\", secret_env: VIGIL_TEST_HOOK_SECRET, headers: {x-vigil-signature: forged}}\n",
			[]string{`2:9: channels.hook: channel "hook": headers: X-Vigil-Signature is set by Vigil`}},
		{"bad secret_env name", "channels:\n  hook: {type: webhook, url: \"https://alerts.example.com/vigil\", secret_env: \"s3cr3t-value\"}\n",
			[]string{`2:78: channels.hook.secret_env: want the name of an environment variable that holds the secret, e.g. SLACK_WEBHOOK_URL (value hidden: it may be the secret itself)`}},
		{"bad timeout", "channels:\n  ops: {type: slack, url_env: VIGIL_TEST_SLACK_URL, timeout: 10}\n",
			[]string{`2:62: channels.ops.timeout: want a duration such as 24h or 7d, got a number (10)`}},
		{"pagerduty without routing_key_env", "channels:\n  pd: {type: pagerduty}\n",
			[]string{`2:7: channels.pd needs routing_key_env, the environment variable holding the integration routing key`}},
		{"routing key on a webhook", "channels:\n  hook: {type: webhook, url: \"https://alerts.example.com/vigil\", secret_env: VIGIL_TEST_HOOK_SECRET, routing_key_env: VIGIL_TEST_PD_KEY}\n",
			[]string{`2:102: unknown key "routing_key_env" in channels.hook (known: headers, secret_env, timeout, type, url, url_env)`}},
		{"email channel without server, from and to", "channels:\n  ops-email: {type: email}\n",
			[]string{`2:14: channels.ops-email needs server`, `2:14: channels.ops-email needs from`,
				`2:14: channels.ops-email needs to (a list of recipients)`}},
		{"email channel password in file", "channels:\n  ops-email: {type: email, server: \"smtp.example.com:587\", from: vigil@example.com, to: [secops@example.com],\n    username: vigil, password: hunter2}\n",
			[]string{`3:32: channels.ops-email.password: passwords are not read from the config file; set password_env to the name of an environment variable holding it`}},
		{"email channel bad server and recipient", "channels:\n  ops-email: {type: email, server: smtp.example.com, from: vigil@example.com, to: [secops]}\n",
			[]string{`2:36: channels.ops-email.server "smtp.example.com": want host:port, e.g. smtp.example.com:587`,
				`2:84: channels.ops-email.to "secops": mail: missing '@' or angle-addr`}},
		{"email channel timeout twice", "channels:\n  ops-email: {type: email, server: \"smtp.example.com:587\", from: vigil@example.com, to: [secops@example.com], timeout: 5s, timeout: 6s}\n",
			[]string{`2:124: channels.ops-email.timeout is set twice`}},

		// alerts
		{"alert rule naming an undefined channel", "channels:\n  ops: {type: slack, url_env: VIGIL_TEST_SLACK_URL}\nalerts:\n  - {name: fixes, on: fix, channels: [ops, pager]}\n",
			[]string{`4:44: alerts[1] (fixes).channels: unknown channel "pager" (configured: ops)`}},
		{"alert rule naming a broken channel is not reported twice", "channels:\n  ops: {type: slack}\nalerts:\n  - {name: fixes, on: fix, channels: [ops]}\n",
			[]string{`2:8: channels.ops needs url_env, the environment variable holding the webhook URL (a secret)`}},

		// several at once, in file order, each section's problems together
		{"several problems", `serve: {listen: nowhere}
schedules:
  - {name: nightly, cron: "61 * * * *"}
  - {name: nightly, every: 10s}
watch:
  aws:
    - {queue_url: vigil-events, account: "1"}
channels:
  ops: {type: slack, url_env: VIGIL_TEST_UNSET}
  hook: {type: webhook, url: "https://alerts.example.com/vigil"}
alerts:
  - {name: fixes, on: fix, channels: [ops, nobody]}
autofix: {max_fixes_per_day: 3}
`, []string{
			`1:17: serve.listen "nowhere": want host:port, e.g. 127.0.0.1:8080 (or :8080 for every interface)`,
			`3:27: schedules[1].cron "61 * * * *": end of range (61) above maximum (59): 61 (want five fields: minute hour day-of-month month day-of-week, or @daily, @every 6h)`,
			`4:28: schedules[2].every 10s: scans run at most once a minute`,
			`4:5: schedules[2]: the name "nightly" is used twice`,
			`7:19: watch.aws[1].queue_url "vigil-events": want an SQS queue URL, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`,
			`7:42: watch.aws[1].account "1" is not a 12-digit AWS account id`,
			`9:31: channels.ops.url_env: the environment variable VIGIL_TEST_UNSET is not set`,
			`10:9: channels.hook needs secret_env: webhooks are signed (HMAC-SHA256) so that the receiver can trust them`,
			`13:11: unknown key "max_fixes_per_day" in autofix (known: enabled, exempt_tag, flapping, max_fixes_per_hour, max_fixes_per_run, max_share_per_run, rules)`,
			`12:44: alerts[1] (fixes).channels: unknown channel "nobody" (configured: hook, ops)`,
		}},
	}
	t.Setenv("VIGIL_TEST_HTTP_URL", "http://hooks.example.com/services/T0/B0/secret")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, cfg, err := loadServeConfig(t, tc.body)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg.serve)
			}
			got := problems(t, path, err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			// Secrets read from the environment never reach a message.
			for _, secret := range []string{"T0/B0/secret", "0123456789abcdef0123", "hunter2", "t0k3n", "R0UTINGKEY", "s3cr3t-value"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error holds the secret %q: %v", secret, err)
				}
			}
		})
	}
}

// TestServeConfigFull parses a config with every serve section into the
// exact schedules, queues, channels (secrets read from the environment)
// and rules.
func TestServeConfigFull(t *testing.T) {
	t.Setenv("VIGIL_TEST_SMTP_PASSWORD", "smtp-pass")
	t.Setenv("VIGIL_TEST_SLACK_URL", "https://hooks.slack.com/services/T0/B0/secret")
	t.Setenv("VIGIL_TEST_TEAMS_URL", "https://example.webhook.office.com/workflows/abc?sig=xyz")
	t.Setenv("VIGIL_TEST_HOOK_SECRET", "0123456789abcdef0123")
	t.Setenv("VIGIL_TEST_PD_KEY", "R0UTINGKEY")
	path, cfg, err := loadServeConfig(t, `serve:
  listen: 0.0.0.0:9090
schedules:
  - {name: nightly, cron: "0 3 * * *"}
  - {name: prod-hourly, every: 1h, accounts: ["123456789012", 210987654321]}
  - {name: weekly, every: 7d}
  - {name: utc-nightly, cron: "CRON_TZ=UTC 0 3 * * *"}
watch:
  aws:
    - queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/vigil-events
      dead_letter_url: https://sqs.us-east-1.amazonaws.com/123456789012/vigil-events-dlq
      account: "123456789012"
    - {queue_url: "http://localhost:5000/210987654321/events.fifo"}
channels:
  ops-email: {type: email, server: "smtp.example.com:587", tls: starttls, username: vigil, password_env: VIGIL_TEST_SMTP_PASSWORD,
              from: "Vigil <vigil@example.com>", to: [secops@example.com, oncall@example.com], timeout: 20s}
  slack-sec: {type: slack, url_env: VIGIL_TEST_SLACK_URL, timeout: 5s}
  teams-sec: {type: teams, url_env: VIGIL_TEST_TEAMS_URL}
  hook: {type: webhook, url: "https://alerts.example.com/vigil", secret_env: VIGIL_TEST_HOOK_SECRET, headers: {X-Team: secops}, timeout: 3s}
  pd: {type: pagerduty, routing_key_env: VIGIL_TEST_PD_KEY}
alerts:
  - name: bucket-made-public
    on: change
    type: aws.s3.bucket
    when: 'new != null && new.public.policy && (old == null || !old.public.policy)'
    severity: critical
    channels: [ops-email, slack-sec]
  - {name: new-critical, on: finding, severity: critical, channels: [pd, teams-sec]}
  - {name: healing, on: fix, outcomes: [verified, failed, flapping], channels: [hook]}
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.file != path || cfg.serve.listen != "0.0.0.0:9090" {
		t.Errorf("file %q listen %q", cfg.file, cfg.serve.listen)
	}

	s := cfg.serve.schedules
	if len(s) != 4 {
		t.Fatalf("%d schedules, want 4: %+v", len(s), s)
	}
	if s[0].Name != "nightly" || s[0].Accounts != nil {
		t.Errorf("schedule 1: %+v", s[0])
	}
	// Cron fields are in the machine's time zone, as crontab's are.
	from := time.Date(2026, 1, 14, 10, 30, 0, 0, time.Local)
	if got, want := s[0].Every.Next(from), time.Date(2026, 1, 15, 3, 0, 0, 0, time.Local); !got.Equal(want) {
		t.Errorf("nightly: next after %v is %v, want %v", from, got, want)
	}
	if got, want := s[0].Every.Next(time.Date(2026, 1, 15, 2, 59, 0, 0, time.Local)), time.Date(2026, 1, 15, 3, 0, 0, 0, time.Local); !got.Equal(want) {
		t.Errorf("nightly: next after 02:59 is %v, want %v", got, want)
	}
	if s[1].Name != "prod-hourly" || s[1].Every != river.Interval(time.Hour) || !reflect.DeepEqual(s[1].Accounts, []string{"123456789012", "210987654321"}) {
		t.Errorf("schedule 2: %+v, want every river.Interval(1h) for two accounts", s[1])
	}
	if s[2].Name != "weekly" || s[2].Every != river.Interval(7*24*time.Hour) || s[2].Accounts != nil {
		t.Errorf("schedule 3: %+v, want every river.Interval(168h)", s[2])
	}
	// CRON_TZ pins the zone whatever the machine's.
	utcFrom := time.Date(2026, 1, 14, 10, 30, 0, 0, time.FixedZone("UTC+5", 5*3600))
	if got, want := s[3].Every.Next(utcFrom), time.Date(2026, 1, 15, 3, 0, 0, 0, time.UTC); s[3].Name != "utc-nightly" || !got.Equal(want) {
		t.Errorf("schedule 4 %q: next after %v is %v, want %v", s[3].Name, utcFrom, got, want)
	}

	wantQueues := []queueConfig{
		{url: "https://sqs.us-east-1.amazonaws.com/123456789012/vigil-events",
			deadLetterURL: "https://sqs.us-east-1.amazonaws.com/123456789012/vigil-events-dlq", account: "123456789012"},
		{url: "http://localhost:5000/210987654321/events.fifo"},
	}
	if !reflect.DeepEqual(cfg.serve.queues, wantQueues) {
		t.Errorf("queues %+v, want %+v", cfg.serve.queues, wantQueues)
	}

	wantChannels := []notify.Config{
		{Name: "ops-email", Type: "email", Timeout: 20 * time.Second, Email: &smtp.Config{Server: "smtp.example.com:587", TLS: "starttls",
			Username: "vigil", Password: "smtp-pass", From: "Vigil <vigil@example.com>", To: []string{"secops@example.com", "oncall@example.com"}}},
		{Name: "slack-sec", Type: "slack", URL: "https://hooks.slack.com/services/T0/B0/secret", Timeout: 5 * time.Second},
		{Name: "teams-sec", Type: "teams", URL: "https://example.webhook.office.com/workflows/abc?sig=xyz"},
		{Name: "hook", Type: "webhook", URL: "https://alerts.example.com/vigil", Secret: "0123456789abcdef0123",
			Headers: map[string]string{"X-Team": "secops"}, Timeout: 3 * time.Second},
		{Name: "pd", Type: "pagerduty", RoutingKey: "R0UTINGKEY"},
	}
	if len(cfg.serve.channels) != len(wantChannels) {
		t.Fatalf("%d channels, want %d: %v", len(cfg.serve.channels), len(wantChannels), cfg.serve.channels)
	}
	for i, want := range wantChannels {
		// notify.Config prints redacted, so compare field by field.
		got := cfg.serve.channels[i]
		if got.Name != want.Name || got.Type != want.Type || got.URL != want.URL || got.Secret != want.Secret ||
			got.RoutingKey != want.RoutingKey || got.Timeout != want.Timeout || !reflect.DeepEqual(got.Headers, want.Headers) ||
			!reflect.DeepEqual(got.Email, want.Email) {
			t.Errorf("channel %d: got %s, want %s (secrets differ or are missing)", i+1, got, want)
		}
	}

	var names []string
	for _, r := range cfg.serve.rules {
		names = append(names, r.Name+"/"+string(r.On)+"/"+strings.Join(r.Channels, ","))
	}
	wantRules := []string{"bucket-made-public/change/ops-email,slack-sec", "new-critical/finding/pd,teams-sec", "healing/fix/hook"}
	if !reflect.DeepEqual(names, wantRules) {
		t.Errorf("rules %q, want %q", names, wantRules)
	}
	// The serve sections leave the others alone.
	if cfg.remediation != nil || cfg.email != nil || cfg.autofixSet || !reflect.DeepEqual(cfg.autofix, fix.AutoPolicy{}) {
		t.Errorf("remediation %v, email %v, autofix %v %+v", cfg.remediation, cfg.email, cfg.autofixSet, cfg.autofix)
	}
}

// TestServeConfigEmpty: sections left out, or present with nothing under
// them (every entry commented out), configure nothing and are no error.
func TestServeConfigEmpty(t *testing.T) {
	for name, body := range map[string]string{
		"no serve sections": "remediation: {}\n",
		"bare keys":         "serve:\nschedules:\nwatch:\nchannels:\nalerts:\n",
		"bare watch.aws":    "watch:\n  aws:\n",
		"empty collections": "serve: {}\nschedules: []\nwatch: {aws: []}\nchannels: {}\nalerts: []\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, cfg, err := loadServeConfig(t, body)
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.serve
			if s.listen != "" || len(s.schedules) != 0 || len(s.queues) != 0 || len(s.channels) != 0 || len(s.rules) != 0 {
				t.Errorf("configured %+v", s)
			}
		})
	}
}

// TestServeCommandConfigErrors: `vigil serve` with an invalid config, or
// bad flags, exits 2 with the message before any AWS call and without
// creating the database.
func TestServeCommandConfigErrors(t *testing.T) {
	t.Setenv("VIGIL_TEST_UNSET", "")
	endpoint, calls := countingServer(t)
	badConfig := writeConfig(t, "schedules:\n  - {name: fast, every: 30s}\nchannels:\n  ops: {type: slack, url_env: VIGIL_TEST_UNSET}\n")
	goodConfig := writeConfig(t, "schedules:\n  - {name: nightly, cron: \"0 3 * * *\"}\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"invalid config", []string{"--config", badConfig, "serve"},
			"vigil: invalid config: " + badConfig + ":2:25: schedules[1].every 30s: scans run at most once a minute\n  " +
				badConfig + ":4:31: channels.ops.url_env: the environment variable VIGIL_TEST_UNSET is not set\n"},
		{"missing config", []string{"--config", filepath.Join(t.TempDir(), "nope.yaml"), "serve"}, ""},
		{"no event workers", []string{"--config", goodConfig, "serve", "--event-workers", "0"},
			"vigil: --event-workers must be at least 1\n"},
		{"negative event workers", []string{"serve", "--event-workers", "-3"},
			"vigil: --event-workers must be at least 1\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "vigil.db")
			args := append([]string{"--db", db}, tc.args...)
			args = append(args, "--endpoint-url", endpoint, "--regions", "us-east-1", "--listen", "127.0.0.1:0")
			code, stdout, stderr := runCLI(t, args...)
			want := tc.want
			if want == "" {
				want = "vigil: config: open " + tc.args[1] + ": no such file or directory\n"
			}
			if code != 2 || stdout != "" || stderr != want {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and:\n%s", code, stdout, stderr, want)
			}
			if n := calls.Swap(0); n > 0 {
				t.Errorf("%d AWS API calls", n)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("database created (stat: %v)", err)
			}
		})
	}
}

// TestChannelSecretsOnlyForServe: `vigil scan` and `vigil fix` check the
// channels' shape but do not need their secrets; `vigil serve` does.
func TestChannelSecretsOnlyForServe(t *testing.T) {
	t.Setenv("VIGIL_TEST_UNSET_SLACK", "")
	body := "channels:\n  sec: {type: slack, url_env: VIGIL_TEST_UNSET_SLACK}\n  bad: {type: slack, url: https://hooks.slack.com/x}\n"
	checks, err := builtins()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := actionRegistry()
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, body)
	_, err = (&app{configPath: path}).loadConfig(checks, reg)
	if got := problems(t, path, err); len(got) != 2 || got[0] != `3:22: unknown key "url" in channels.bad (known: timeout, type, url_env)` ||
		got[1] != "3:8: channels.bad needs url_env, the environment variable holding the webhook URL (a secret)" {
		t.Errorf("scan's view: %q, want the mistakes of channels.bad only", got)
	}
	body = "channels:\n  sec: {type: slack, url_env: VIGIL_TEST_UNSET_SLACK}\n"
	path = writeConfig(t, body)
	if _, err := (&app{configPath: path}).loadConfig(checks, reg); err != nil {
		t.Errorf("scan needs the channel's secret: %v", err)
	}
	_, err = (&app{configPath: path, serving: true}).loadConfig(checks, reg)
	if got := problems(t, path, err); len(got) != 1 || got[0] != "2:31: channels.sec.url_env: the environment variable VIGIL_TEST_UNSET_SLACK is not set" {
		t.Errorf("serve's view: %q", got)
	}
}
