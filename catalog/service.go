package catalog

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/uptrace/bun"
)

// Service is the catalog's business logic: every exported method checks who
// may do what and runs in one transaction.
type Service struct {
	db       *bun.DB
	now      Clock
	mediaDir string
	docsDir  string // private files: applications' licence documents
	events   Events
	people   People
	search   Searcher
}

// People tells who users are, for the lists that name them (a development's
// bookings, for its merchant). The accounts implement it: the users' table is
// theirs.
type People interface {
	// Contacts returns the name and email of each of ids that exists.
	Contacts(ctx context.Context, ids []string) (map[string]Contact, error)
	// UserIDByEmail returns the id of the user registered with email, or ""
	// when there is none.
	UserIDByEmail(ctx context.Context, email string) (string, error)
}

// Contact is how a user is named to a merchant.
type Contact struct {
	Name  string
	Email string
}

// WithPeople returns the service naming users through p.
func (s *Service) WithPeople(p People) *Service {
	s.people = p
	return s
}

// Events is what the catalog asks of the background workers after its
// transactions commit (the jobs package implements it).
type Events interface {
	// ApplicationDecided tells the merchant the organizer's answer.
	ApplicationDecided(ctx context.Context, app *Application) error
	// FairChanged follows a change of a fair's dates or publication, or of
	// one of its stalls' status: its flash sales' admission is bounded again.
	FairChanged(ctx context.Context, fairID string) error
	// StallStatusChanged tells the stall's merchant it was suspended or
	// reinstated, and why.
	StallStatusChanged(ctx context.Context, st *Stall, reason string) error
}

// NoEvents is Events that does nothing (tools that seed data).
type NoEvents struct{}

// ApplicationDecided does nothing.
func (NoEvents) ApplicationDecided(context.Context, *Application) error { return nil }

// FairChanged does nothing.
func (NoEvents) FairChanged(context.Context, string) error { return nil }

// StallStatusChanged does nothing.
func (NoEvents) StallStatusChanged(context.Context, *Stall, string) error { return nil }

// NewService returns the catalog service; uploaded images are stored under
// dataDir/media (served as they are) and licence documents under
// dataDir/documents (served only to those who may read them).
func NewService(db *bun.DB, now Clock, dataDir string, events Events) *Service {
	return &Service{db: db, now: now, mediaDir: filepath.Join(dataDir, "media"), docsDir: filepath.Join(dataDir, "documents"),
		events: events, search: NewDBSearcher(db)}
}

// WithSearcher returns the service answering product searches with se
// instead of the database's own index.
func (s *Service) WithSearcher(se Searcher) *Service {
	s.search = se
	return s
}

// DB is the database the service works on.
func (s *Service) DB() *bun.DB { return s.db }

// MediaDir is where uploaded images are stored.
func (s *Service) MediaDir() string { return s.mediaDir }

// notFound is NotFound.
func notFound(err error, what string) error { return NotFound(err, what) }

// hidden is the error of a lookup the actor may not see: ErrNotFound naming
// what when err is one, any other error (the database's) passed on.
func hidden(err error, what string) error {
	if errors.Is(err, ErrNotFound) {
		return Failf(ErrNotFound, "%s", what)
	}
	return err
}

func (s *Service) tx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return s.db.RunInTx(ctx, nil, fn)
}

// UserIDByEmail returns the id of the user registered with email, or ""
// when there is none (for other domains' searches, such as the organizer's
// order desk). Without People it finds no one.
func (s *Service) UserIDByEmail(ctx context.Context, email string) (string, error) {
	if s.people == nil {
		return "", nil
	}
	return s.people.UserIDByEmail(ctx, email)
}

// Contacts names users (for other domains' lists); without People it names
// no one.
func (s *Service) Contacts(ctx context.Context, ids []string) (map[string]Contact, error) {
	if s.people == nil || len(ids) == 0 {
		return map[string]Contact{}, nil
	}
	return s.people.Contacts(ctx, ids)
}
