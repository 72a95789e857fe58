package bulk

import (
	"strings"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
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
}

// isArray reports whether the column holds arrays.
func (col pgColumn) isArray() bool { return strings.HasSuffix(col.cast, "[]") }

// pgTable returns the statement's table as a pgx identifier. GORM keeps
// the schema of db.Table("schema.table") only in TableExpr; a table
// expression that is not a plain name (an alias, a subquery) reports false.
func pgTable(stmt *gorm.Statement) (pgx.Identifier, bool) {
	if stmt.TableExpr == nil {
		return pgx.Identifier{stmt.Table}, stmt.Table != ""
	}
	if len(stmt.TableExpr.Vars) > 0 {
		return nil, false
	}
	parts := strings.Split(stmt.TableExpr.SQL, ".")
	for i, part := range parts {
		parts[i] = strings.Trim(part, `"`)
	}
	// Only a name quotes back to the text it came from.
	if stmt.Quote(strings.Join(parts, ".")) != stmt.TableExpr.SQL {
		return nil, false
	}
	return pgx.Identifier(parts), true
}

// tableColumnsQuery follows each column's domains down to the base type.
// format_type with typmod -1 names a type with no modifier in a form that
// casts to the type itself: "bpchar" and "bit" rather than character(1)
// and bit(1).
const tableColumnsQuery = `
WITH RECURSIVE col AS (
SELECT a.attname, a.attidentity::text AS identity, a.atttypid AS own, a.atttypid AS typ, false AS domain
  FROM pg_attribute a
 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT col.attname, col.identity, col.own, t.typbasetype, true
  FROM col JOIN pg_type t ON t.oid = col.typ AND t.typtype = 'd'
)
SELECT col.attname, col.identity, col.domain, col.own, format_type(col.typ, -1),
       CASE WHEN t.typnamespace = 'pg_catalog'::regnamespace THEN t.typname::text ELSE '' END
  FROM col JOIN pg_type t ON t.oid = col.typ
 WHERE t.typtype <> 'd'`

// tableColumns reads the statement's table's columns from the catalog, or
// returns nil when they cannot be read; the chunks then use VALUES.
func tableColumns(db *gorm.DB) map[string]pgColumn {
	stmt := db.Statement
	table, ok := pgTable(stmt)
	if !ok {
		return nil
	}
	rows, err := stmt.ConnPool.QueryContext(stmt.Context, tableColumnsQuery, table.Sanitize())
	if err != nil {
		return nil
	}
	defer rows.Close()
	columns := map[string]pgColumn{}
	for rows.Next() {
		var name string
		var col pgColumn
		if rows.Scan(&name, &col.identity, &col.domain, &col.oid, &col.cast, &col.builtin) != nil {
			return nil
		}
		columns[name] = col
	}
	if rows.Err() != nil || len(columns) == 0 {
		return nil
	}
	return columns
}

// copyTarget says why COPY into the table would not do what GORM's INSERT
// does, or "". COPY applies no rules, refuses a table whose row-level
// security applies to the user, and cannot see what a BEFORE INSERT row
// trigger changes in the values RETURNING would read back.
func copyTarget(db *gorm.DB, table pgx.Identifier, readsBack bool) string {
	const query = `
SELECT c.relkind IN ('r', 'p'), c.relhasrules, row_security_active(c.oid),
       EXISTS (SELECT FROM pg_trigger t
                WHERE (t.tgrelid = c.oid OR t.tgrelid IN (SELECT relid FROM pg_partition_tree(c.oid)))
                  AND t.tgtype & 7 = 7 AND t.tgenabled <> 'D')
  FROM pg_class c WHERE c.oid = to_regclass($1)`
	var plain, rules, rls, triggers bool
	stmt := db.Statement
	if err := stmt.ConnPool.QueryRowContext(stmt.Context, query, table.Sanitize()).Scan(&plain, &rules, &rls, &triggers); err != nil {
		return "the table cannot be read from the catalog"
	}
	switch {
	case !plain:
		return "the target is not a table"
	case rules:
		return "the table has rules, which COPY does not apply"
	case rls:
		return "row-level security applies to the table, and COPY FROM refuses it"
	case triggers && readsBack:
		return "the table has BEFORE INSERT row triggers, which may change what RETURNING reads back"
	}
	return ""
}

// keySequence returns the sequence whose nextval gives a key column its
// default, or nil. Only a default that is exactly nextval('seq') (serial,
// bigserial), or an identity, qualifies: a key whose default is another
// expression over a sequence gets other values from it.
func keySequence(db *gorm.DB, table pgx.Identifier, key *schema.Field) *pgSequence {
	const query = `
WITH key AS (
SELECT s.oid
  FROM pg_attribute a
  JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_class'::regclass
  JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
 WHERE a.attrelid = to_regclass($1) AND a.attname = $2
   AND pg_get_expr(d.adbin, d.adrelid) = format('nextval(%L::regclass)', s.oid::regclass::text)
UNION ALL
SELECT to_regclass(pg_get_serial_sequence($1, $2)) FROM pg_attribute a
 WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attidentity <> ''
)
SELECT key.oid::regclass::text, s.seqincrement,
       s.seqcache = 1 AND NOT s.seqcycle AND has_sequence_privilege(key.oid, 'SELECT')
  FROM key JOIN pg_sequence s ON s.seqrelid = key.oid`
	var seq pgSequence
	stmt := db.Statement
	if err := stmt.ConnPool.QueryRowContext(stmt.Context, query, table.Sanitize(), key.DBName).Scan(&seq.name, &seq.increment, &seq.provable); err != nil {
		return nil
	}
	return &seq
}
