package bulk

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// pgColumn is what the catalog says of a column.
type pgColumn struct {
	// cast is the column's type as SQL with no modifier, and for a domain
	// its base type's: what an array element is cast to before the
	// column's own assignment rules (length, precision, domain checks)
	// apply to it, as they apply to GORM's parameters. A cast to the
	// column's full type would truncate where the INSERT errors.
	cast string
	// builtin is the base type's name where it is one of PostgreSQL's own
	// (pg_catalog's typname: "int4", "varchar", …), else "".
	builtin string
	// domain is set for a column whose type is a domain. pgx knows no
	// domain, so GORM's parameters for it travel as text, whatever their
	// Go type.
	domain bool
	// oid is the column's own type (a domain's, not its base type's): the
	// type the server gives GORM's parameter for the column, by which pgx
	// picks the parameter's format and encoding.
	oid      uint32
	identity string // pg_attribute.attidentity: "a" ALWAYS, "d" BY DEFAULT, ""
	// seq is the sequence the column's default draws from, if any.
	seq *pgSequence
	// unique is set where a unique index on the column alone, immediate,
	// valid, without predicate or expression, can arbitrate ON CONFLICT on
	// it (copyUpsert).
	unique bool
}

// isArray reports whether the column holds arrays.
func (col pgColumn) isArray() bool { return strings.HasSuffix(col.cast, "[]") }

// pgTable returns the statement's table as pgx names it (see tableParts).
func pgTable(stmt *gorm.Statement) (pgx.Identifier, bool) {
	parts, ok := tableParts(stmt)
	return pgx.Identifier(parts), ok
}

// pgTableInfo is what one read of the catalog says of a table: its
// columns, what keeps COPY off it, and the stamp that tells whether it
// still holds.
type pgTableInfo struct {
	columns map[string]pgColumn
	// plain is set for a plain or partitioned table; rules, rls (row-level
	// security applies to the current user) and triggers (BEFORE INSERT
	// row triggers, also on partitions) keep COPY off it. userTriggers:
	// any trigger of the user's, also on partitions.
	plain, rules, rls, triggers, userTriggers bool
	// undoable is set where a statement rolled back to a savepoint leaves
	// nothing behind that changes what the table gets next: no default
	// draws from a sequence (or an identity) or calls a function of the
	// user's (which may), and no trigger or rule runs. Built-in functions
	// leave nothing: a default is nextval's only way to a sequence, and
	// pg_depend records it.
	undoable  bool
	stamp     string
	sequences []uint32 // the oids of the columns' sequences
}

// stampQuery reads a table's stamp, given the table and its sequences,
// and with it what each sequence readable by the user last handed out
// (pg_sequence_last_value, see pgSequence.next; empty when it is not
// readable or not yet called), in the order of the sequences given: a
// COPY that proves its keys needs it before its first chunk, and the
// stamp's round trip carries it there.
var stampQuery = "SELECT " + fmt.Sprintf(tableStampFormat, "$2::oid[]") + `,
  (SELECT string_agg(coalesce(CASE WHEN has_sequence_privilege(q.s, 'SELECT') THEN pg_sequence_last_value(q.s)::text END, ''), ',' ORDER BY q.i)
     FROM unnest($2::oid[]) WITH ORDINALITY AS q(s, i))`

// sequenceLastKey holds, on a statement, what stampQuery read of the
// table's sequences: oid → last value handed out.
const sequenceLastKey = "gormbulk:sequence_last"

// tableStamp changes whenever anything the catalog read depends on may
// have: the catalog rows of the table's columns, their types, defaults,
// triggers (also on partitions), rules, partitions, indexes and sequences are
// rewritten (a new xmin) by the DDL that changes them; the name resolves
// through search_path (to_regclass), type names are written relative to it
// (format_type), and row-level security and sequence privileges depend on
// the role (a sequence's grants are in its pg_class row). The table's own
// pg_class row is left out: TRUNCATE rewrites it,
// and what the read takes from it is its kind (fixed) and whether
// row-level security applies, which row_security_active says directly.
// Reading the stamp touches only the catalog's indexes on the table's oid,
// and on the oids of the sequences the columns' defaults draw from, which
// the read found: another sequence behind a default is another default.
const tableStampFormat = `(SELECT md5(concat_ws('/', t.oid, current_user, current_schemas(true)::text, row_security_active(t.oid),
  (SELECT string_agg(a.xmin || ':' || ty.xmin || ':' || coalesce(bt.xmin::text, ''), ',' ORDER BY a.attnum)
     FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid LEFT JOIN pg_type bt ON bt.oid = ty.typbasetype
    WHERE a.attrelid = t.oid AND a.attnum > 0),
  (SELECT string_agg(xmin::text, ',' ORDER BY adnum) FROM pg_attrdef WHERE adrelid = t.oid),
  (SELECT string_agg(xmin::text, ',' ORDER BY oid) FROM pg_trigger WHERE tgrelid = t.oid OR tgrelid IN (SELECT relid FROM pg_partition_tree(t.oid))),
  (SELECT string_agg(xmin::text, ',' ORDER BY oid) FROM pg_rewrite WHERE ev_class = t.oid),
  (SELECT string_agg(xmin::text, ',' ORDER BY inhrelid) FROM pg_inherits WHERE inhparent = t.oid),
  (SELECT string_agg(xmin::text, ',' ORDER BY indexrelid) FROM pg_index WHERE indrelid = t.oid),
  (SELECT string_agg(s.xmin || ':' || q.xmin, ',' ORDER BY s.oid)
     FROM pg_class s JOIN pg_sequence q ON q.seqrelid = s.oid WHERE s.oid = ANY(t.seqs))
)) FROM (SELECT to_regclass($1)::oid AS oid, %s AS seqs OFFSET 0) t)`

// tableInfoQuery reads a table's columns, following each column's domains
// down to the base type (format_type with typmod -1 names a type with no
// modifier in a form that casts to the type itself: "bpchar" and "bit"
// rather than character(1) and bit(1)), the sequence each column's default
// draws from where it is exactly nextval('seq') (serial, bigserial) or an
// identity (a default that is another expression over a sequence gets
// other values from it), what keeps COPY off the table, and the stamp.
var tableInfoQuery = `
WITH RECURSIVE t AS (SELECT to_regclass($1)::oid AS oid),
col AS (
SELECT a.attnum, a.attname, a.attidentity::text AS identity, a.atttypid AS own, a.atttypid AS typ, false AS domain
  FROM t JOIN pg_attribute a ON a.attrelid = t.oid
 WHERE a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT col.attnum, col.attname, col.identity, col.own, ty.typbasetype, true
  FROM col JOIN pg_type ty ON ty.oid = col.typ AND ty.typtype = 'd'
),
seq AS (
SELECT d.adnum AS attnum, s.oid
  FROM t JOIN pg_attrdef d ON d.adrelid = t.oid
  JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_class'::regclass
  JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
 WHERE pg_get_expr(d.adbin, d.adrelid) = format('nextval(%L::regclass)', s.oid::regclass::text)
UNION ALL
SELECT a.attnum, to_regclass(pg_get_serial_sequence($1, a.attname))::oid
  FROM t JOIN pg_attribute a ON a.attrelid = t.oid
 WHERE a.attnum > 0 AND a.attidentity <> ''
)
SELECT col.attname, col.identity, col.domain, col.own, format_type(col.typ, -1),
       CASE WHEN ty.typnamespace = 'pg_catalog'::regnamespace THEN ty.typname::text ELSE '' END,
       seq.oid, seq.oid::regclass::text, q.seqincrement,
       q.seqcache = 1 AND NOT q.seqcycle AND has_sequence_privilege(seq.oid, 'SELECT'),
       has_sequence_privilege(seq.oid, 'USAGE') OR has_sequence_privilege(seq.oid, 'UPDATE'),
       EXISTS (SELECT FROM pg_index i
                WHERE i.indrelid = c.oid AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL
                  AND i.indexprs IS NULL AND i.indnkeyatts = 1 AND i.indkey[0] = col.attnum),
       c.relkind IN ('r', 'p'), c.relhasrules, row_security_active(c.oid),
       EXISTS (SELECT FROM pg_trigger tg
                WHERE (tg.tgrelid = c.oid OR tg.tgrelid IN (SELECT relid FROM pg_partition_tree(c.oid)))
                  AND tg.tgtype & 7 = 7 AND tg.tgenabled <> 'D'),
       EXISTS (SELECT FROM pg_trigger tg
                WHERE (tg.tgrelid = c.oid OR tg.tgrelid IN (SELECT relid FROM pg_partition_tree(c.oid))) AND NOT tg.tgisinternal),
       NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attidentity <> '')
         AND NOT EXISTS (SELECT FROM pg_attrdef d JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
                          WHERE d.adrelid = c.oid AND (dep.refclassid = 'pg_proc'::regclass OR (dep.refclassid = 'pg_class'::regclass AND dep.refobjid <> c.oid))),
       ` + fmt.Sprintf(tableStampFormat, "ARRAY(SELECT oid FROM seq)") + `
  FROM col JOIN pg_type ty ON ty.oid = col.typ
  JOIN t ON true JOIN pg_class c ON c.oid = t.oid
  LEFT JOIN seq ON seq.attnum = col.attnum
  LEFT JOIN pg_sequence q ON q.seqrelid = seq.oid
 WHERE ty.typtype <> 'd'`

// pgCatalog caches per table what the catalog says of it, for the life of
// the plugin. A call makes one round trip for its table: the stamp, which
// reads only the catalog's indexes, and when it differs (DDL, another
// table behind the name, another role or search_path) the table read
// afresh.
type pgCatalog struct {
	tables sync.Map // table name, quoted → *pgTableInfo
}

// tableInfoKey holds, on a statement, what table said of its table, so
// that a call checks the stamp once though COPY and then the statement
// path ask.
const tableInfoKey = "gormbulk:table_info"

// table returns what the catalog says of the statement's table, or nil
// when it cannot be read (the chunks then use VALUES, and COPY steps
// aside).
func (c *pgCatalog) table(db *gorm.DB) *pgTableInfo {
	if v, ok := db.InstanceGet(tableInfoKey); ok {
		return v.(*pgTableInfo)
	}
	l := streamLoad(db)
	if info := l.tableInfo(db.Statement.Table); info != nil {
		db.InstanceSet(tableInfoKey, info)
		return info
	}
	info := c.read(db)
	db.InstanceSet(tableInfoKey, info)
	l.keepTableInfo(db.Statement.Table, info)
	return info
}

// read returns the cached table where its stamp still holds, else reads
// it afresh.
func (c *pgCatalog) read(db *gorm.DB) *pgTableInfo {
	stmt := db.Statement
	table, ok := pgTable(stmt)
	if !ok {
		return nil
	}
	name := table.Sanitize()
	if cached, ok := c.tables.Load(name); ok {
		var stamp string
		var lasts sql.NullString
		info := cached.(*pgTableInfo)
		if err := unprepared(stmt.ConnPool).QueryRowContext(stmt.Context, stampQuery, name, info.sequences).Scan(&stamp, &lasts); err == nil && stamp == info.stamp {
			last := map[uint32]int64{}
			for i, v := range strings.Split(lasts.String, ",") {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && i < len(info.sequences) {
					last[info.sequences[i]] = n
				}
			}
			db.InstanceSet(sequenceLastKey, last)
			return info
		}
	}
	info := readTableInfo(stmt, name)
	if info == nil {
		c.tables.Delete(name)
		return nil
	}
	c.tables.Store(name, info)
	return info
}

// readTableInfo reads the table from the catalog, or returns nil.
func readTableInfo(stmt *gorm.Statement, name string) *pgTableInfo {
	rows, err := unprepared(stmt.ConnPool).QueryContext(stmt.Context, tableInfoQuery, name)
	if err != nil {
		return nil
	}
	defer rows.Close()
	info := &pgTableInfo{columns: map[string]pgColumn{}}
	for rows.Next() {
		var (
			name     string
			col      pgColumn
			seqOID   sql.NullInt64
			seq      sql.NullString
			step     sql.NullInt64
			provable sql.NullBool
			drawable sql.NullBool
			defaults bool // no default draws from a sequence or calls the user's function
		)
		if rows.Scan(&name, &col.identity, &col.domain, &col.oid, &col.cast, &col.builtin, &seqOID, &seq, &step, &provable, &drawable, &col.unique,
			&info.plain, &info.rules, &info.rls, &info.triggers, &info.userTriggers, &defaults, &info.stamp) != nil {
			return nil
		}
		info.undoable = defaults && !info.rules && !info.userTriggers
		if seq.Valid {
			col.seq = &pgSequence{oid: uint32(seqOID.Int64), name: seq.String, increment: step.Int64, provable: provable.Bool, drawable: drawable.Bool}
			info.sequences = append(info.sequences, uint32(seqOID.Int64))
		}
		info.columns[name] = col
	}
	if rows.Err() != nil || len(info.columns) == 0 {
		return nil
	}
	return info
}

// copyRefusal says why COPY into the table would not do what GORM's INSERT
// does, or "". COPY applies no rules, refuses a table whose row-level
// security applies to the user, and cannot see what a BEFORE INSERT row
// trigger changes in the values RETURNING would read back.
func (info *pgTableInfo) copyRefusal(readsBack bool) string {
	switch {
	case !info.plain:
		return "the target is not a table"
	case info.rules:
		return "the table has rules, which COPY does not apply"
	case info.rls:
		return "row-level security applies to the table, and COPY FROM refuses it"
	case info.triggers && readsBack:
		return "the table has BEFORE INSERT row triggers, which may change what RETURNING reads back"
	}
	return ""
}

// upsertRefusal says why COPY into the table would not do what the
// statement's upsert does, or "". Where no row conflicts, an upsert
// inserts what a COPY inserts; no row conflicts where the conflict target
// is the key alone and every row leaves its key to the key's sequence
// (planCopy checks the rows), but for a key taken by hand, after which the
// chunk goes as the upsert (copyWriter.writeUpsert). Without a unique
// index to arbitrate the upsert fails, and an upsert that may update fires
// the table's UPDATE statement triggers.
func (info *pgTableInfo) upsertRefusal(stmt *gorm.Statement) string {
	c, _ := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	pk := stmt.Schema.PrioritizedPrimaryField
	if pk == nil || len(stmt.Schema.PrimaryFields) != 1 || len(c.TargetWhere.Exprs) > 0 || !conflictsOnlyOn(stmt, pk) {
		return "COPY takes upserts whose conflict target is the key alone"
	}
	switch {
	case !info.columns[pk.DBName].unique:
		return fmt.Sprintf("no unique index on %s alone arbitrates the upsert", pk.DBName)
	case info.userTriggers:
		return "the table has triggers, which an upsert fires otherwise than COPY"
	}
	return ""
}
