package bulk

import (
	"errors"
	"fmt"
)

// ErrMethodUnavailable is returned when Options.Method forces a method the
// statement cannot be written with; the error says why.
var ErrMethodUnavailable = errors.New("gormbulk: method unavailable")

// ErrNotRegistered is returned by a statement that carries Options on a DB
// the plugin is not registered on (db.Use(bulk.New())): without it the
// statement would run as a plain Create, ignoring what the Options ask.
var ErrNotRegistered = errors.New("gormbulk: bulk.Options on a DB without the plugin; register it with db.Use(bulk.New())")

// ChunkError is returned when the statement writing a chunk of rows fails.
// First and Last are the indexes of the chunk's first and last row in the
// slice passed to Create, so the failing row is among them (a failing COPY
// names the row itself, First == Last, where the server does). Err is the
// driver's error, reachable with errors.As (*pgconn.PgError,
// *mysql.MySQLError, sqlite3.Error); with TranslateError it is GORM's
// translation instead, as GORM returns it (errors.Is gorm.ErrDuplicatedKey).
type ChunkError struct {
	First, Last int
	Err         error
}

func (e *ChunkError) Error() string {
	if e.First == e.Last {
		return fmt.Sprintf("gormbulk: row %d: %v", e.First, e.Err)
	}
	return fmt.Sprintf("gormbulk: rows %d-%d: %v", e.First, e.Last, e.Err)
}

// Unwrap returns the driver's error.
func (e *ChunkError) Unwrap() error { return e.Err }

// limitError is raised, before anything reaches the database, by a statement
// that would exceed a dialect limit. The orchestrator answers it by writing
// fewer rows per statement; the user sees it only when a single row is over
// the limit.
type limitError struct {
	what     string
	got, max int
}

func (e *limitError) Error() string {
	return fmt.Sprintf("statement needs %d %s, the database allows %d", e.got, e.what, e.max)
}
