// Command taskbolt is the task API of Better Auth todo apps as one binary over
// one bbolt file. main only wires: config → store → verifiers → api → listen →
// shutdown. Everything else lives in api/, auth/ and store/.
//
// Package main is split by job: this file has main, run and the command
// table; config.go the settings; stores.go and verifiers.go the registries
// (add a store or a verifier there); serve.go the server; one file per group
// of commands (token.go, backup.go, transfer.go, healthcheck.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if name, _ := commandOf(os.Args[1:]); name == "serve" {
		collectLessOften()
	}
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var quiet quietError
		if !errors.As(err, &quiet) {
			fmt.Fprintln(os.Stderr, "taskbolt:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ error }

// quietError fails with exit status 1 and prints nothing more (the command
// has already said what it had to, or was asked to be quiet).
type quietError struct{ error }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// commandFunc is one subcommand. It gets the arguments after its name.
type commandFunc func(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error

// commands are the subcommands, by name; docs (below) says what each does.
var commands = map[string]commandFunc{
	"serve":       serve,
	"token":       token,
	"backup":      backup,
	"restore":     restore,
	"compact":     compact,
	"export":      export,
	"import":      importCmd,
	"healthcheck": healthcheck,
	"check":       check,
	"version": func(_ context.Context, args, _ []string, stdout, stderr io.Writer) error {
		if _, err := parse(flags("version", stderr), args); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "taskbolt", version)
		return nil
	},
}

// doc is what a command's --help and the overview say about it.
type doc struct {
	name     string
	synopsis string // after "taskbolt "
	summary  string // one line for the overview
	about    string // what it does, for --help
	example  string // one or more command lines
}

// docs lists the commands in the order the overview shows them.
var docs = []doc{
	{"serve", "[serve] [flags]", "run the server (the default command)",
		"Serves the task API on HOST:PORT over the database DATABASE_URL names, verifying Better Auth\n" +
			"tokens with the verifiers the configuration turns on. SIGINT or SIGTERM stops it cleanly:\n" +
			"requests in flight finish, then the database is closed.",
		"taskbolt serve --dev                                  # local trial: makes a development secret\n" +
			"taskbolt serve --ephemeral --port 0 --ready-file url  # a throwaway test fixture"},
	{"token", "token --sub USER [--ttl 1h] [--claim key=value]...", "print a token for USER, signed with BETTER_AUTH_SECRET",
		"Prints an HS256 token for USER signed with BETTER_AUTH_SECRET, as Better Auth's HS256 sign\n" +
			"hook would make it: for curl, scripts and test fixtures.",
		`curl -H "Authorization: Bearer $(taskbolt token --sub alice)" http://127.0.0.1:8000/api/alice/tasks`},
	{"backup", "backup FILE [--url URL]", "write a consistent snapshot of the database to FILE (hot, while serving)",
		"Writes a consistent snapshot of the database to FILE. When no server holds the database it is\n" +
			"read directly; when one does, the snapshot streams from that server's /admin/backup (set\n" +
			"ADMIN_TOKEN to the server's). What arrives is checked to be a whole, consistent database\n" +
			"before it replaces FILE; otherwise FILE is left as it was.",
		"ADMIN_TOKEN=... taskbolt backup backups/taskbolt-$(date +%F).db"},
	{"restore", "restore FILE [--force]", "replace the database with a backup (server stopped)",
		"Replaces the database DATABASE_URL names with the backup FILE, after checking that FILE is a\n" +
			"whole, consistent taskbolt database. Stop the server first; an existing database is\n" +
			"replaced only with --force.",
		"taskbolt restore --force backups/taskbolt-2026-12-01.db"},
	{"compact", "compact [--out FILE] [--url URL]", "rewrite the database into a fresh, dense file and give freed space back",
		"bbolt never gives freed pages back to the file system. compact rewrites the database into a\n" +
			"fresh file, checks that it is a whole, consistent database, and only then replaces the\n" +
			"database (or writes --out FILE), reporting the sizes before and after. Stop the server first;\n" +
			"while one runs, --out FILE compacts its snapshot (from /admin/backup, with ADMIN_TOKEN) into\n" +
			"FILE, for `taskbolt restore --force FILE` once it is stopped. A file of an older schema is\n" +
			"migrated on the way.",
		"taskbolt compact\n" +
			"ADMIN_TOKEN=... taskbolt compact --out compacted.db   # while serving"},
	{"export", "export [--user USER] [--out FILE] [--url URL]", "print every task (or USER's) as JSON",
		"Prints every task of every user (or only USER's) as one JSON document, ids and timestamps\n" +
			"included, for `taskbolt import` into another taskbolt. Reads the database directly, or\n" +
			"streams it from the running server's /admin/export when a server holds it (set ADMIN_TOKEN\n" +
			"to the server's). On a terminal it shows a running count on stderr.",
		"taskbolt export --out tasks.json\n" +
			"taskbolt export --user alice | jq '.users[0].tasks | length'"},
	{"import", "import FILE | --from postgres://… [--table task] [--url URL]", "load an export, a seed file, or a FastAPI backend's tasks (idempotent; keeps ids and timestamps)",
		"Loads an export or a seed file (see README), or, with --from, the task table of a Phase II\n" +
			"FastAPI/SQLModel backend's PostgreSQL (id, user_id, title, description, completed,\n" +
			"created_at, updated_at; naive timestamps are UTC). Tasks keep their ids and timestamps, so\n" +
			"importing twice changes nothing; seed tasks without ids get new ones. Nothing is loaded\n" +
			"from a source with problems: each is reported with where it is. Writes the database that\n" +
			"DATABASE_URL names directly (bolt or PostgreSQL), or through the running server's\n" +
			"/admin/import when a server holds the bolt file (set ADMIN_TOKEN to the server's). On a\n" +
			"terminal it shows a running count on stderr.",
		"taskbolt import tasks.json\n" +
			"taskbolt import --from 'postgres://app:pw@db.example.com/todo?sslmode=require'"},
	{"healthcheck", "healthcheck [URL] [--timeout 3s] [--quiet]", "exit 0 when the server answers /healthz (for container HEALTHCHECK)",
		"Exits 0 when the server answers 200 on /healthz, else 1 with one line on stderr saying what\n" +
			"was tried and what came back (--quiet: nothing). URL defaults to this host's HOST:PORT; a\n" +
			"URL without a path means that server's /healthz. For images that have no curl.",
		"taskbolt healthcheck http://127.0.0.1:8000"},
	{"check", "check", "verify that the database's indexes and counts agree with its tasks",
		"Reads the whole database DATABASE_URL names (stop the server first), read-only, and checks\n" +
			"that every index and count agrees with the tasks and that the file passes bbolt's\n" +
			"consistency check. Exits 1, saying what disagrees, when it does not. An older file must be\n" +
			"migrated first: start taskbolt on it once.",
		"taskbolt check"},
	{"version", "version", "print the version", "Prints the version this binary was built from.", "taskbolt version"},
}

func docOf(name string) doc {
	for _, d := range docs {
		if d.name == name {
			return d
		}
	}
	return doc{name: name, synopsis: name}
}

// usage is the overview that `taskbolt help` prints.
func usage() string {
	var b strings.Builder
	b.WriteString("taskbolt — the Better Auth todo API as one binary and one data file.\n\nUsage:\n")
	for _, d := range docs {
		fmt.Fprintf(&b, "  taskbolt %-46s %s\n", d.synopsis, d.summary)
	}
	b.WriteString("\nRun \"taskbolt COMMAND --help\" for what a command does and its flags. Configuration comes\n" +
		"from the environment and ./.env (the environment wins; flags win over both); see README.md\nfor every setting.\n")
	return b.String()
}

// commandOf splits a command line into the command's name (serve when it
// starts with a flag or is empty) and its arguments.
func commandOf(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "serve", args
}

// run is the whole program; main and the end-to-end tests call it.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	// `taskbolt --help` is a first-time user asking what taskbolt does: the
	// overview, as `taskbolt help`. `taskbolt serve --help` lists serve's flags.
	if len(args) == 1 && slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		args = []string{"help"}
	}
	name, args := commandOf(args)
	if name == "help" {
		fmt.Fprint(stdout, usage())
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprint(stderr, usage())
		return usageError{fmt.Errorf("unknown command %q", name)}
	}
	err := cmd(ctx, args, environ, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // --help printed the command's usage
	}
	return err
}

// flags returns the flag set of a command; its --help says what the command
// does, shows an example and lists the flags.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		d := docOf(name)
		fmt.Fprintf(stderr, "Usage: taskbolt %s\n\n%s\n", d.synopsis, d.about)
		if d.example != "" {
			fmt.Fprintf(stderr, "\nExample:\n  %s\n", strings.ReplaceAll(d.example, "\n", "\n  "))
		}
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args, keeping flag.ErrHelp recognisable and other mistakes
// usage errors. Flags may come before or after the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// oneFileArg parses the arguments of a command that takes exactly one FILE,
// and loads the configuration.
func oneFileArg(fs *flag.FlagSet, args, environ []string, what string) (string, config, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", config{}, err
	}
	if len(pos) != 1 {
		return "", config{}, usageError{fmt.Errorf("%s: name one %s", fs.Name(), what)}
	}
	cfg, _, err := loadConfig(environ)
	return pos[0], cfg, err
}
