//go:build browser

package app

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// The browser test of the organizer's console on a phone (390×844): the
// organizer filters the pending applications, ticks ten of them and
// approves them in one bulk action.

func TestBrowserConsoleBulkApprove(t *testing.T) {
	env := newTestEnv(t)
	cw := newConsoleWorld(t, env, "console-phone-2026", 12)
	base := serveForBrowser(t, env)
	browser := newBrowser(t)

	org := bcTab(t, browser, "organizer")
	browserDo(t, org, "emulate a phone", bbPhone())
	bcSignIn(t, org, base, "organizer-"+cw.slug+"@example.com")
	browserDo(t, org, "open the pending applications", chromedp.Navigate(base+"/organizer/fairs/"+cw.slug+"?astatus=pending#applications"))
	browserWantText(t, org, "[data-testid=pending-count]", "12")
	bbWantFits(t, org, "the console page")

	for _, id := range cw.apps[:10] {
		browserDo(t, org, "tick application "+id, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#app-%s [data-testid=application-check]`, id))))
	}
	ticked := browserRun(t, org, "count the ticked boxes", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=application-check]:checked').length`))
	if ticked != 10 {
		t.Fatalf("%d boxes ticked, want 10", ticked)
	}
	res := browserNavigate(t, org, "approve the ten", chromedp.Click(chromedp.CSS("[data-testid=bulk-approve]")))
	browserWantStatus(t, org, "approve the ten", res.Status, http.StatusOK)
	browserWantText(t, org, "[data-testid=flash]", "已全部处理。")
	browserWantText(t, org, "[data-testid=pending-count]", "2")
	if n := countRows(t, env, "applications", "fair_id IN (SELECT id FROM fairs WHERE slug = ?) AND status = 'approved'", cw.slug); n != 12 {
		t.Errorf("%d approved applications, want the 10 and newWorld's 2", n)
	}
	for _, id := range cw.apps[10:] {
		if n := countRows(t, env, "applications", "id = ? AND status = 'pending'", id); n != 1 {
			t.Errorf("application %s left unticked was decided", id)
		}
	}
	// The page stays on the pending filter: the two left, still to decide.
	browserDo(t, org, "see the two left", chromedp.WaitVisible(chromedp.CSS(`[data-testid=application-row][data-status=pending]`)))
	left := browserRun(t, org, "count the rows", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=application-row]').length`))
	if left != 2 {
		t.Errorf("%d rows on the pending list after the bulk approval, want 2", left)
	}
	bbWantFits(t, org, "the console page after the bulk approval")
}
