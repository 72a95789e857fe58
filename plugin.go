package bulk

import (
	"sync"

	"gorm.io/gorm"
)

// Config sets the plugin's defaults. Per-call Options override them.
type Config struct {
	// Auto sends every multi-row Create and every CreateInBatches through
	// the bulk path, with no other change to the calling code.
	Auto bool

	// BatchSize caps the rows per statement for every bulk create; 0 sizes
	// statements to the dialect's limits.
	BatchSize int
}

// Plugin is the GORM plugin; register it with db.Use(bulk.New()). One
// Plugin may be registered on several DBs: each keeps its own handler,
// dialect and caches.
type Plugin struct {
	config Config
	dbs    sync.Map // *gorm.Config → *registration
}

// registration is the plugin on one DB (one *gorm.Config, whose callbacks
// it replaces): GORM's original create handler, the dialect's profile and
// the caches of what the database says.
type registration struct {
	config        Config
	dialect       dialect
	supported     bool
	original      func(*gorm.DB)
	reasons       reasons
	catalog       pgCatalog
	sqliteCatalog sqliteCatalog
}

// New returns the plugin, configured by an optional Config.
func New(config ...Config) *Plugin {
	p := &Plugin{}
	if len(config) > 0 {
		p.config = config[0]
	}
	return p
}

// Name implements gorm.Plugin.
func (p *Plugin) Name() string { return pluginName }

const pluginName = "gormbulk"

const (
	createName = "gorm:create"
	finishName = "gormbulk:finish"
)

// Initialize implements gorm.Plugin. It replaces gorm:create among db's
// callbacks with a handler that takes the bulk path where a statement asks
// for it and otherwise runs the dialect's own create, which it keeps, and
// wraps GORM's association and hook callbacks so that a statement's
// Options reach its associations' creates and not its hooks' creates.
// Called again for the same callbacks (dbresolver opens its pools with the
// DB's plugins), it keeps the first original handler rather than wrapping
// the wrapper, and wraps the new pool for COPY.
func (p *Plugin) Initialize(db *gorm.DB) error {
	if r, ok := p.dbs.Load(db.Config); ok {
		if d := r.(*registration).dialect; d.postgres && d.server.mayBePostgres() {
			preparePostgres(db)
		}
		return nil
	}
	create := db.Callback().Create()
	r := &registration{config: p.config, original: create.Get(createName)}
	if r.original == nil {
		return gorm.ErrInvalidDB
	}
	r.dialect, r.supported = discoverDialect(db)
	if r.dialect.postgres && r.dialect.server.mayBePostgres() {
		r.dialect.copy, r.dialect.arrays = preparePostgres(db)
	}
	if err := create.Replace(createName, r.create); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		wrap func(func(*gorm.DB)) func(*gorm.DB)
	}{
		{"gorm:before_create", outsideAssociations},
		{"gorm:save_before_associations", withAssociationOptions},
		{"gorm:save_after_associations", withAssociationOptions},
		{"gorm:after_create", outsideAssociations},
	} {
		if fn := create.Get(c.name); fn != nil {
			if err := create.Replace(c.name, c.wrap(fn)); err != nil {
				return err
			}
		}
	}
	p.dbs.Store(db.Config, r)
	if create.Get(finishName) == nil {
		return create.After("*").Register(finishName, finish)
	}
	return nil
}
