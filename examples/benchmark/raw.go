package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The raw methods are what a hand-written loader does with the driver
// alone: no reflection, no IDs read back, values taken from the structs.

// rawInsert runs one prepared INSERT of as many rows as the parameter limit
// allows, reused for every full chunk, all in one transaction.
func rawInsert(ctx context.Context, b *bench, rows []User) error {
	per := b.maxParams / len(columns)
	now := time.Now()
	tx, err := b.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var (
		stmt *sql.Stmt // closed by Commit or Rollback
		size int
		args = make([]any, 0, per*len(columns))
	)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		if len(chunk) != size {
			if stmt, err = tx.PrepareContext(ctx, b.insertSQL(len(chunk))); err != nil {
				return err
			}
			size = len(chunk)
		}
		args = args[:0]
		for i := range chunk {
			args = chunk[i].values(args, now)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// pgxCopy streams the rows with PostgreSQL's COPY FROM STDIN through pgx's
// CopyFrom, on the *pgx.Conn under database/sql.
func pgxCopy(ctx context.Context, b *bench, rows []User) error {
	conn, err := b.sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	now := time.Now()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T, not pgx's", dc)
		}
		// CopyFrom encodes each row before asking for the next, so one
		// slice serves them all.
		vals := make([]any, 0, len(columns))
		n, err := sc.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			vals = rows[i].values(vals[:0], now)
			return vals, nil
		}))
		if err == nil && n != int64(len(rows)) {
			err = fmt.Errorf("CopyFrom wrote %d rows, want %d", n, len(rows))
		}
		return err
	})
}

// loadData streams the rows as tab-separated text with LOAD DATA LOCAL
// INFILE. The driver reads them from an io.Reader registered under a name
// ("Reader::name"), which needs no allowAllFiles in the DSN; the server
// must have local_infile=ON.
func loadData(ctx context.Context, b *bench, rows []User) error {
	pr, pw := io.Pipe()
	defer pr.Close() // unblocks the writer if the server stops reading
	go func() { pw.CloseWithError(writeTSV(pw, rows, time.Now().UTC())) }()
	mysql.RegisterReaderHandler(table, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(table)

	res, err := b.sqlDB.ExecContext(ctx, fmt.Sprintf(
		`LOAD DATA LOCAL INFILE 'Reader::%s' INTO TABLE %s CHARACTER SET utf8mb4
		FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' (%s)`,
		table, table, strings.Join(columns, ",")))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n != int64(len(rows)) {
		return fmt.Errorf("LOAD DATA wrote %d rows, want %d", n, len(rows))
	}
	return nil
}

// tsvEscaper escapes text for LOAD DATA's default field escaping.
var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`)

// writeTSV writes rows in the order of columns, one line each.
func writeTSV(w io.Writer, rows []User, now time.Time) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	ts := now.AppendFormat(nil, "2006-01-02 15:04:05.000000")
	var line []byte
	for i := range rows {
		u := &rows[i]
		line = append(line[:0], tsvEscaper.Replace(u.Email)...)
		line = append(line, '\t')
		line = append(line, tsvEscaper.Replace(u.Name)...)
		line = append(line, '\t')
		line = strconv.AppendInt(line, int64(u.Age), 10)
		line = append(line, '\t')
		line = strconv.AppendFloat(line, u.Score, 'g', -1, 64)
		line = append(line, '\t')
		if u.Active {
			line = append(line, '1')
		} else {
			line = append(line, '0')
		}
		line = append(line, '\t')
		line = append(line, tsvEscaper.Replace(u.status())...)
		line = append(line, '\t')
		line = append(line, ts...)
		line = append(line, '\t')
		line = append(line, ts...)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}
