package bulk

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Result is what a stream wrote.
type Result struct {
	// Rows is the stream's rows written, counted in the stream (rows ON
	// CONFLICT DO NOTHING skipped included); with CommitChunks, the rows
	// committed: a prefix of the stream, and where a resumed load starts.
	Rows int64
	// Chunks is the statements or COPYs that wrote them.
	Chunks int
}

// streamRows is how many rows a stream holds, and gives one Create, at a
// time where Options.BatchSize does not say: enough that a chunk's fixed
// costs (its transaction with CommitChunks, a COPY's key proof, the
// catalog's stamp) vanish next to its rows, few enough that the rows in
// memory stay small.
const streamRows = 20_000

// Stream writes every row rows yields, chunk by chunk, holding only the
// chunk in flight, and returns what it wrote:
//
//	res, err := bulk.Stream(db.Clauses(bulk.Options{}), rows)
//
// T is a model struct or a pointer to one. Each chunk is written as
// Create writes a slice, with everything Create does: Go-side defaults,
// hooks, associations, generated keys read back (into the structs, for a
// pointer T; a value T is copied when yielded, so its keys go nowhere),
// every dialect and method, the same errors. A source that yields one
// pointer again and again, filled anew, must not be used where keys are
// read back: set Options.SkipReturning.
//
// The chunks hold Options.BatchSize rows where it is set, else 20,000.
// Without Options.CommitChunks the stream is one transaction (the
// caller's, if db is in one: a savepoint there), and a failure leaves the
// tables as they were. With it, each chunk commits on its own, and a
// chunk that fails with a serialization failure or a deadlock is retried
// (see CommitChunks). A failing chunk's error is a *ChunkError whose rows
// are indexed in the stream. The context of db stops the load when it is
// cancelled; OnProgress reports it with Total -1.
func Stream[T any](db *gorm.DB, rows iter.Seq[T]) (Result, error) {
	return Stream2(db, func(yield func(T, error) bool) {
		for row := range rows {
			if !yield(row, nil) {
				return
			}
		}
	})
}

// Stream2 is Stream for a source that can fail (a CSV reader, a network
// stream): the first non-nil error stops the load and is returned,
// wrapped, with the rows before it written (with CommitChunks, those of
// the chunks committed: Result.Rows) or none (without).
func Stream2[T any](db *gorm.DB, rows iter.Seq2[T, error]) (Result, error) {
	if err := streamable(db, reflect.TypeFor[T]()); err != nil {
		return Result{}, err
	}
	opts, _ := requestedOptions(db.Statement)
	var f func(Progress)
	if p, ok := db.Statement.Clauses[progressKey].Expression.(onProgress); ok {
		f = p.f
	}
	l := newLoad(f, -1)
	l.stream = true
	if !opts.CommitChunks {
		l.tables = map[string]*pgTableInfo{}
	}
	if _, ok := db.Statement.Clauses[optionsKey]; !ok {
		db = db.Clauses(Options{})
	}
	s := &stream[T]{base: db.Set(loadKey, l).Session(&gorm.Session{}), load: l, commit: opts.CommitChunks}
	s.size = streamRows
	if opts.BatchSize > 0 {
		s.size = opts.BatchSize
	}
	if !s.commit {
		err := s.base.Transaction(func(tx *gorm.DB) error { return s.run(tx, rows) })
		if err != nil {
			return Result{}, err
		}
		l.report(l.rows)
		return Result{Rows: l.rows, Chunks: l.chunks}, nil
	}
	err := s.run(s.base, rows)
	l.report(l.rows)
	return Result{Rows: l.rows, Chunks: l.chunks}, err
}

// streamable says why db cannot stream rows of type t, or nil.
func streamable(db *gorm.DB, t reflect.Type) error {
	if _, ok := db.Config.Plugins[pluginName]; !ok {
		return ErrNotRegistered
	}
	if db.Error != nil {
		return db.Error
	}
	if e := t; e.Kind() != reflect.Struct && (e.Kind() != reflect.Pointer || e.Elem().Kind() != reflect.Struct) {
		return fmt.Errorf("gormbulk: Stream needs a model struct or a pointer to one, not %s: %w", t, gorm.ErrInvalidData)
	}
	if o, _ := requestedOptions(db.Statement); o.CommitChunks {
		if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); inTx {
			return errors.New("gormbulk: Options.CommitChunks inside a transaction: the chunks could not commit on their own")
		}
	}
	return nil
}

// stream writes a source's rows a chunk at a time.
type stream[T any] struct {
	base   *gorm.DB // db with the stream's options and load, one Create per chunk
	load   *load
	size   int
	commit bool // each chunk in a transaction of its own
}

// run writes the rows in chunks. The source fills one chunk while the
// previous one is written, on a goroutine of its own, so that making the
// rows (parsing a CSV line, decoding a message) overlaps with the
// database taking them, as it does in pgx's CopyFrom; two chunks' rows
// are held at most. run returns once the source has stopped: after a
// failed chunk, at its next yield.
func (s *stream[T]) run(db *gorm.DB, rows iter.Seq2[T, error]) error {
	var (
		full     = make(chan []T)
		free     = make(chan []T, 2)
		done     = make(chan struct{})
		stopped  = make(chan struct{})
		srcErr   error
		panicked any
	)
	free <- make([]T, 0, s.size)
	free <- make([]T, 0, s.size)
	go func() {
		defer close(stopped)
		defer close(full)
		defer func() { panicked = recover() }()
		var chunk []T
		var n int64
		for row, err := range rows {
			if err != nil {
				srcErr = fmt.Errorf("gormbulk: the stream's row %d: %w", n, err)
				return
			}
			if chunk == nil {
				select {
				case chunk = <-free:
				case <-done:
					return
				}
			}
			chunk = append(chunk, row)
			n++
			if len(chunk) == s.size {
				select {
				case full <- chunk:
					chunk = nil
				case <-done:
					return
				}
			}
		}
		if len(chunk) > 0 {
			select {
			case full <- chunk:
			case <-done:
			}
		}
	}()

	var err error
	var first int64 // the chunk's first row in the stream
	for chunk := range full {
		if err = s.write(db, chunk, first); err != nil {
			break
		}
		first += int64(len(chunk))
		clear(chunk) // let the written rows go
		free <- chunk[:0]
	}
	close(done)
	<-stopped
	if panicked != nil {
		panic(panicked)
	}
	if err != nil {
		return err
	}
	return srcErr
}

// write creates one chunk, first being its first row's index in the
// stream; with CommitChunks, in a transaction of its own, retried where
// the server asks for it (retryable).
func (s *stream[T]) write(db *gorm.DB, chunk []T, first int64) error {
	ctx := db.Statement.Context
	if err := ctx.Err(); err != nil {
		return err
	}
	create := func(tx *gorm.DB) error { return tx.Create(&chunk).Error }
	if !s.commit {
		return inStream(ctx, create(db), first, len(chunk))
	}
	// A failed attempt's rows are not written, but hold what it gave them
	// (defaults, keys): each attempt starts from the rows as yielded.
	saved := snapshot(reflect.ValueOf(chunk))
	rows, chunks := s.load.rows, s.load.chunks
	for attempt := 0; ; attempt++ {
		err := db.Transaction(create)
		if err == nil {
			return nil
		}
		// Counted as written, the chunk's statements were not committed.
		s.load.mu.Lock()
		s.load.rows, s.load.chunks = rows, chunks
		s.load.mu.Unlock()
		if attempt == maxRetries || !retryable(err) {
			return inStream(ctx, err, first, len(chunk))
		}
		restoreRows(reflect.ValueOf(chunk), saved)
		select {
		case <-time.After(retryDelay << attempt):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// inStream gives a chunk's error the rows it names in the stream: a
// *ChunkError's, or the whole chunk's. Where the context ended the chunk,
// the error says so: database/sql rolls back a transaction whose context
// is done, and the commit then fails with sql.ErrTxDone alone.
func inStream(ctx context.Context, err error, first int64, n int) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w: %w", ctxErr, err)
	}
	var ce *ChunkError
	if errors.As(err, &ce) {
		ce.First += int(first)
		ce.Last += int(first)
		return err
	}
	return &ChunkError{First: int(first), Last: int(first) + n - 1, Err: err}
}

// Retries: a chunk that fails with a serialization failure or a deadlock
// is written again, up to maxRetries times, after retryDelay, doubling.
// Only a chunk that is a transaction of its own can be: the server ends
// the whole transaction on a deadlock (InnoDB rolls it back; PostgreSQL
// fails every statement until it ends), so within one the load fails.
const (
	maxRetries = 5
	retryDelay = 50 * time.Millisecond
)

// retryable reports whether err asks for the transaction to be run again:
// PostgreSQL's serialization_failure and deadlock_detected, MySQL's
// ER_LOCK_DEADLOCK.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && myErr.Number == 1213
}
