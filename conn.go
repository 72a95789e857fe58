package bulk

import (
	"context"
	"database/sql"

	"gorm.io/gorm"
)

// chunkConn is the connection GORM's create handler writes each chunk
// through. It refuses a statement over the dialect's limits before the
// driver sees it, so the orchestrator can split the chunk, and from the
// second of consecutive chunks that produce the same SQL it keeps that SQL
// prepared, which spares the database parsing a statement of thousands of
// rows again. The first goes as GORM's statement goes: a call of one chunk
// (most small calls) would pay for a prepared statement it never reuses,
// except where the driver prepares it anyway (dialect.prepareFirst).
type chunkConn struct {
	gorm.ConnPool
	dialect dialect
	query   string    // the last statement's SQL
	stmt    *sql.Stmt // query, prepared where it came twice
}

func (c *chunkConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := c.dialect.check(query, args); err != nil {
		return nil, err
	}
	stmt, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if stmt == nil {
		return c.ConnPool.ExecContext(ctx, query, args...)
	}
	return stmt.ExecContext(ctx, args...)
}

func (c *chunkConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := c.dialect.check(query, args); err != nil {
		return nil, err
	}
	stmt, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if stmt == nil {
		return c.ConnPool.QueryContext(ctx, query, args...)
	}
	return stmt.QueryContext(ctx, args...)
}

// prepared returns query prepared where the dialect reuses statements and
// the last statement was the same SQL (or the dialect prepares the first),
// else nil: the statement then goes unprepared.
func (c *chunkConn) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if !c.dialect.prepare {
		return nil, nil
	}
	if c.query != query {
		c.close()
		c.query = query
		if !c.dialect.prepareFirst {
			return nil, nil
		}
	}
	if c.stmt == nil {
		stmt, err := c.ConnPool.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		c.stmt = stmt
	}
	return c.stmt, nil
}

func (c *chunkConn) close() {
	if c.stmt != nil {
		_ = c.stmt.Close()
	}
	c.stmt, c.query = nil, ""
}

// unprepared returns the pool under GORM's prepared statement wrapper, for
// the plugin's own statements (savepoints, the catalog, warnings, lookups,
// LOAD DATA): prepared in a transaction, database/sql prepares a statement
// again on every use and keeps it until the transaction ends, so a call's
// chunks would pile up server statements past MySQL's
// max_prepared_stmt_count; and a load's text names its reader, new each
// chunk, which GORM's cache would keep. The rows' INSERTs stay prepared,
// as GORM's own.
func unprepared(pool gorm.ConnPool) gorm.ConnPool {
	switch ps := pool.(type) {
	case *gorm.PreparedStmtTX:
		return ps.Tx
	case *gorm.PreparedStmtDB:
		return ps.ConnPool
	}
	return pool
}
