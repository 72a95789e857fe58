package bulk

import (
	"reflect"
	"strings"

	"gorm.io/gorm"
)

// A bulk create is one loop (writeChunks) over chunks of the call's rows,
// with one writer per method behind it: statements (VALUES, or arrays on
// PostgreSQL; values.go) and COPY (copy_postgres.go). The loop cuts the
// rows, stops on cancellation, shrinks the chunk when a statement would
// exceed a limit, and names the rows of a failing chunk; the writer writes
// a chunk and reads its generated keys back into its rows (keys.go).
//
// GORM's processor logs the statement it finds in Statement.SQL once the
// callbacks have run, and the callbacks after gorm:create (OpenTelemetry's
// tracing among them) read it too. The chunks are logged one by one as they
// are written, so the call leaves its first statement there for those
// callbacks and takes it out again before the processor logs it
// (finish, in bulk_create.go).

// writer writes a call's rows by one method, a chunk at a time.
type writer interface {
	// chunkRows is how many rows the writer takes per chunk, at first.
	chunkRows() int
	// write writes the chunk (a slice of the call's rows, with its
	// capacity ending at its length) and returns the rows the database
	// wrote. A *limitError asks for a smaller chunk; a *ChunkError names
	// rows by their index in the chunk.
	write(chunk reflect.Value) (int64, error)
	// close releases what the writer holds once the call is done.
	close()
	// first returns the first statement the writer sent, with its
	// arguments, or "".
	first() (string, []any)
}

// tableParts returns the parts of the name of the statement's table, as
// GORM's INSERT writes it: db.Table("schema.table") keeps the schema only
// in TableExpr. A table expression that is not a plain name (an alias, a
// subquery) reports false.
func tableParts(stmt *gorm.Statement) ([]string, bool) {
	if stmt.TableExpr == nil {
		return []string{stmt.Table}, stmt.Table != ""
	}
	if len(stmt.TableExpr.Vars) > 0 {
		return nil, false
	}
	parts := strings.Split(stmt.TableExpr.SQL, ".")
	for i, part := range parts {
		parts[i] = strings.Trim(part, "\"`")
	}
	// Only a name quotes back to the text it came from.
	if stmt.Quote(strings.Join(parts, ".")) != stmt.TableExpr.SQL {
		return nil, false
	}
	return parts, true
}
