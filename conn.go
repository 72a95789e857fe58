package bulk

import (
	"context"
	"database/sql"

	"gorm.io/gorm"
)

// chunkConn is the connection GORM's create handler writes each chunk
// through. It refuses a statement over the dialect's limits before the
// driver sees it, so the orchestrator can split the chunk, and it keeps the
// last prepared statement while consecutive chunks produce the same SQL,
// which spares the database parsing a statement of thousands of rows again.
type chunkConn struct {
	gorm.ConnPool
	dialect dialect
	query   string
	stmt    *sql.Stmt
}

func (c *chunkConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := c.dialect.check(query, args); err != nil {
		return nil, err
	}
	if !c.dialect.prepare {
		return c.ConnPool.ExecContext(ctx, query, args...)
	}
	stmt, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(ctx, args...)
}

func (c *chunkConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := c.dialect.check(query, args); err != nil {
		return nil, err
	}
	if !c.dialect.prepare {
		return c.ConnPool.QueryContext(ctx, query, args...)
	}
	stmt, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, args...)
}

func (c *chunkConn) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.stmt != nil && c.query == query {
		return c.stmt, nil
	}
	c.close()
	stmt, err := c.ConnPool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.query, c.stmt = query, stmt
	return stmt, nil
}

func (c *chunkConn) close() {
	if c.stmt != nil {
		_ = c.stmt.Close()
		c.stmt, c.query = nil, ""
	}
}
