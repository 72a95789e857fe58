package bulk_test

import (
	"reflect"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/plugin/dbresolver"
	"gorm.io/plugin/opentelemetry/tracing"

	"github.com/gormbulk/bulk"
)

// TestAlongsideOtherPlugins registers the plugin with GORM's OpenTelemetry
// tracing and with dbresolver, the two plugins most often found next to
// it, and requires every path to leave GORM's rows and keys, and the trace
// one span named for the statement as GORM's. dbresolver opens its pools
// with the DB's plugins, so registered after gormbulk its sources get
// gormbulk's pool too, and every path remains; registered before, it keeps
// pools gormbulk never saw, where COPY steps aside and the statement path
// (arrays, VALUES) remains.
func TestAlongsideOtherPlugins(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		for _, setup := range []struct {
			name     string
			first    bool // gormbulk registered before dbresolver
			resolver func() dbresolver.Config
		}{
			{"source pool", true, func() dbresolver.Config {
				return dbresolver.Config{Sources: []gorm.Dialector{poolDialector(t, dialect, open(t))}}
			}},
			{"replicas only", true, func() dbresolver.Config {
				return dbresolver.Config{Replicas: []gorm.Dialector{poolDialector(t, dialect, open(t))}}
			}},
			{"source pool, dbresolver first", false, func() dbresolver.Config {
				return dbresolver.Config{Sources: []gorm.Dialector{poolDialector(t, dialect, open(t))}}
			}},
		} {
			t.Run(setup.name, func(t *testing.T) {
				spans := tracetest.NewSpanRecorder()
				counter := &statementCounter{Interface: logger.Discard}
				db := open(t, &gorm.Config{Logger: counter})
				if err := db.Use(tracing.NewPlugin(tracing.WithoutMetrics(), tracing.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))); err != nil {
					t.Fatal(err)
				}
				if setup.first {
					withPlugin(t, db, bulk.Config{Auto: true})
				}
				if err := db.Use(dbresolver.Register(setup.resolver())); err != nil {
					t.Fatal(err)
				}
				if !setup.first {
					withPlugin(t, db, bulk.Config{Auto: true})
				}

				for _, run := range []struct {
					name   string
					rows   int
					create func(db *gorm.DB, rows []ParityBasic) error
				}{
					{"auto", 600, func(db *gorm.DB, rows []ParityBasic) error { return db.Create(&rows).Error }},
					{"values", 150, func(db *gorm.DB, rows []ParityBasic) error {
						return db.Clauses(bulk.Options{Method: bulk.Values, BatchSize: 40}).Create(&rows).Error
					}},
				} {
					recreate(t, plain, &ParityBasic{})
					want := parityBasicRows(run.rows)
					if err := plain.Create(&want).Error; err != nil {
						t.Fatal(err)
					}
					wantTable := tableRows(t, plain, "parity_basics")

					recreate(t, plain, &ParityBasic{})
					got := parityBasicRows(run.rows)
					counter.sql, spans = nil, resetSpans(spans)
					if err := run.create(db, got); err != nil {
						t.Fatalf("%s: %v", run.name, err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s: structs differ from GORM's\n got: %s\nwant: %s", run.name, describe(got[:2]), describe(want[:2]))
					}
					if gotTable := tableRows(t, plain, "parity_basics"); !reflect.DeepEqual(gotTable, wantTable) {
						t.Errorf("%s: table differs from GORM's", run.name)
					}
					copied := false
					for _, s := range counter.sql {
						copied = copied || strings.HasPrefix(s, "COPY")
					}
					if want := dialect == "postgres" && run.name == "auto" && setup.first; copied != want {
						t.Errorf("%s: copied %v, want %v", run.name, copied, want)
					}
					// The span is named for the first statement, as for GORM's one.
					var names []string
					for _, s := range spans.Ended() {
						names = append(names, s.Name())
					}
					wantSpan := "insert parity_basics"
					if copied {
						wantSpan = "copy parity_basics"
					}
					if len(names) != 1 || names[0] != wantSpan {
						t.Errorf("%s: spans %q, want one %q", run.name, names, wantSpan)
					}
				}
			})
		}
	})
}

// poolDialector returns a dialector of db's dialect over db's own pool.
func poolDialector(t *testing.T, dialect string, db *gorm.DB) gorm.Dialector {
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	switch dialect {
	case "postgres":
		return postgres.New(postgres.Config{Conn: sqlDB})
	case "sqlite":
		return &sqlite.Dialector{Conn: sqlDB}
	}
	return mysql.New(mysql.Config{Conn: sqlDB, SkipInitializeWithVersion: false})
}

// resetSpans forgets the spans recorded so far.
func resetSpans(r *tracetest.SpanRecorder) *tracetest.SpanRecorder {
	r.Reset()
	return r
}
