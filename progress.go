package bulk

import (
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Progress is how far a load has come, as OnProgress reports it.
type Progress struct {
	// Rows is the rows the database has taken so far, counted in the
	// load (rows ON CONFLICT DO NOTHING skipped included). Within a long
	// COPY it counts the rows sent; a failure can leave fewer written,
	// and Result.Rows is then what stays.
	Rows int64
	// Total is the rows of the load: the slice's length for Create, -1
	// for a stream, whose length is unknown.
	Total   int64
	Elapsed time.Duration
}

// OnProgress reports the progress of a bulk load to f:
//
//	db.Clauses(bulk.Options{}, bulk.OnProgress(func(p bulk.Progress) { … })).Create(&rows)
//
// f is called after every chunk the database takes, about every second
// within a long COPY, and once the load is done, with Rows equal to the
// rows written. It is never called concurrently with itself, Rows never
// goes backwards, and it runs on a goroutine writing the load (within a
// COPY, pgx's encoding one; a panic in it is raised again on the caller's):
// keep it quick. Under CreateInBatches each of GORM's batches is a Create of its
// own, so f sees one load per batch, Total the batch's rows and Rows
// counting from 0 again; use Create(&rows) or Stream for one load. It is a
// clause of its own, apart from Options, so that Options stays comparable.
func OnProgress(f func(Progress)) clause.Expression { return onProgress{f} }

type onProgress struct{ f func(Progress) }

// progressKey is the statement clause that holds OnProgress's function.
// GORM's association and hook sessions drop clauses, so the creates they
// make do not report into the load.
const progressKey = "gormbulk:progress"

// ModifyStatement implements gorm.StatementModifier.
func (p onProgress) ModifyStatement(stmt *gorm.Statement) {
	stmt.Clauses[progressKey] = clause.Clause{Name: progressKey, Expression: p}
}

// Build implements clause.Expression; OnProgress adds no SQL.
func (onProgress) Build(clause.Builder) {}

// loadKey is the statement setting under which a stream's load reaches
// the Create of each of its chunks. Settings, like clauses, stay out of
// the sessions GORM opens for associations and hooks.
const loadKey = "gormbulk:load"

// progressEvery is how often a long COPY reports the rows it has sent; a
// variable for the tests.
var progressEvery = time.Second

// load counts what one load (a Create, or a whole stream) has written,
// and reports it to OnProgress.
type load struct {
	f      func(Progress)
	total  int64
	begin  time.Time
	stream bool
	// tables is what the catalog said of the tables a stream that is one
	// transaction writes. Once its first chunk has written a table, the
	// transaction's lock on it keeps what matters from changing: other
	// sessions' ALTER TABLE, CREATE TRIGGER and CREATE POLICY wait for it.
	// So its later chunks skip the stamp's round trip.
	tables map[string]*pgTableInfo
	// lastKeys holds the last key each sequence gave the stream's latest
	// COPY into it, where the next chunk's proof starts (nextKey).
	lastKeys map[uint32]int64

	mu       sync.Mutex
	rows     int64 // rows written
	chunks   int   // statements and COPYs that wrote them
	reported int64 // the last Rows reported, which never goes down
	last     time.Time
}

func newLoad(f func(Progress), total int64) *load {
	now := time.Now()
	return &load{f: f, total: total, begin: now, last: now}
}

// streamLoad returns the load of the stream whose chunk db creates, or nil.
func streamLoad(db *gorm.DB) *load {
	l, _ := db.Get(loadKey)
	v, _ := l.(*load)
	return v
}

// tableInfo returns what the stream's transaction knows of a table, or nil.
func (l *load) tableInfo(table string) *pgTableInfo {
	if l == nil {
		return nil
	}
	return l.tables[table]
}

// keepTableInfo keeps what the catalog said of a table for the rest of a
// stream that is one transaction.
func (l *load) keepTableInfo(table string, info *pgTableInfo) {
	if l != nil && l.tables != nil && info != nil {
		l.tables[table] = info
	}
}

// lastKey returns the last key a sequence gave the stream's COPYs.
func (l *load) lastKey(seq uint32) (int64, bool) {
	if l == nil {
		return 0, false
	}
	last, ok := l.lastKeys[seq]
	return last, ok
}

// keepLastKey records the last key a stream's COPY got from a sequence.
func (l *load) keepLastKey(seq uint32, last int64) {
	if l != nil && l.stream {
		if l.lastKeys == nil {
			l.lastKeys = map[uint32]int64{}
		}
		l.lastKeys[seq] = last
	}
}

// loadOf returns the load a Create's rows count into: its stream's, or
// one of its own where it asks for progress; nil where nothing counts.
func loadOf(db *gorm.DB) *load {
	if l := streamLoad(db); l != nil {
		return l
	}
	if p, ok := db.Statement.Clauses[progressKey].Expression.(onProgress); ok && p.f != nil {
		return newLoad(p.f, int64(db.Statement.ReflectValue.Len()))
	}
	return nil
}

// wrote counts a chunk of n rows the database took, and reports it.
func (l *load) wrote(n int64) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rows += n
	l.chunks++
	l.report(l.rows)
}

// sending reports, at most every progressEvery, the rows written and the
// n more of a chunk being sent.
func (l *load) sending(n int64) {
	if l == nil || l.f == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.last) >= progressEvery {
		l.report(l.rows + n)
	}
}

func (l *load) report(rows int64) {
	if l.f == nil || rows < l.reported {
		return
	}
	l.reported, l.last = rows, time.Now()
	l.f(Progress{Rows: rows, Total: l.total, Elapsed: l.last.Sub(l.begin)})
}
