package catalog

import (
	"bytes"
	"context"
	"image"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// Licence documents (营业执照、食品经营许可证): files a merchant attaches to
// an application for the organizer to check. They are private to the
// merchant and the fair's organizer, so they are stored under the data
// directory's documents folder, never under the public media, and served
// only through the API after the same check.

// Document limits: a scan or a phone photo of a licence, or a PDF. The
// server's request body limit (8 MiB by default) leaves room for the form.
const (
	MaxDocumentBytes           = 5 << 20 // 5 MiB
	MaxDocumentsPerApplication = 10
)

// documentTypes are the formats accepted, by sniffed content type, with the
// extension stored.
var documentTypes = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}

// Document is a licence document attached to an application.
type Document struct {
	bun.BaseModel `bun:"table:application_documents"`

	ID            string    `bun:",pk" json:"id"`
	ApplicationID string    `json:"application_id"`
	Name          string    `json:"name" doc:"the file's name as uploaded"`
	File          string    `json:"-"`
	ContentType   string    `json:"content_type" enum:"image/jpeg,image/png,application/pdf"`
	Size          int64     `json:"size"`
	CreatedAt     time.Time `json:"created_at"`
	URL           string    `bun:"-" json:"url" doc:"where its merchant and the fair's organizer download it"`
}

func (d *Document) fillURL() {
	d.URL = "/api/v1/applications/" + d.ApplicationID + "/documents/" + d.ID
}

// ApplicationAccess says how the actor relates to an application.
type ApplicationAccess struct {
	Application *Application
	Fair        *Fair
	Merchant    bool // the actor applied
	Organizer   bool // the actor runs the fair
}

// applicationAccess loads an application for its merchant or the fair's
// organizer; for anyone else it does not exist.
func (s *Service) applicationAccess(ctx context.Context, db bun.IDB, a Actor, id string) (ApplicationAccess, error) {
	app := new(Application)
	if err := db.NewSelect().Model(app).Where("id = ?", id).Scan(ctx); err != nil {
		return ApplicationAccess{}, notFound(err, "application")
	}
	f, err := s.FairByID(ctx, db, app.FairID)
	if err != nil {
		return ApplicationAccess{}, err
	}
	aa := ApplicationAccess{Application: app, Fair: f,
		Merchant: a.UserID != "" && app.MerchantID == a.UserID, Organizer: a.UserID != "" && f.OrganizerID == a.UserID}
	if !aa.Merchant && !aa.Organizer {
		return ApplicationAccess{}, Fail(ErrNotFound, "application")
	}
	return aa, nil
}

// AddDocument stores a licence document the merchant uploads to their own
// application while it is pending or approved: a JPEG, PNG (checked to be a
// readable picture) or PDF, by content rather than by name, of at most
// MaxDocumentBytes. The fair's organizer may read it but not add to it;
// anyone else is told the application does not exist.
func (s *Service) AddDocument(ctx context.Context, a Actor, applicationID, name string, data []byte) (*Document, error) {
	aa, err := s.applicationAccess(ctx, s.db, a, applicationID)
	if err != nil {
		return nil, err
	}
	if !aa.Merchant {
		return nil, Fail(ErrForbidden, "only the merchant who applied attaches documents")
	}
	ctype, err := CheckDocument(data)
	if err != nil {
		return nil, err
	}
	now := s.now()
	doc := &Document{ID: NewID(), ApplicationID: applicationID, Name: documentName(name, ctype), ContentType: ctype, Size: int64(len(data)), CreatedAt: now}
	doc.File = path.Join(applicationID, doc.ID+documentTypes[ctype])
	file := filepath.Join(s.docsDir, filepath.FromSlash(doc.File))
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		// Uploads to one application take turns, so the count below stays true.
		app := new(Application)
		if err := ForUpdate(tx.NewSelect().Model(app).Where("id = ?", applicationID)).Scan(ctx); err != nil {
			return notFound(err, "application")
		}
		if app.Status == ApplicationRejected {
			return Fail(ErrConflict, "the application was rejected: apply again to attach documents")
		}
		n, err := tx.NewSelect().Model((*Document)(nil)).Where("application_id = ?", applicationID).Count(ctx)
		if err != nil {
			return err
		}
		if n >= MaxDocumentsPerApplication {
			return Failf(ErrConflict, "an application holds at most %d documents", MaxDocumentsPerApplication)
		}
		if _, err := tx.NewInsert().Model(doc).Exec(ctx); err != nil {
			return err
		}
		if err := Audit(ctx, tx, now, a, app.FairID, "application_document.upload", app.ID,
			map[string]any{"document_id": doc.ID, "name": doc.Name, "content_type": ctype, "size": doc.Size}); err != nil {
			return err
		}
		// The file is written last: if it fails the rows roll back; if the
		// commit fails it is removed below.
		return writeFileAtomic(file, data)
	})
	if err != nil {
		os.Remove(file)
		return nil, err
	}
	doc.fillURL()
	return doc, nil
}

// CheckDocument returns the content type of an acceptable licence document
// (for forms that check an upload before filing what it is attached to).
func CheckDocument(data []byte) (string, error) {
	const field = "document"
	if len(data) == 0 {
		return "", Invalid(field, "is required")
	}
	if len(data) > MaxDocumentBytes {
		return "", Invalid(field, "must be at most 5 MiB")
	}
	ctype := http.DetectContentType(data)
	if _, ok := documentTypes[ctype]; !ok {
		return "", Invalid(field, "must be a JPEG or PNG image or a PDF")
	}
	if strings.HasPrefix(ctype, "image/") {
		if _, format, err := image.DecodeConfig(bytes.NewReader(data)); err != nil || "image/"+format != ctype {
			return "", Invalid(field, "is not a readable image")
		}
	}
	return ctype, nil
}

// documentName is the uploaded file's name made safe to show and to send
// back: its base name, printable characters only, at most 100 of them; a
// name of the content type when nothing is left.
func documentName(name, ctype string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || r == '"' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 100 {
		name = string([]rune(name)[:100])
	}
	if name == "" || name == "." || name == ".." || name == "/" {
		name = "document" + documentTypes[ctype]
	}
	return name
}

// Documents lists an application's documents for its merchant and the
// fair's organizer, oldest first.
func (s *Service) Documents(ctx context.Context, a Actor, applicationID string) ([]Document, error) {
	if _, err := s.applicationAccess(ctx, s.db, a, applicationID); err != nil {
		return nil, err
	}
	return documentsOf(ctx, s.db, applicationID)
}

func documentsOf(ctx context.Context, db bun.IDB, applicationID string) ([]Document, error) {
	var rows []Document
	if err := db.NewSelect().Model(&rows).Where("application_id = ?", applicationID).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].fillURL()
	}
	return rows, nil
}

// DocumentsOf lists the documents of each of applicationIDs that has some
// (for the organizer's list of applications, who may see them all).
func (s *Service) DocumentsOf(ctx context.Context, applicationIDs []string) (map[string][]Document, error) {
	out := map[string][]Document{}
	if len(applicationIDs) == 0 {
		return out, nil
	}
	var rows []Document
	err := s.db.NewSelect().Model(&rows).Where("application_id IN (?)", bun.In(applicationIDs)).OrderExpr("id ASC").Scan(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range rows {
		d.fillURL()
		out[d.ApplicationID] = append(out[d.ApplicationID], d)
	}
	return out, nil
}

// DocumentFile returns a document and its bytes for the application's
// merchant or the fair's organizer; for anyone else it does not exist.
func (s *Service) DocumentFile(ctx context.Context, a Actor, applicationID, documentID string) (*Document, []byte, error) {
	if _, err := s.applicationAccess(ctx, s.db, a, applicationID); err != nil {
		return nil, nil, err
	}
	doc := new(Document)
	if err := s.db.NewSelect().Model(doc).Where("id = ? AND application_id = ?", documentID, applicationID).Scan(ctx); err != nil {
		return nil, nil, notFound(err, "document")
	}
	data, err := os.ReadFile(filepath.Join(s.docsDir, filepath.FromSlash(doc.File)))
	if err != nil {
		return nil, nil, err
	}
	doc.fillURL()
	return doc, data, nil
}
