package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/migrations"
)

// Who may do what with the platform's own machinery: the queues belong to
// admins (made by the operator CLI only), not to the organizers of fairs.

// archiveTask puts a task in the low queue's archive, as one that ran out of
// retries, and returns its re-run form's path.
func archiveTask(t *testing.T, e *testEnv, id string) string {
	t.Helper()
	client := asynq.NewClientFromRedisClient(e.redis.Client)
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask("access:test", []byte(`{}`)), asynq.Queue("low"), asynq.TaskID(id)); err != nil {
		t.Fatal(err)
	}
	if err := asynq.NewInspectorFromRedisClient(e.redis.Client).ArchiveTask("low", id); err != nil {
		t.Fatal(err)
	}
	return "/organizer/queues/low/archived/" + id + "/run"
}

func TestQueuesAdminOnly(t *testing.T) {
	t.Run("OrganizerForbidden", func(t *testing.T) {
		e := newTestEnv(t)
		_, org := e.organizer(t, "org@example.com")
		run := archiveTask(t, e, "access:org")
		wantProblem(t, e.do(req{Method: "GET", Path: "/organizer/queues", Token: org}), http.StatusForbidden, "forbidden")
		wantProblem(t, e.do(req{Method: "POST", Path: run, Token: org}), http.StatusForbidden, "forbidden")
		info, err := asynq.NewInspectorFromRedisClient(e.redis.Client).GetTaskInfo("low", "access:org")
		if err != nil || info.State != asynq.TaskStateArchived {
			t.Fatalf("task after the organizer's re-run: %v, %v; want still archived", info, err)
		}
	})
	t.Run("AdminRuns", func(t *testing.T) {
		e := newTestEnv(t)
		e.createUser("admin@example.com", catalog.RoleAdmin)
		adm := e.login(t, "admin@example.com")
		run := archiveTask(t, e, "access:adm")
		res := e.do(req{Method: "GET", Path: "/organizer/queues", Token: adm})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), `action="`+run+`"`) {
			t.Errorf("queues page lacks the re-run form of the archived task")
		}
		wantStatus(t, e.do(req{Method: "POST", Path: run, Token: adm}), http.StatusSeeOther)
		info, err := asynq.NewInspectorFromRedisClient(e.redis.Client).GetTaskInfo("low", "access:adm")
		if err != nil || info.State != asynq.TaskStatePending {
			t.Fatalf("task after the admin's re-run: %v, %v; want pending", info, err)
		}
	})
	t.Run("AdminIsNoOrganizer", func(t *testing.T) {
		e := newTestEnv(t)
		e.createUser("admin@example.com", catalog.RoleAdmin)
		adm := e.login(t, "admin@example.com")
		wantDenied(t, e.do(req{Method: "POST", Path: "/api/v1/fairs", Token: adm, Body: e.fairBody("admin-fair", catalog.KindTempleFair)}))
		wantPageDenied(t, e.do(req{Method: "GET", Path: "/organizer", Token: adm}))
	})
}

func TestAdminOnlyFromCLI(t *testing.T) {
	t.Run("UsersCreate", func(t *testing.T) {
		dir := t.TempDir()
		env := map[string]string{"FAIR_DATA_DIR": dir}
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		args := []string{"fair", "users", "create", "--role", "admin", "--email", "Root@Example.com", "--password", testPassword}
		if err := Run(ctx, args, envOf(env), &out); err != nil {
			t.Fatalf("users create --role admin: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "created admin root@example.com") {
			t.Errorf("output %q, want created admin root@example.com", out.String())
		}
		db, err := migrations.OpenDB("", dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var role string
		if err := db.QueryRowContext(ctx, "SELECT role FROM users WHERE email = ?", "root@example.com").Scan(&role); err != nil || role != "admin" {
			t.Errorf("stored user: role %q, %v; want admin", role, err)
		}
	})
	t.Run("RegisterRefuses", func(t *testing.T) {
		e := newTestEnv(t)
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/register",
			Body: map[string]any{"email": "sneaky@example.com", "password": testPassword, "name": "x", "role": "admin"}})
		wantField(t, res, "role")
		// Nor through the service the sign-up page uses.
		_, err := e.srv.Accounts.Register(context.Background(), account.NewUser{Email: "sneaky2@example.com", Password: testPassword, Name: "x", Role: catalog.RoleAdmin})
		var v *catalog.ValidationError
		if !errors.As(err, &v) {
			t.Fatalf("Register of an admin: %v, want a validation error", err)
		}
		if n := countUsers(t, e); n != 0 {
			t.Errorf("%d users stored, want none", n)
		}
	})
}

func TestArchivedTaskReportsGoToAdmins(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there: the welcome email cannot be sent
	e := newTestEnv(t, func(c *Config) { c.SMTPURL = "smtp://" + dead })
	org := e.createUser("ops@example.com", catalog.RoleOrganizer)
	adm := e.createUser("admin@example.com", catalog.RoleAdmin)
	e.runWorkers(fastRetries)

	e.register("unlucky@example.com", catalog.RoleShopper) // its welcome email cannot be sent
	eventually(t, 20*time.Second, func() error {
		if inboxOf(t, e, adm.ID)["task_archived"] != 1 {
			return errorf("admin not told of the archived email task")
		}
		return nil
	})
	if n := inboxOf(t, e, org.ID)["task_archived"]; n != 0 {
		t.Errorf("the organizer got %d archived-task reports, want none while there is an admin", n)
	}
}

// Sign-in limits slow a guesser without locking the owner out: an address
// is limited by its own attempts, an account only by its failures, and the
// right password from an address that is not limited always gets in.
func TestLoginLimitsSpareTheOwner(t *testing.T) {
	setup := func(t *testing.T) *testEnv {
		e := newTestEnv(t, func(c *Config) {
			c.AuthAttemptsPerMinute = 3            // so 30 failures per account per 15 minutes
			c.TrustedProxies = []string{"0.0.0.0"} // app.Test's peer; X-Forwarded-For names the client
		})
		e.createUser("owner@example.com", catalog.RoleShopper)
		return e
	}
	login := func(e *testEnv, ip, password string) response {
		return e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": "owner@example.com", "password": password},
			Header: map[string]string{"X-Forwarded-For": ip}})
	}
	const wrong = "wrong password here"

	t.Run("OwnerAfterAttack", func(t *testing.T) {
		e := setup(t)
		for i := range 12 {
			res := login(e, "10.6.0.66", wrong)
			if i < 3 {
				wantProblem(t, res, http.StatusUnauthorized, "unauthenticated")
			} else {
				wantProblem(t, res, http.StatusTooManyRequests, "rate_limited")
			}
		}
		// The owner, elsewhere, gets in.
		wantStatus(t, login(e, "10.6.0.7", testPassword), http.StatusOK)
		// The attacker is still refused, the right password included.
		res := login(e, "10.6.0.66", testPassword)
		wantProblem(t, res, http.StatusTooManyRequests, "rate_limited")
		if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After %q", ra)
		}
	})
	t.Run("DistributedBudget", func(t *testing.T) {
		e := setup(t)
		// Thirty failures, each from its own address: none of them is limited.
		for i := range 30 {
			wantProblem(t, login(e, "10.7.0."+itoa(i+1), wrong), http.StatusUnauthorized, "unauthenticated")
		}
		// The account's failure budget is spent: more guesses, from fresh
		// addresses, are refused.
		for i := range 3 {
			res := login(e, "10.7.1."+itoa(i+1), wrong)
			wantProblem(t, res, http.StatusTooManyRequests, "rate_limited")
			if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); ra < 60 || ra > 15*60 {
				t.Errorf("Retry-After %q, want the rest of 15 minutes", res.Header.Get("Retry-After"))
			}
		}
		// The owner still gets in.
		wantStatus(t, login(e, "10.7.2.1", testPassword), http.StatusOK)
	})
}

// An upload that claims a huge picture is refused from its header alone.
func TestImageUploadPixelLimit(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "pixels")
	pID := e.createProduct(t, w.merchA.Token, w.stallA, goods("兔子灯", 1250, 5))["id"].(string)
	// A PNG signature and the IHDR of an 8000×8000 RGB picture, no pixels.
	ihdr := []byte("IHDR\x00\x00\x1f\x40\x00\x00\x1f\x40\x08\x02\x00\x00\x00")
	huge := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d"), ihdr...)
	huge = binary.BigEndian.AppendUint32(huge, crc32.ChecksumIEEE(ihdr))
	wantField(t, e.catUpload(t, w.merchA.Token, pID, "huge.png", huge), "image")
	wantStatus(t, e.catUpload(t, w.merchA.Token, pID, "small.png", catPNG(t, 40, 30, false)), http.StatusCreated)
}
