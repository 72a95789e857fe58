// Command benchmark writes the same rows into one database with each way
// of bulk-creating them: GORM's own Create and CreateInBatches, the gormbulk
// plugin, and the raw driver's fastest paths as the ceiling. It prints a
// table of rows/s, time and memory per method and, with -chart, draws a
// bar chart. -scenario upsert writes rows of which half exist under an ON
// CONFLICT clause, -scenario associations users with two orders each; both
// against GORM's CreateInBatches(1000) and a hand-written ceiling that
// leaves GORM's rows and keys.
//
//	go run ./examples/benchmark                     # SQLite in a temp dir
//	go run ./examples/benchmark -dialect postgres -rows 1000000
//	go run ./examples/benchmark -dialect mysql -md -chart benchmark-<dialect>.png
//	go run ./examples/benchmark -dialect postgres -scenario associations -rows 40000
//
// The DSN defaults to the environment variables the tests read
// (GORMBULK_SQLITE_DSN, GORMBULK_POSTGRES_DSN, GORMBULK_MYSQL_DSN), then to
// the local servers. Each run starts from an emptied table; every run's row
// count, and the IDs of methods that read them back, are checked.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
)

// options are the command-line flags.
type options struct {
	dialect, dsn string
	scenario     string
	rows, reps   int
	json, md     bool
	chart        string
}

func main() {
	var o options
	flag.StringVar(&o.dialect, "dialect", "sqlite", "database: sqlite, postgres or mysql")
	flag.StringVar(&o.dsn, "dsn", "", "data source name (default: $GORMBULK_<DIALECT>_DSN, then the local server; SQLite: a file in a temp dir)")
	flag.StringVar(&o.scenario, "scenario", "create", "what to write: create (new rows), upsert (rows of which half exist) or associations (users with two orders each)")
	flag.IntVar(&o.rows, "rows", 100_000, "rows each method writes (users, for associations)")
	flag.IntVar(&o.reps, "reps", 3, "runs per method; the median is reported")
	flag.BoolVar(&o.json, "json", false, "print the results as JSON")
	flag.BoolVar(&o.md, "md", false, "print the results as a Markdown table")
	flag.StringVar(&o.chart, "chart", "", `bar chart of rows/s to write, as .png or .svg ("<dialect>" is replaced; none unless given); PNG draws its text with the font it measured, SVG with the viewer's`)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmark:", err)
		os.Exit(1)
	}
}

// run opens the database, runs every method that applies to it, and
// reports the results.
func run(ctx context.Context, o options) error {
	switch {
	case o.rows < 1:
		return fmt.Errorf("-rows must be at least 1, got %d", o.rows)
	case o.reps < 1:
		return fmt.Errorf("-reps must be at least 1, got %d", o.reps)
	case o.json && o.md:
		return fmt.Errorf("-json and -md exclude each other")
	}
	b, cleanup, err := open(ctx, o.dialect, o.dsn)
	if err != nil {
		return err
	}
	defer cleanup()

	return runNamed(ctx, b, o)
}

// runScenario creates the scenario's tables, runs every method that
// applies to the database, reports the results and drops the tables.
func runScenario[T any](ctx context.Context, b *bench, o options, sc scenario[T]) error {
	if err := b.recreate(sc.models...); err != nil {
		return fmt.Errorf("prepare %s: %w", b.dialect, err)
	}
	defer b.db.Migrator().DropTable(sc.models...)

	// Plan first, so the progress bar knows the total.
	type step struct {
		m    method[T]
		rows int
		skip string
	}
	var plan []step
	total := 0
	for _, m := range sc.methods {
		if !m.appliesTo(b.dialect) {
			continue
		}
		s := step{m: m, rows: m.rowsFor(o.rows)}
		if m.skip != nil {
			s.skip = m.skip(b, s.rows)
		}
		if s.skip == "" {
			total += s.rows * o.reps
		}
		plan = append(plan, s)
	}

	template := sc.make(o.rows)
	bar := newProgress(total)
	// Each rep runs every method once, so the drift of a shared machine
	// over the run falls on all methods alike, and each rep starts one
	// method further on, so that no method always follows the same one
	// (the server may still be busy with what the last run left behind).
	runs := make([][]measurement, len(plan))
	for rep := 1; rep <= o.reps; rep++ {
		for k := range plan {
			i := (k + rep - 1) % len(plan)
			s := plan[i]
			if s.skip != "" {
				continue
			}
			bar.Describe(fmt.Sprintf("%-32s %d/%d", s.m.name, rep, o.reps))
			r, err := runOnce(ctx, b, sc, s.m, template[:s.rows])
			if err != nil {
				bar.Exit()
				return fmt.Errorf("%s, run %d: %w", s.m.name, rep, err)
			}
			runs[i] = append(runs[i], r)
			bar.Add(s.rows)
		}
	}
	var results []result
	for i, s := range plan {
		if s.skip != "" {
			results = append(results, result{Method: s.m.name, Skipped: s.skip})
			continue
		}
		results = append(results, summarize(s.m, o.rows, runs[i]))
	}
	bar.Finish()

	rep := newReport(b, o, sc.rows, results)
	var err error
	switch {
	case o.json:
		err = rep.writeJSON(os.Stdout)
	case o.md:
		err = rep.writeMarkdown(os.Stdout)
	default:
		err = rep.writeText(os.Stdout)
	}
	if err != nil || o.chart == "" {
		return err
	}
	path := strings.ReplaceAll(o.chart, "<dialect>", b.dialect)
	if err := writeChart(path, rep); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	fmt.Fprintln(os.Stderr, "chart written to", path)
	return nil
}
