// Command csvimport streams a CSV file into a table with bulk.Stream2, in
// constant memory, with a progress bar (rows, rows/s, ETA) on the
// terminal. Without -file it imports a CSV of -rows rows (1,000,000) that
// it writes first, kept with the SQLite file in $TMPDIR/gormbulk-csvimport.
//
//	go run ./examples/csvimport
//	go run ./examples/csvimport -dialect postgres -dsn "host=127.0.0.1 user=postgres dbname=test"
//	go run ./examples/csvimport -dialect mysql -dsn "root:@tcp(127.0.0.1:3306)/test?parseTime=true"
//
// With -commit-chunks each chunk commits on its own: interrupt the load
// (Ctrl-C) and it prints the resume point, the rows committed; run it again
// with -skip set to that number to load the rest.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// Person is one line of the CSV: email,name,age,score,active.
type Person struct {
	ID        uint   `gorm:"primaryKey"`
	Email     string `gorm:"size:191;uniqueIndex"`
	Name      string `gorm:"size:100"`
	Age       int
	Score     float64
	Active    bool
	CreatedAt time.Time
}

func main() {
	var (
		file    = flag.String("file", "", "CSV file to import (email,name,age,score,active with a header line); empty: generate one")
		rows    = flag.Int("rows", 1_000_000, "rows of the generated CSV")
		dialect = flag.String("dialect", "sqlite", "sqlite, postgres or mysql")
		dsn     = flag.String("dsn", "", "the database's DSN; for sqlite, empty is a file in a temporary directory")
		commit  = flag.Bool("commit-chunks", false, "commit each chunk on its own, and print the resume point when the load stops")
		skip    = flag.Int64("skip", 0, "rows of the CSV to skip: the resume point of an interrupted load")
		keep    = flag.Bool("keep", false, "keep the table's rows from earlier runs (implied by -skip)")
	)
	flag.Parse()
	if err := run(*file, *rows, *dialect, *dsn, *commit, *skip, *keep || *skip > 0); err != nil {
		fmt.Fprintln(os.Stderr, "csvimport:", err)
		os.Exit(1)
	}
}

func run(file string, n int, dialect, dsn string, commit bool, skip int64, keep bool) error {
	// The generated CSV and the SQLite file stay in one directory across
	// runs, so that an interrupted load can be resumed.
	dir := filepath.Join(os.TempDir(), "gormbulk-csvimport")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if file == "" {
		file = filepath.Join(dir, fmt.Sprintf("people-%d.csv", n))
		if _, err := os.Stat(file); err != nil {
			fmt.Fprintf(os.Stderr, "writing %d rows to %s\n", n, file)
			if err := writeCSV(file, n); err != nil {
				return err
			}
		}
	}
	db, err := open(dialect, dsn, dir)
	if err != nil {
		return err
	}
	if err := db.Use(bulk.New()); err != nil {
		return err
	}
	if !keep {
		if err := db.Migrator().DropTable(&Person{}); err != nil {
			return err
		}
	}
	if err := db.AutoMigrate(&Person{}); err != nil {
		return err
	}

	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	read := &countingReader{r: f}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := newProgressBar(info.Size(), &read.n, skip)
	res, err := bulk.Stream2(db.WithContext(ctx).Clauses(bulk.Options{CommitChunks: commit}, bulk.OnProgress(bar.show)), people(read, skip))
	bar.done(res.Rows)
	fmt.Fprintf(os.Stderr, "%d rows written in %d chunks\n", res.Rows, res.Chunks)
	if err != nil && commit {
		fmt.Fprintf(os.Stderr, "resume point: %d rows of the CSV are in the table; go on with -skip %d\n", skip+res.Rows, skip+res.Rows)
	}
	return err
}

func open(dialect, dsn, dir string) (*gorm.DB, error) {
	var d gorm.Dialector
	switch dialect {
	case "sqlite":
		if dsn == "" {
			dsn = filepath.Join(dir, "people.db")
		}
		d = sqlite.Open(dsn)
	case "postgres":
		d = postgres.Open(dsn)
	case "mysql":
		d = mysql.Open(dsn)
	default:
		return nil, fmt.Errorf("-dialect %q: want sqlite, postgres or mysql", dialect)
	}
	return gorm.Open(d, &gorm.Config{Logger: logger.Default.LogMode(logger.Warn)})
}

// people yields the CSV's rows after the first skip, parsed; a line that
// does not parse stops the load with an error naming it.
func people(r io.Reader, skip int64) iter.Seq2[Person, error] {
	return func(yield func(Person, error) bool) {
		c := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
		c.FieldsPerRecord = 5
		c.ReuseRecord = true
		if _, err := c.Read(); err != nil { // the header
			yield(Person{}, err)
			return
		}
		for i := int64(0); ; i++ {
			rec, err := c.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(Person{}, err)
				return
			}
			if i < skip {
				continue
			}
			p, err := parse(rec)
			if err != nil {
				line, _ := c.FieldPos(0)
				err = fmt.Errorf("line %d: %w", line, err)
			}
			if !yield(p, err) || err != nil {
				return
			}
		}
	}
}

func parse(rec []string) (Person, error) {
	age, err := strconv.Atoi(rec[2])
	if err != nil {
		return Person{}, fmt.Errorf("age: %w", err)
	}
	score, err := strconv.ParseFloat(rec[3], 64)
	if err != nil {
		return Person{}, fmt.Errorf("score: %w", err)
	}
	active, err := strconv.ParseBool(rec[4])
	if err != nil {
		return Person{}, fmt.Errorf("active: %w", err)
	}
	return Person{Email: rec[0], Name: rec[1], Age: age, Score: score, Active: active}, nil
}

func writeCSV(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(bufio.NewWriterSize(f, 1<<20))
	_ = w.Write([]string{"email", "name", "age", "score", "active"})
	for i := range n {
		_ = w.Write([]string{
			fmt.Sprintf("person%08d@example.com", i), fmt.Sprintf("Person %d", i),
			strconv.Itoa(18 + i%70), strconv.FormatFloat(float64(i%1000)/8, 'f', -1, 64), strconv.FormatBool(i%3 == 0),
		})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// countingReader counts the bytes read, for the ETA: a stream's length in
// rows is unknown (Progress.Total is -1), its file's size is not.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progressBar draws one line on the terminal, at most ten times a second.
type progressBar struct {
	size   int64
	read   *atomic.Int64
	skip   int64
	last   time.Time
	shown  bool
	latest bulk.Progress
}

func newProgressBar(size int64, read *atomic.Int64, skip int64) *progressBar {
	return &progressBar{size: size, read: read, skip: skip}
}

func (b *progressBar) show(p bulk.Progress) {
	if time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.draw(p)
}

func (b *progressBar) draw(p bulk.Progress) {
	b.last, b.shown, b.latest = time.Now(), true, p
	frac := float64(b.read.Load()) / float64(max(b.size, 1))
	rate := float64(p.Rows) / max(p.Elapsed.Seconds(), 1e-9)
	eta := "?"
	if frac > 0 {
		eta = (time.Duration(float64(p.Elapsed)/frac) - p.Elapsed).Round(time.Second).String()
	}
	const width = 30
	filled := min(width, int(frac*width))
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '='
		}
	}
	fmt.Fprintf(os.Stderr, "\r[%s] %3.0f%% %10d rows %9.0f rows/s ETA %-8s", bar, frac*100, b.skip+p.Rows, rate, eta)
}

// done draws the bar for the rows the load wrote, and ends its line.
func (b *progressBar) done(rows int64) {
	if b.shown {
		b.latest.Rows = rows
		b.draw(b.latest)
		fmt.Fprintln(os.Stderr)
	}
}
