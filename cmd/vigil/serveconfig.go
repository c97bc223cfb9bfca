package main

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/alert"
	"github.com/vigilsec/vigil/internal/localsrv"
	"github.com/vigilsec/vigil/notify"
	"github.com/vigilsec/vigil/river"
	"github.com/vigilsec/vigil/yamlconf"
)

// serveConfig is what `vigil serve` reads from the config file besides
// remediation and autofix: where to listen, scan schedules, event queues,
// alert channels and alert rules.
type serveConfig struct {
	listen    string
	schedules []river.Schedule
	queues    []queueConfig
	// azureQueues are the watch.azure Storage Queues.
	azureQueues []azureQueueConfig
	channels    []notify.Config
	// alertsNode is the alerts section, parsed once the channels are known.
	alertsNode *yaml.Node
	rules      []*alert.Rule
}

// queueConfig is one event queue to watch.
type queueConfig struct {
	url, deadLetterURL, account string
	// waitTime is the long poll (1 s to 20 s, default 20 s); visibility
	// how long a received message stays hidden (default 60 s).
	waitTime, visibility time.Duration
}

// azureQueueConfig is one Storage Queue of Event Grid events to watch.
type azureQueueConfig struct {
	// serviceURL is the queue service, https://ACCOUNT.queue.core.windows.net
	// (Azurite: http://127.0.0.1:10001/devstoreaccount1).
	serviceURL, queue, poison string
	// keyEnv names the environment variable holding the storage account
	// key; without it the queue is read with the scanning credential.
	keyEnv string
	// visibility is how long a received message stays hidden (default 60 s).
	visibility time.Duration
}

// checkProviders refuses queues of a cloud that is not scanned: their
// events would name resources nothing collects.
func (c serveConfig) checkProviders(file string, providers map[vigil.Provider]bool) error {
	if len(c.queues) > 0 && !providers[vigil.AWS] {
		return vigil.Errorf(vigil.EINVALID, "%s: watch.aws needs AWS to be scanned (--provider aws or aws,azure)", file)
	}
	if len(c.azureQueues) > 0 && !providers[vigil.Azure] {
		return vigil.Errorf(vigil.EINVALID, "%s: watch.azure needs Azure to be scanned (--provider azure or aws,azure)", file)
	}
	return nil
}

const defaultListen = "127.0.0.1:8080"

var (
	channelNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)
	envNamePattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sqsURLPattern      = regexp.MustCompile(`^https?://[^/]+/\d{12}/[\w-]{1,80}(\.fifo)?$`)
)

func (p *configParser) serve(n *yaml.Node) {
	p.Fields(n, "serve", map[string]func(*yaml.Node){
		"listen": func(v *yaml.Node) {
			if s, ok := p.Str(v, "serve.listen"); ok {
				if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
					p.Bad(v, "serve.listen %q: want host:port, e.g. 127.0.0.1:8080 (or :8080 for every interface)", s)
				}
				p.cfg.serve.listen = s
			}
		},
	})
}

func (p *configParser) schedules(n *yaml.Node) {
	names := map[string]bool{}
	// A bare key (every entry commented out) is null: no schedules.
	p.Items(n, "schedules must be a list, e.g. - {name: nightly, cron: \"0 3 * * *\"}", func(i int, sn *yaml.Node) {
		// Numbered from 1, as autofix and alert rules are.
		sec := "schedules[" + itoa(i) + "]"
		var s river.Schedule
		var every, cronNode, nameNode *yaml.Node
		p.Fields(sn, sec, map[string]func(*yaml.Node){
			"name": func(v *yaml.Node) { s.Name, _ = p.Str(v, sec+".name"); nameNode = v },
			"cron": func(v *yaml.Node) {
				cronNode = v
				if str, ok := p.Str(v, sec+".cron"); ok {
					sched, err := cron.ParseStandard(str)
					if err != nil {
						p.Bad(v, "%s.cron %q: %v (want five fields: minute hour day-of-month month day-of-week, or @daily, @every 6h)", sec, str, err)
						return
					}
					// @every takes seconds; the every key's floor holds here too.
					if cd, ok := sched.(cron.ConstantDelaySchedule); ok && cd.Delay < time.Minute {
						p.Bad(v, "%s.cron %q: scans run at most once a minute", sec, str)
						return
					}
					s.Every = sched
				}
			},
			"every": func(v *yaml.Node) {
				every = v
				if d, ok := p.Duration(v, sec+".every"); ok {
					if d < time.Minute {
						p.Bad(v, "%s.every %s: scans run at most once a minute", sec, v.Value)
						return
					}
					s.Every = river.Interval(d)
				}
			},
			"accounts": func(v *yaml.Node) {
				list, ok := p.StrList(v, sec+".accounts")
				if !ok {
					return
				}
				for j, a := range list {
					if !isCloudAccount(a) {
						p.Bad(v.Content[j], "%s.accounts: %q "+notAccount, sec, a)
					}
					list[j] = strings.ToLower(a)
				}
				s.Accounts = list
			},
		})
		if sn.Kind != yaml.MappingNode {
			return
		}
		switch {
		case nameNode == nil:
			p.Bad(sn, "%s needs a name", sec)
		case strings.TrimSpace(s.Name) == "" && nameNode.Kind == yaml.ScalarNode && nameNode.Tag != "!!null":
			p.Bad(nameNode, "%s.name must not be empty", sec)
		case names[s.Name]:
			p.Bad(sn, "%s: the name %q is used twice", sec, s.Name)
		}
		names[s.Name] = true
		switch {
		case every != nil && cronNode != nil:
			p.Bad(sn, "%s: set cron or every, not both", sec)
		case every == nil && cronNode == nil:
			p.Bad(sn, "%s needs cron (\"0 3 * * *\") or every (6h)", sec)
		}
		if s.Every != nil {
			p.cfg.serve.schedules = append(p.cfg.serve.schedules, s)
		}
	})
}

func (p *configParser) watch(n *yaml.Node) {
	p.Fields(n, "watch", map[string]func(*yaml.Node){
		"aws": func(v *yaml.Node) {
			seen := map[string]bool{}
			p.Items(v, "watch.aws must be a list of queues, e.g. - {queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/vigil-events}", func(i int, qn *yaml.Node) {
				sec := "watch.aws[" + itoa(i) + "]"
				var q queueConfig
				p.Fields(qn, sec, map[string]func(*yaml.Node){
					"queue_url":       func(v *yaml.Node) { q.url = p.queueURL(v, sec+".queue_url") },
					"dead_letter_url": func(v *yaml.Node) { q.deadLetterURL = p.queueURL(v, sec+".dead_letter_url") },
					"account": func(v *yaml.Node) {
						if s, ok := p.Str(v, sec+".account"); ok {
							if !isAccountID(s) {
								p.Bad(v, "%s.account %q is not a 12-digit AWS account id", sec, s)
							}
							q.account = s
						}
					},
					"wait_time": func(v *yaml.Node) {
						if d, ok := p.Duration(v, sec+".wait_time"); ok {
							if d < time.Second || d > 20*time.Second || d%time.Second != 0 {
								p.Bad(v, "%s.wait_time %s: want whole seconds from 1s to 20s (SQS's long poll)", sec, v.Value)
							}
							q.waitTime = d
						}
					},
					"visibility_timeout": func(v *yaml.Node) {
						if d, ok := p.Duration(v, sec+".visibility_timeout"); ok {
							if d < time.Second || d > 12*time.Hour || d%time.Second != 0 {
								p.Bad(v, "%s.visibility_timeout %s: want whole seconds from 1s to 12h", sec, v.Value)
							}
							q.visibility = d
						}
					},
				})
				if qn.Kind == yaml.MappingNode && !yamlconf.HasKey(qn, "queue_url") {
					p.Bad(qn, "%s needs queue_url", sec)
				}
				if q.url == "" {
					return
				}
				// Two watchers on one queue would race for its messages.
				if seen[q.url] {
					p.Bad(yamlconf.ValueOf(qn, "queue_url"), "%s: the queue %s is watched twice", sec, q.url)
					return
				}
				seen[q.url] = true
				p.cfg.serve.queues = append(p.cfg.serve.queues, q)
			})
		},
		"azure": p.azureQueues,
	})
}

// azureQueues parses watch.azure.
func (p *configParser) azureQueues(v *yaml.Node) {
	seen := map[string]bool{}
	p.Items(v, "watch.azure must be a list of queues, e.g. - {queue_service_url: https://vigilevents.queue.core.windows.net, queue: vigil-events}", func(i int, qn *yaml.Node) {
		sec := "watch.azure[" + itoa(i) + "]"
		var q azureQueueConfig
		name := func(key string, dst *string) func(*yaml.Node) {
			return func(v *yaml.Node) {
				if s, ok := p.Str(v, sec+"."+key); ok {
					if !storageQueuePattern.MatchString(s) {
						p.Bad(v, "%s.%s %q: a queue name is 3 to 63 lower-case letters, digits and single hyphens", sec, key, s)
					}
					*dst = s
				}
			}
		}
		p.Fields(qn, sec, map[string]func(*yaml.Node){
			"queue_service_url": func(v *yaml.Node) {
				if s, ok := p.Str(v, sec+".queue_service_url"); ok {
					u, err := url.Parse(s)
					switch {
					case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
						p.Bad(v, "%s.queue_service_url %q: want https://ACCOUNT.queue.core.windows.net", sec, s)
					case u.RawQuery != "":
						p.Bad(v, "%s.queue_service_url: no query string (a SAS token is a secret; use account_key_env or the scanning identity)", sec)
					case u.Scheme == "http" && !localsrv.IsLoopback(u.Hostname()):
						p.Bad(v, "%s.queue_service_url %q: plain http is allowed only to a loopback host (Azurite)", sec, s)
					}
					q.serviceURL = s
				}
			},
			"queue":        name("queue", &q.queue),
			"poison_queue": name("poison_queue", &q.poison),
			"account_key_env": func(v *yaml.Node) {
				if s, ok := p.Str(v, sec+".account_key_env"); ok {
					if !envNamePattern.MatchString(s) {
						p.Bad(v, "%s.account_key_env %q is not an environment variable name", sec, s)
					}
					q.keyEnv = s
				}
			},
			"account_key": func(v *yaml.Node) {
				p.Bad(v, "%s.account_key: keys are not read from the config file; set account_key_env to the name of an environment variable holding it", sec)
			},
			"visibility_timeout": func(v *yaml.Node) {
				if d, ok := p.Duration(v, sec+".visibility_timeout"); ok {
					if d < time.Second || d > 7*24*time.Hour || d%time.Second != 0 {
						p.Bad(v, "%s.visibility_timeout %s: want whole seconds from 1s to 7 days", sec, v.Value)
					}
					q.visibility = d
				}
			},
		})
		if qn.Kind != yaml.MappingNode {
			return
		}
		for _, key := range []string{"queue_service_url", "queue"} {
			if !yamlconf.HasKey(qn, key) {
				p.Bad(qn, "%s needs %s", sec, key)
			}
		}
		if q.serviceURL == "" || q.queue == "" {
			return
		}
		id := strings.TrimRight(q.serviceURL, "/") + "/" + q.queue
		if seen[id] {
			p.Bad(yamlconf.ValueOf(qn, "queue"), "%s: the queue %s is watched twice", sec, id)
			return
		}
		seen[id] = true
		p.cfg.serve.azureQueues = append(p.cfg.serve.azureQueues, q)
	})
}

// storageQueuePattern is Azure's rule for queue names.
var storageQueuePattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)

func (p *configParser) queueURL(v *yaml.Node, key string) string {
	s, ok := p.Str(v, key)
	if !ok {
		return ""
	}
	if !sqsURLPattern.MatchString(s) {
		p.Bad(v, "%s %q: want an SQS queue URL, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME", key, s)
		return ""
	}
	return s
}

// channelTypes are the channel types and the keys each takes besides type.
var channelTypes = map[string][]string{
	"email":     {"server", "tls", "username", "password_env", "password", "from", "to", "timeout"},
	"slack":     {"url_env", "timeout"},
	"teams":     {"url_env", "timeout"},
	"webhook":   {"url", "url_env", "secret_env", "headers", "timeout"},
	"pagerduty": {"routing_key_env", "url", "timeout"},
}

func (p *configParser) channels(n *yaml.Node) {
	if yamlconf.IsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.Bad(n, "channels must be a mapping of channel names to channels, e.g. ops: {type: slack, url_env: SLACK_WEBHOOK_URL}")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		switch {
		case !channelNamePattern.MatchString(name):
			p.Bad(k, "channel name %q: use letters, digits, '-', '_' and '.' (at most 64)", name)
			continue
		case seen[name]:
			p.Bad(k, "channels.%s is set twice", name)
			continue
		}
		seen[name] = true
		if c, ok := p.channel(v, name); ok {
			p.cfg.serve.channels = append(p.cfg.serve.channels, c)
		}
	}
}

func (p *configParser) channel(n *yaml.Node, name string) (notify.Config, bool) {
	sec := "channels." + name
	c := notify.Config{Name: name}
	if n.Kind != yaml.MappingNode {
		p.Bad(n, "%s must be a mapping with a type (email, slack, teams, webhook, pagerduty)", sec)
		return c, false
	}
	tn := yamlconf.ValueOf(n, "type")
	if tn == nil {
		p.Bad(n, "%s needs a type (email, slack, teams, webhook, pagerduty)", sec)
		return c, false
	}
	keys, ok := channelTypes[tn.Value]
	if !ok {
		p.Bad(tn, "%s.type %q: want email, slack, teams, webhook or pagerduty", sec, tn.Value)
		return c, false
	}
	c.Type = tn.Value
	before := len(p.Problems)
	if c.Type == "email" {
		// The email keys are those of notify.email, plus type and timeout.
		rest := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
		timeoutSeen := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case k.Value == "type":
			case k.Value == "timeout" && timeoutSeen:
				p.Bad(k, "%s.timeout is set twice", sec)
			case k.Value == "timeout":
				timeoutSeen = true
				c.Timeout, _ = p.Duration(v, sec+".timeout")
			default:
				rest.Content = append(rest.Content, k, v)
			}
		}
		c.Email = p.emailConfig(rest, sec)
		return c, len(p.Problems) == before
	}
	handlers := map[string]func(*yaml.Node){"type": func(*yaml.Node) {}}
	secret := func(key string, into *string) func(*yaml.Node) {
		return func(v *yaml.Node) {
			if s, ok := p.Str(v, sec+"."+key); ok {
				*into = p.fromEnv(v, sec+"."+key, s)
			}
		}
	}
	for _, k := range keys {
		switch k {
		case "url_env":
			handlers[k] = secret(k, &c.URL)
		case "secret_env":
			handlers[k] = secret(k, &c.Secret)
		case "routing_key_env":
			handlers[k] = secret(k, &c.RoutingKey)
		case "url":
			handlers[k] = func(v *yaml.Node) {
				if s, ok := p.Str(v, sec+".url"); ok {
					// The value is not echoed: a URL may carry a token.
					if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
						p.Bad(v, "%s.url: want an http(s) URL such as https://alerts.example.com/vigil (value hidden: it may hold a secret)", sec)
					}
					c.URL = s
				}
			}
		case "headers":
			handlers[k] = func(v *yaml.Node) { c.Headers, _ = p.StrMap(v, sec+".headers") }
		case "timeout":
			handlers[k] = func(v *yaml.Node) { c.Timeout, _ = p.Duration(v, sec+".timeout") }
		}
	}
	p.Fields(n, sec, handlers)
	need := map[string]string{"slack": "url_env", "teams": "url_env", "pagerduty": "routing_key_env"}
	if k, ok := need[c.Type]; ok && !yamlconf.HasKey(n, k) {
		p.Bad(n, "%s needs %s, the environment variable holding the %s", sec, k, map[string]string{
			"url_env": "webhook URL (a secret)", "routing_key_env": "integration routing key"}[k])
	}
	if c.Type == "webhook" {
		switch u, e := yamlconf.ValueOf(n, "url"), yamlconf.ValueOf(n, "url_env"); {
		case u == nil && e == nil:
			p.Bad(n, "%s needs url (or url_env)", sec)
		case u != nil && e != nil:
			p.Bad(e, "%s: set url or url_env, not both", sec)
		}
	}
	if c.Type == "webhook" && !yamlconf.HasKey(n, "secret_env") {
		p.Bad(n, "%s needs secret_env: webhooks are signed (HMAC-SHA256) so that the receiver can trust them", sec)
	}
	if len(p.Problems) > before {
		return c, false
	}
	if !p.serving {
		// Without its secrets a channel cannot be built; serve checks it.
		return c, true
	}
	if _, err := notify.New(c, notify.Options{}); err != nil {
		p.Bad(n, "%s: %v", sec, err)
		return c, false
	}
	return c, true
}

// fromEnv reads the secret in the environment variable a config key names.
func (p *configParser) fromEnv(v *yaml.Node, key, name string) string {
	if !envNamePattern.MatchString(name) {
		// Not echoed: the usual mistake is pasting the secret itself here.
		p.Bad(v, "%s: want the name of an environment variable that holds the secret, e.g. SLACK_WEBHOOK_URL (value hidden: it may be the secret itself)", key)
		return ""
	}
	if !p.serving {
		return ""
	}
	s := os.Getenv(name)
	if strings.TrimSpace(s) == "" {
		p.Bad(v, "%s: the environment variable %s is not set", key, name)
	}
	return s
}

// alerts parses the alert rules once every other section is read, so that
// rules can name channels defined after them.
func (p *configParser) alerts() {
	n := p.cfg.serve.alertsNode
	if n == nil {
		return
	}
	names := map[string]bool{}
	for _, c := range p.cfg.serve.channels {
		names[c.Name] = true
	}
	// A channel with a problem is reported already; rules naming it are
	// not reported again as naming an unknown channel.
	for i := 0; i+1 < len(p.channelNodes()); i += 2 {
		names[p.channelNodes()[i].Value] = true
	}
	rules, probs := alert.Parse(n, p.File, alert.Env{Channels: names, Checks: p.checks, Source: p.src})
	p.Problems = append(p.Problems, probs...)
	p.cfg.serve.rules = rules
}

func (p *configParser) channelNodes() []*yaml.Node {
	if p.channelsNode == nil || p.channelsNode.Kind != yaml.MappingNode {
		return nil
	}
	return p.channelsNode.Content
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
