package bulk

import (
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

// Plugin is the GORM plugin; register it with db.Use(bulk.New()).
type Plugin struct {
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

// Initialize implements gorm.Plugin. It replaces gorm:create with a handler
// that takes the bulk path where a statement asks for it and otherwise runs
// the dialect's own create, which it keeps. Calling it again on the same DB
// keeps the first original handler rather than wrapping the wrapper.
func (p *Plugin) Initialize(db *gorm.DB) error {
	create := db.Callback().Create()
	if p.original == nil {
		p.original = create.Get(createName)
	}
	if p.original == nil {
		return gorm.ErrInvalidDB
	}
	p.dialect, p.supported = discoverDialect(db)
	if p.dialect.postgres && p.dialect.server == "" {
		p.dialect.copy, p.dialect.arrays = preparePostgres(db)
	}

	if err := create.Replace(createName, p.create); err != nil {
		return err
	}
	if create.Get(finishName) == nil {
		return create.After("*").Register(finishName, finish)
	}
	return nil
}
