package bulk

import "reflect"

// A bulk create is one loop (writeChunks) over chunks of the call's rows,
// with one writer per method behind it: statements (VALUES, or arrays on
// PostgreSQL; values.go) and COPY (copy_postgres.go). The loop cuts the
// rows, stops on cancellation, shrinks the chunk when a statement would
// exceed a limit, and names the rows of a failing chunk; the writer writes
// a chunk and reads its generated keys back into its rows (keys.go).

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
}
