package bulk

import (
	"context"
	"strings"
	"sync/atomic"

	"gorm.io/gorm"
)

// pgServer is what a server that speaks PostgreSQL's protocol says it is:
// COPY, arrays and the catalog reads are proven on PostgreSQL only, so
// elsewhere statements go as VALUES. It is read at db.Use, or, where the
// server could not be reached then, by the first statement that reaches
// it; until then it is taken for another server.
type pgServer struct {
	name atomic.Pointer[string] // "" for PostgreSQL itself; nil until read
}

// read asks the server its version() through pool unless it has said it.
func (s *pgServer) read(ctx context.Context, pool gorm.ConnPool) {
	if s == nil || s.name.Load() != nil {
		return
	}
	var version string
	if err := pool.QueryRowContext(ctx, "SELECT version()").Scan(&version); err == nil {
		name := postgresCompatible(version)
		s.name.Store(&name)
	}
}

// other names the server where it is not PostgreSQL itself, or not known
// to be; "" for PostgreSQL.
func (s *pgServer) other() string {
	if s == nil {
		return ""
	}
	if name := s.name.Load(); name != nil {
		return *name
	}
	return "not known yet (it could not be reached at db.Use)"
}

// mayBePostgres reports whether the server is PostgreSQL or not read yet:
// its pool is prepared for COPY either way.
func (s *pgServer) mayBePostgres() bool {
	name := s.name.Load()
	return name == nil || *name == ""
}

// postgresCompatible names the server a PostgreSQL version() string comes
// from when it is not PostgreSQL itself, or returns "". CockroachDB,
// YugabyteDB and Redshift answer PostgreSQL's protocol with catalogs,
// COPY and sequences of their own; Aurora, AlloyDB and the managed
// services run PostgreSQL and say so.
func postgresCompatible(version string) string {
	switch {
	case strings.Contains(version, "CockroachDB"):
		return "CockroachDB"
	case strings.Contains(version, "-YB-"):
		return "YugabyteDB"
	case strings.Contains(version, "Redshift"):
		return "Redshift"
	case !strings.HasPrefix(version, "PostgreSQL "):
		return strings.Fields(version + " unknown")[0]
	}
	return ""
}
