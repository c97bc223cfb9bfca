// Command vigil scans cloud accounts for misconfigurations, keeps their
// inventory and configuration history, and reports findings.
//
// This file and its siblings are the only place where implementations
// (AWS collector, SQLite store, checks) are wired together.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
	"github.com/vigilsec/vigil/sqlite"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code: 0 success, 1
// error, 2 usage error, 3 findings at or above --fail-on.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runApp(ctx, &app{stdout: stdout, stderr: stderr}, args)
}

// runApp is run with an app whose fields the caller set (tests: an
// emulated Azure estate).
func runApp(ctx context.Context, app *app, args []string) int {
	stdout, stderr := app.stdout, app.stderr
	root := app.root()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "vigil:", oneLine(ee.err))
		}
		return ee.code
	}
	if strings.HasPrefix(err.Error(), "unknown command") {
		first, _, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintln(stderr, "vigil:", first+"; see vigil --help")
		return 2
	}
	fmt.Fprintln(stderr, "vigil:", oneLine(err))
	if vigil.ErrorCode(err) == vigil.EINVALID {
		return 2
	}
	return 1
}

// oneLine keeps single-line errors on one line and indents multi-line ones
// (such as a list of check problems) under the first.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "\n  ")
}

// app holds what every command shares.
type app struct {
	stdout, stderr io.Writer
	dbPath         string
	logLevel       string
	checkDirs      []string
	// configPath is the --config file (remediation, notify, autofix, and
	// serve's sections); "" configures none of them.
	configPath string
	// azureCredential and azureTransport replace the Azure SDK's credential
	// and HTTP transport: the demo's emulated estate (nil: the real ones).
	azureCredential azcore.TokenCredential
	azureTransport  azpolicy.Transporter
	// azureFixCredential replaces the remediation.azure credential (tests
	// and the demo; nil: the one the config names).
	azureFixCredential azcore.TokenCredential
	// serving is set by `vigil serve`: only the daemon reads the alert
	// channels' secrets, so that `vigil scan` does not need them.
	serving bool
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "vigil",
		Short: "Vigil keeps watch over your cloud accounts",
		Long: "Vigil inventories your AWS accounts and Azure subscriptions, keeps every resource's configuration history,\n" +
			"checks it against security best practices and compliance frameworks, and reports findings.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	// Flag and argument mistakes are usage errors: exit 2.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &vigil.Error{Code: vigil.EINVALID, Err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.dbPath, "db", envOr("VIGIL_DB", sqlite.DefaultPath()), "SQLite database file (env VIGIL_DB)")
	pf.StringVar(&a.logLevel, "log-level", envOr("VIGIL_LOG_LEVEL", "warn"), "log level: debug, info, warn, error")
	pf.StringVar(&a.configPath, "config", os.Getenv("VIGIL_CONFIG"), "YAML config file: remediation credentials, email, Always Fix rules, and for serve schedules, queues, channels and alerts (env VIGIL_CONFIG; see docs/config.md)")
	root.AddCommand(a.scanCmd(), a.checksCmd(), a.inventoryCmd(), a.historyCmd(), a.iamCmd(), a.demoCmd(), a.serveCmd(), a.notificationsCmd(), a.versionCmd(),
		a.fixCmd(), a.fixesCmd())
	root.AddCommand(a.changesCmd())
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (a *app) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: a.level()}))
}

func (a *app) level() slog.Level {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
		lvl = slog.LevelWarn
	}
	return lvl
}

// libraryLogger is for the libraries' own logs (River's): warnings and
// errors only, unless --log-level debug asks for everything.
func (a *app) libraryLogger() *slog.Logger {
	lvl := a.level()
	if lvl > slog.LevelDebug {
		lvl = max(lvl, slog.LevelWarn)
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl})).With("component", "river")
}

// loadChecks loads the built-in checks plus those of --checks-dir.
func (a *app) loadChecks() (*policy.Set, error) {
	sources := []policy.Source{builtin.Source()}
	for _, d := range a.checkDirs {
		st, err := os.Stat(d)
		if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "checks dir: %v", err)
		}
		if !st.IsDir() {
			return nil, vigil.Errorf(vigil.EINVALID, "checks dir %s is not a directory", d)
		}
		sources = append(sources, policy.Dir(d))
	}
	set, err := policy.Load(sources...)
	if err != nil {
		return nil, &vigil.Error{Code: vigil.EINVALID, Message: "invalid checks", Err: err}
	}
	return set, nil
}

// openStore opens the database; only commands that need it call this, and
// only after their input has been validated, so a rejected command leaves
// no database behind.
func (a *app) openStore(ctx context.Context) (*sqlite.Store, error) {
	return a.open(ctx, true)
}

// openExisting opens the database for reading commands, which must not
// create an empty one where the user mistyped --db.
func (a *app) openExisting(ctx context.Context) (*sqlite.Store, error) {
	return a.open(ctx, false)
}

func (a *app) open(ctx context.Context, create bool) (*sqlite.Store, error) {
	if !create {
		if _, err := os.Stat(a.dbPath); errors.Is(err, os.ErrNotExist) {
			return nil, vigil.Errorf(vigil.ENOTFOUND, "no database at %s (run `vigil scan` first, or pass --db)", a.dbPath)
		}
	}
	s, err := sqlite.Open(ctx, a.dbPath)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", a.dbPath, err)
	}
	return s, nil
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Vigil's version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(a.stdout, "vigil", version)
			return nil
		},
	}
}

// usageArgs marks an argument-count error as a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &vigil.Error{Code: vigil.EINVALID, Err: err}
		}
		return nil
	}
}

// splitList splits comma-separated flag values, dropping empty items.
func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
