package bulk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// copySendSize is what pgconn sends of a COPY's data in one message, and
// so reads from the encoder at a time.
const copySendSize = 65536 - 5

// copyFrom is pgx's Conn.CopyFrom (copy_from.go), with the rows' values
// encoded the same way, by the connection's type map, but for three
// things. The columns' types are the catalog's, which the call has read:
// pgx reads them from a description of the table's columns, a round trip
// wherever its statement cache is off, and COPY takes no domain column
// (copyable), so those types are the description's. A float64 or float32
// goes into numeric by appendNumeric: the same bytes at a tenth of what
// pgx's codec spends, the largest share of a COPY's encoding wherever a
// model has one (GORM's PostgreSQL migrator makes a float field numeric).
// A value that does not encode in binary fails the COPY, where pgx would
// try it through its text, which GORM's parameter does not (the plugin
// proves its values go in binary before it copies).
//
// The encoding runs on a goroutine of its own, as pgx's does, so that
// the rows are encoded while the previous buffer is sent. A panic there
// is kept in src.panicked, for copyChunk to raise on the caller's
// goroutine.
func copyFrom(ctx context.Context, c *pgx.Conn, table pgx.Identifier, columns []string, types []uint32, src *structSource) (rows int64, err error) {
	quoted := make([]string, len(columns))
	for i, name := range columns {
		quoted[i] = pgx.Identifier{name}.Sanitize()
	}
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN BINARY", table.Sanitize(), strings.Join(quoted, ", "))
	var tag pgconn.CommandTag
	if tracer, ok := c.Config().Tracer.(pgx.CopyFromTracer); ok {
		ctx = tracer.TraceCopyFromStart(ctx, c, pgx.TraceCopyFromStartData{TableName: table, ColumnNames: columns})
		defer func() { tracer.TraceCopyFromEnd(ctx, c, pgx.TraceCopyFromEndData{CommandTag: tag, Err: err}) }()
	}

	r, w := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				src.panicked = p
				w.CloseWithError(errCopyPanicked)
			}
		}()
		w.CloseWithError(writeCopyData(w, c.TypeMap(), types, src))
	}()
	tag, err = c.PgConn().CopyFrom(ctx, r, sql)
	r.Close()
	<-done
	return tag.RowsAffected(), err
}

var errCopyPanicked = errors.New("gormbulk: reading the COPY's rows panicked")

// writeCopyData writes src's rows to w in COPY's binary format, a buffer
// about as large as pgconn sends at a time.
func writeCopyData(w io.Writer, m *pgtype.Map, types []uint32, src *structSource) error {
	buf := make([]byte, 0, copySendSize)
	buf = append(buf, "PGCOPY\n\377\r\n\000"...)
	buf = binary.BigEndian.AppendUint32(buf, 0) // flags
	buf = binary.BigEndian.AppendUint32(buf, 0) // header extension
	largest := 0
	for src.Next() {
		start := len(buf)
		values, err := src.Values()
		if err != nil {
			return err
		}
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(values)))
		for i, v := range values {
			if buf, err = appendCopyValue(m, buf, types[i], v); err != nil {
				return err
			}
		}
		largest = max(largest, len(buf)-start)
		// A buffer larger than pgconn reads is sent in two messages, the
		// second short; flush before another row could overflow it.
		if len(buf) > copySendSize-largest {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if err := src.Err(); err != nil {
		return err
	}
	_, err := w.Write(buf)
	return err
}

// appendCopyValue appends one field of a COPY row: its length and its
// binary form, or -1 for NULL.
func appendCopyValue(m *pgtype.Map, buf []byte, oid uint32, v any) ([]byte, error) {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, 0xffff_ffff)
	switch f := v.(type) {
	case float64:
		if oid == pgtype.NumericOID {
			buf = appendNumeric(buf, f)
			binary.BigEndian.PutUint32(buf[start:], uint32(len(buf)-start-4))
			return buf, nil
		}
	case float32:
		if oid == pgtype.NumericOID {
			return appendCopyValue(m, buf[:start], oid, float64(f))
		}
	}
	encoded, err := m.Encode(oid, pgtype.BinaryFormatCode, v, buf)
	if err != nil || encoded == nil {
		return buf, err
	}
	binary.BigEndian.PutUint32(encoded[start:], uint32(len(encoded)-start-4))
	return encoded, nil
}
