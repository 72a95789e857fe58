package bulk

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// COPY needs the pgx connection, and database/sql offers no way from an open
// *sql.Tx to its connection. So on PostgreSQL over pgx the plugin wraps
// GORM's *sql.DB in a pool whose transactions begin on a *sql.Conn they keep:
// GORM's default transaction, db.Transaction and db.Begin all go through
// ConnPoolBeginner, and a statement inside any of them can reach the pgx
// connection through the pinned *sql.Conn (its Raw method), which runs in
// the same server-side transaction.

// pinningPool is GORM's connection pool with transactions on pinned
// connections.
type pinningPool struct {
	*sql.DB
}

// BeginTx implements gorm.ConnPoolBeginner.
func (p *pinningPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	conn, err := p.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &pinnedTx{Tx: tx, conn: conn, db: p.DB}, nil
}

// GetDBConn implements gorm.GetDBConnector, so db.DB() still finds the
// *sql.DB.
func (p *pinningPool) GetDBConn() (*sql.DB, error) { return p.DB, nil }

// pinnedTx is a transaction that knows its connection. It implements
// gorm.Tx through the embedded *sql.Tx.
type pinnedTx struct {
	*sql.Tx
	conn *sql.Conn
	db   *sql.DB
}

// Commit commits and returns the connection to the pool.
func (t *pinnedTx) Commit() error {
	defer t.conn.Close()
	return t.Tx.Commit()
}

// Rollback rolls back and returns the connection to the pool.
func (t *pinnedTx) Rollback() error {
	defer t.conn.Close()
	return t.Tx.Rollback()
}

// GetDBConn implements gorm.GetDBConnector.
func (t *pinnedTx) GetDBConn() (*sql.DB, error) { return t.db, nil }

// preparePostgres installs pinningPool under db when db talks to
// PostgreSQL through pgx's database/sql driver, directly or under GORM's
// prepared statement pool. It reports whether COPY can run (the pool is
// installed), and how to tell whether chunks can travel as arrays.
func preparePostgres(db *gorm.DB) (copy bool, arrays *pgxArrays) {
	pool := &db.ConnPool
	if ps, ok := db.ConnPool.(*gorm.PreparedStmtDB); ok {
		pool = &ps.ConnPool
	}
	var sqlDB *sql.DB
	switch p := (*pool).(type) {
	case *pinningPool:
		sqlDB = p.DB
	case *sql.DB:
		if _, ok := p.Driver().(*stdlib.Driver); !ok {
			return false, nil
		}
		sqlDB = p
		*pool = &pinningPool{DB: p}
		if db.Statement != nil && db.Statement.ConnPool == p {
			db.Statement.ConnPool = *pool
		}
	default:
		return false, nil
	}
	arrays = &pgxArrays{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := sqlDB.Conn(ctx); err == nil {
		arrays.read(conn)
		_ = conn.Close()
	}
	return true, arrays
}

// pgxArrays tells whether chunks can travel as arrays: pgx must describe a
// statement to encode an []any as an array, which its simple protocol and
// QueryExecModeExec do not. The mode is read from the first connection
// reached, at db.Use or else by the first statement that takes the bulk
// path, so a DB that was down at db.Use gets arrays once it is up.
type pgxArrays struct {
	mu        sync.Mutex
	known, ok bool
}

// available reports whether chunks can travel as arrays, reading pgx's
// mode from the statement's connection if it is not known yet.
func (a *pgxArrays) available(pool gorm.ConnPool) bool {
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.known {
		if tx, ok := pinned(pool); ok {
			a.read(tx.conn)
		}
	}
	return a.ok
}

// read reads pgx's default query mode from conn.
func (a *pgxArrays) read(conn *sql.Conn) {
	_ = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errNotPgx
		}
		switch c.Conn().Config().DefaultQueryExecMode {
		case pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec:
			a.ok = true
		}
		a.known = true
		return nil
	})
}

// pinned returns the pinned transaction a statement's pool is, also under
// GORM's prepared statement wrapper.
func pinned(pool gorm.ConnPool) (*pinnedTx, bool) {
	if ps, ok := pool.(*gorm.PreparedStmtTX); ok {
		pool = ps.Tx
	}
	tx, ok := pool.(*pinnedTx)
	return tx, ok
}

// withPgx runs f on the pgx connection of the transaction a statement runs
// in, or fails with errNotPgx where the statement's pool gives no way to
// it: a path planned for that connection never goes on without it.
func withPgx(pool gorm.ConnPool, f func(*pgx.Conn) error) error {
	tx, ok := pinned(pool)
	if !ok {
		return errNotPgx
	}
	return tx.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errNotPgx
		}
		return f(c.Conn())
	})
}

// typeMap returns the type map pgx encodes the statement's parameters with:
// its pinned connection's, which knows the types registered on it, or else
// pgx's default map. The map is the connection's own, used only while the
// statement holds the connection.
func typeMap(pool gorm.ConnPool) *pgtype.Map {
	var m *pgtype.Map
	if err := withPgx(pool, func(c *pgx.Conn) error {
		m = c.TypeMap()
		return nil
	}); err == nil {
		return m
	}
	return pgtype.NewMap()
}

// SQLTx returns the *sql.Tx a statement's pool runs in, for code that
// unwraps GORM's transaction (tx.Statement.ConnPool.(*sql.Tx)): on
// PostgreSQL through pgx the plugin's pool begins transactions that keep
// their connection, so the pool is not an *sql.Tx itself. It reports
// false when the pool is in no transaction.
func SQLTx(pool gorm.ConnPool) (*sql.Tx, bool) {
	if ps, ok := pool.(*gorm.PreparedStmtTX); ok {
		pool = ps.Tx
	}
	switch tx := pool.(type) {
	case *sql.Tx:
		return tx, true
	case *pinnedTx:
		return tx.Tx, true
	}
	return nil, false
}
