package bulk

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// optionsKey is the statement clause under which per-call Options travel.
// Clauses are copied into every session GORM derives from a statement, so
// the options reach the create callback (and each batch of CreateInBatches).
const optionsKey = "gormbulk:options"

// Options asks for the bulk path on one statement:
//
//	db.Clauses(bulk.Options{BatchSize: 5000}).Create(&rows)
//
// Fields left at their zero value take the plugin's Config.
type Options struct {
	// BatchSize caps the rows written by one statement. 0 sizes each
	// statement to the dialect's limits (bind parameters, rows per VALUES
	// list, packet size), which is the fastest choice.
	BatchSize int

	// SkipReturning leaves generated values (auto-increment IDs, database
	// defaults) unread: the rows are written, the structs keep zero values
	// where the database filled them in. It saves the RETURNING read-back.
	SkipReturning bool

	// Disable sends the statement to GORM's own create, even when
	// Config.Auto is set.
	Disable bool

	// CommitChunks, for Stream only, commits each chunk on its own: a
	// failure keeps the chunks before it, and Result.Rows says how many
	// of the stream's rows they hold, where a resumed load starts. A
	// chunk that fails with a serialization failure or a deadlock
	// (PostgreSQL 40001 and 40P01, MySQL 1213) is written again, up to 5
	// times, after 50ms, doubling; other errors are not retried. On
	// Create, or on a DB inside a transaction, it is an error: Create
	// writes all rows or none.
	CommitChunks bool

	// Method forces or forbids a way of writing the rows. The zero value,
	// AnyMethod, picks the fastest that keeps GORM's result: COPY on
	// PostgreSQL where it can, multi-row statements elsewhere.
	Method Method
}

// Method is a way of writing rows.
type Method int

const (
	// AnyMethod lets the plugin choose.
	AnyMethod Method = iota
	// Values writes multi-row INSERT statements (on PostgreSQL, one array
	// per column: INSERT … SELECT FROM unnest).
	Values
	// Copy streams the rows with PostgreSQL's binary COPY FROM STDIN. A
	// statement that COPY cannot write with GORM's result fails with
	// ErrMethodUnavailable rather than take another method.
	Copy
	// LoadData streams the rows with MySQL's and MariaDB's LOAD DATA LOCAL
	// INFILE, from a reader registered for the call (no file, no
	// allowAllFiles). A statement it cannot write with GORM's result fails
	// with ErrMethodUnavailable; a chunk the server loads with a warning,
	// or with fewer rows than sent, is written again by statements, which
	// give GORM's rows and errors.
	LoadData
)

func (m Method) String() string {
	switch m {
	case AnyMethod:
		return "any"
	case Values:
		return "values"
	case Copy:
		return "copy"
	case LoadData:
		return "load data"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// ModifyStatement implements gorm.StatementModifier. On a DB without the
// plugin it fails the statement with ErrNotRegistered rather than let it
// run as a plain Create.
func (o Options) ModifyStatement(stmt *gorm.Statement) {
	if _, ok := stmt.DB.Config.Plugins[pluginName]; !ok {
		stmt.DB.AddError(ErrNotRegistered)
	}
	stmt.Clauses[optionsKey] = clause.Clause{Name: optionsKey, Expression: o}
}

// associationOptions is the context key under which a statement's Options
// reach the creates GORM makes for its associations: GORM writes them in
// sessions of their own, which drop the statement's clauses but keep its
// context.
type associationOptions struct{}

// requestedOptions returns the Options the statement carries: its clause,
// or those of the statement that writes it as an association.
func requestedOptions(stmt *gorm.Statement) (Options, bool) {
	if o, ok := stmt.Clauses[optionsKey].Expression.(Options); ok {
		return o, true
	}
	if stmt.Context == nil {
		return Options{}, false
	}
	o, ok := stmt.Context.Value(associationOptions{}).(Options)
	return o, ok
}

// inAssociations marks the context of the creates GORM makes for a
// statement's associations.
type inAssociations struct{}

// withAssociationOptions wraps one of GORM's association callbacks so that
// the creates it makes take the bulk path where the statement asked for it,
// chunked as the statement's rows are, and are known as association
// creates (keysAhead leaves their keys to GORM's read-back, whose keys the
// join rows and foreign keys GORM writes next are built from). The method
// and SkipReturning stay with the statement: the associations' upserts and
// join rows need GORM's statements and their keys read back. A create a
// hook makes keeps its own options (see outsideAssociations).
func withAssociationOptions(save func(*gorm.DB)) func(*gorm.DB) {
	return func(db *gorm.DB) {
		stmt := db.Statement
		ctx := stmt.Context
		if ctx == nil {
			save(db)
			return
		}
		assoc := context.WithValue(ctx, inAssociations{}, true)
		if o, ok := requestedOptions(stmt); ok && !o.Disable {
			assoc = context.WithValue(assoc, associationOptions{}, Options{BatchSize: o.BatchSize})
		}
		stmt.Context = assoc
		defer func() { stmt.Context = ctx }()
		save(db)
	}
}

// outsideAssociations wraps one of GORM's hook callbacks (BeforeSave and
// BeforeCreate, AfterCreate and AfterSave) so that the creates a hook of an
// association's rows makes are the user's own, as they are without the
// plugin: the hook's DB derives from the association's statement, whose
// context withAssociationOptions marked, and would hand the create the
// parent's Options and the association's read-back.
func outsideAssociations(hooks func(*gorm.DB)) func(*gorm.DB) {
	return func(db *gorm.DB) {
		stmt := db.Statement
		ctx := stmt.Context
		if ctx == nil || ctx.Value(inAssociations{}) == nil {
			hooks(db)
			return
		}
		stmt.Context = context.WithValue(context.WithValue(ctx, inAssociations{}, nil), associationOptions{}, nil)
		defer func() { stmt.Context = ctx }()
		hooks(db)
	}
}

// Build implements clause.Expression; Options adds no SQL of its own.
func (Options) Build(clause.Builder) {}

// statementOptions returns the options of the statement merged over cfg,
// whether the statement carries Options, and whether it asks for the bulk
// path (through Options or Config.Auto).
func statementOptions(stmt *gorm.Statement, cfg Config) (merged Options, explicit, ok bool) {
	merged = Options{BatchSize: cfg.BatchSize}
	o, explicit := requestedOptions(stmt)
	if explicit {
		if o.Disable {
			return o, true, false
		}
		if o.BatchSize > 0 {
			merged.BatchSize = o.BatchSize
		}
		merged.SkipReturning = o.SkipReturning
		merged.Method = o.Method
		merged.CommitChunks = o.CommitChunks
	}
	return merged, explicit, explicit || cfg.Auto
}
