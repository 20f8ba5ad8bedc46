package web

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"miaohui/catalog"
)

// The console forms' one protocol. A submit handler checks who may post
// (s.console or s.shopper), reads the form, calls the service and hands the
// outcome to finish: on success a flash message and a redirect (303); on a
// validation error or a conflict the form knows, its page again with the
// posted inputs, the field errors and the status (422 or 409); anything
// else goes to the error handler.

// form is how one form of a console page comes back after a failure.
type form struct {
	name     string   // the form's key on the page: Form and Errors under "<name>.<input>"
	inputs   []string // the posted inputs shown again
	conflict string   // the message id of catalog.ErrConflict; "" leaves conflicts to the error handler
	field    string   // the input a conflict is about, marked with its message too (optional)
	title    string   // the title id of the page shown again
	// values are more of the form's values for the page, not posted: which
	// item's form comes open, say.
	values map[string]string
	// show renders the page the form is on with the status.
	show func(p *Page, status int) error
}

// finish ends a submission: nil err leaves the message flashID and goes to
// next (303); a validation error or the form's conflict shows the form's
// page again; any other error is returned.
func (s *Site) finish(c *fiber.Ctx, err error, flashID, next string, f form) error {
	if err == nil {
		flash(c, flashID)
		return c.Redirect(next, http.StatusSeeOther)
	}
	p := s.page(c, f.title)
	keep(c, p, f.name, f.inputs...)
	for k, v := range f.values {
		p.Form[f.name+"."+k] = v
	}
	status, err := s.formFailed(p, f.name, err, f.conflict)
	if err != nil {
		return err
	}
	if status == http.StatusConflict && f.field != "" {
		p.Errors[f.name+"."+f.field] = p.Error
	}
	return f.show(p, status)
}

// formFailed puts a localised message for a failed form on the page and
// returns the status to answer with. A validation error marks each field
// (message "err.<form>.<field>", or a generic one naming the field); a
// conflict gets the message conflictID when one is given. Any other error is
// returned, for the error handler. A nil err gives status 0.
func (s *Site) formFailed(p *Page, form string, err error, conflictID string) (int, error) {
	var ve *catalog.ValidationError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			key := form + "." + f.Field
			if _, dup := p.Errors[key]; dup {
				continue
			}
			msg := p.T("err." + key)
			if msg == "err."+key {
				msg = p.T("err.invalid", "Field", f.Field)
			}
			p.Errors[key] = msg
		}
		p.Error = p.Errors[form+"."+ve.Fields[0].Field]
		return http.StatusUnprocessableEntity, nil
	case conflictID != "" && errors.Is(err, catalog.ErrConflict):
		p.Error = p.T(conflictID)
		return http.StatusConflict, nil
	}
	return 0, err
}

// keep puts the posted values of a form's inputs back on the page.
func keep(c *fiber.Ctx, p *Page, form string, inputs ...string) {
	for _, in := range inputs {
		p.Form[form+"."+in] = c.FormValue(in)
	}
}

// The inputs of the forms that stand on more than one page.
var (
	productInputs = []string{"title", "description", "price", "stock", "kind", "fulfillment", "category", "offset_value", "valid_until", "active"}
	fairInputs    = []string{"slug", "name", "name_en", "description", "description_en", "kind", "starts_at", "ends_at", "commission", "published"}
	flashInputs   = []string{"product_id", "price", "quantity", "per_user_limit", "starts_at", "ends_at"}
)

// defaults fills the form's values not already on the page (those posted
// back after an error stay).
func defaults(p *Page, form string, values map[string]string) {
	for k, v := range values {
		if _, ok := p.Form[form+"."+k]; !ok {
			p.Form[form+"."+k] = v
		}
	}
}

// formPtr is a posted value, or nil when the form has no such input.
func formPtr(c *fiber.Ctx, name string) *string {
	args := c.Request().PostArgs()
	if !args.Has(name) {
		return nil
	}
	v := string(args.Peek(name))
	return &v
}
